"""Building the pieces a run needs from a config and a task: device, precision, optimizer, schedule,
loss, data loaders. The config comes resolved (``trainwell.config.resolved``): its LR is a number and
it was validated once, with the run's real length, before anything was built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from trainwell.config.resolved import ResolvedConfig, run_length
from trainwell.config.schema import Config
from trainwell.engine.device import resolve_device
from trainwell.engine.distributed import World, data_parallel, shard_range
from trainwell.engine.precision import PrecisionChoice, PrecisionStrategy, build_precision
from trainwell.engine.sampler import EpochBatchSampler
from trainwell.engine.scheduling import LRSchedule, build_schedule
from trainwell.engine.step import StepRunner
from trainwell.errors import ConfigError, Problem
from trainwell.optim.losses import build_loss
from trainwell.optim.optimizers import build_optimizer
from trainwell.optim.param_groups import param_groups
from trainwell.tasks.base import StateDictFiles, Task


@dataclass
class Components:
    device: torch.device
    precision: PrecisionStrategy
    precision_choice: PrecisionChoice
    model: torch.nn.Module  # the task's own module: what checkpoints save and train() returns
    forward_model: torch.nn.Module  # the same module, its torch.compile wrapper, or its DDP wrapper under torchrun
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    loss_fn: torch.nn.Module
    batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    sharded: bool = False  # distributed.strategy fsdp under torchrun: model and optimizer state sharded (engine/fsdp.py)


def check_task(config: Config, task: Task, processes: int = 1) -> None:
    problems = []
    if len(task.train_data) == 0:  # type: ignore[arg-type]
        problems.append(Problem("train_data", "must hold at least one example", 0, "check the dataset path or data.limit"))
    if task.val_data is None and config.evaluation.strategy != "no":
        problems.append(
            Problem(
                "evaluation.strategy",
                "evaluation needs validation data, and this task has none",
                config.evaluation.strategy,
                "pass val_data, or set evaluation.strategy: no, early_stopping.patience: null and checkpoint.load_best_at_end: false",
            )
        )
    sharded = processes > 1 and config.distributed.strategy == "fsdp"
    if sharded and task.val_data is not None and len(task.val_data) < processes:  # type: ignore[arg-type]
        # every rank evaluates a shard, and under FSDP each forward pass is a collective: no shard may be empty
        problems.append(
            Problem(
                "val_data",
                f"must hold at least one example per process ({processes}) under strategy: fsdp",
                len(task.val_data),  # type: ignore[arg-type]
                "use more validation data",
            )
        )
    if sharded and (task.save_final is not None or task.hold_frozen or not isinstance(task.model_files, StateDictFiles)):
        problems.append(
            Problem(
                "distributed.strategy",
                f"fsdp shards plain state-dict models in this version; task {task.name} saves its model its own way "
                "(an adapter, or the whole model in its library's format at the end), which needs the whole model in one process",
                "fsdp",
                "use strategy: ddp for this task",
            )
        )
    ConfigError.collect(problems)


def build_components(resolved: ResolvedConfig, task: Task, world: World | None = None) -> Components:
    """The run's pieces. ``resolved`` was validated once, with this run's length, when it was resolved.
    Under torchrun (``world``) the length counts global batches of ``size x world`` over the examples the
    sampler uses, and the model is wrapped in DistributedDataParallel."""
    config = resolved.config  # its optimizer.lr is the peak LR (resolved.lr): the optimizer and schedule read it there
    world = world or World()
    check_task(config, task, world.size)
    sampler = train_sampler(config, task, world)
    # ceil(used / (B*W)) == ceil(ceil(used / W) / B): run_length stays the one place the length is computed
    batches, steps_per_epoch, total = run_length(config, -(-sampler.used() // world.size))
    device = resolve_device(config.training.device)
    precision, choice = build_precision(config.training.precision, device)
    model = task.model.to(device)
    held = precision.hold_frozen(model) if task.hold_frozen else None
    if held:  # written with the precision into the run's environment record
        choice = PrecisionChoice(choice.name, f"{choice.reason}; {held}")
    sharded = world.size > 1 and config.distributed.strategy == "fsdp"
    if sharded and precision.scales_loss:  # training.precision auto on a GPU without bf16
        raise ConfigError(
            problems=[Problem("training.precision", "fp16 is not combined with fsdp in this version", choice.name, "set precision: fp32")]
        )
    if sharded:  # before the optimizer is built: it must hold the sharded parameters
        from trainwell.engine import fsdp

        fsdp.shard(model)
    optimizer = build_optimizer(config.optimizer, param_groups(model, config.optimizer))
    schedule = build_schedule(optimizer, config, total, steps_per_epoch)
    loss_fn = task_loss(config, task, device)
    forward_model: Any = torch.compile(model) if config.training.compile else model
    if world.size > 1 and not sharded:
        forward_model = data_parallel(model, device)
    return Components(
        device, precision, choice, model, forward_model, optimizer, schedule, loss_fn, batches, steps_per_epoch, total, sharded
    )


def train_sampler(config: Config, task: Task, world: World) -> EpochBatchSampler:
    """The seeded, resumable sampler; this rank's share of every global batch under torchrun."""
    return EpochBatchSampler(len(task.train_data), config.batch.size, config.seed, rank=world.rank, world=world.size)  # type: ignore[arg-type]


def task_loss(config: Config, task: Task, device: torch.device) -> Any:
    """The task's own loss when it brings one (a causal LM's masked next-token loss), else ``config.loss``."""
    if task.loss is not None:
        return task.loss
    return build_loss(config.loss, task.class_counts).to(device)


def finder_runner(
    config: Config,
    model: torch.nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    count_items: Callable[[Any], int] | None = None,
) -> tuple[StepRunner, PrecisionChoice]:
    """The training step the finders take: a synced StepRunner with the config's precision and clipping,
    over ``optimizer`` or, without one, the config's optimizer built over ``model``'s parameter groups at
    ``config.optimizer.peak`` (a finder states the LR it steps at in the config it passes). ``count_items`` is
    the task's (``Task.count_items``): a language model's step then weighs its micro-batches per supervised
    token, as training does, not per row."""
    opt = optimizer or build_optimizer(config.optimizer, param_groups(model, config.optimizer))
    precision, choice = build_precision(config.training.precision, device)
    return StepRunner(model, loss_fn, opt, precision, config.training.max_grad_norm, device, count_items=count_items), choice


def train_loader(config: Config, task: Task, sampler: EpochBatchSampler, epoch: int, device: torch.device) -> Any:
    """A loader for one epoch. Its own generator (seed + epoch) seeds workers without touching the
    global RNG, so a resumed run draws exactly the random numbers the uninterrupted run drew."""
    return torch.utils.data.DataLoader(
        task.train_data,
        batch_sampler=sampler,
        collate_fn=task.collate_fn,
        num_workers=config.data.num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(config.seed + epoch),
    )


def val_loader(config: Config, task: Task, device: torch.device, world: World | None = None) -> Any:
    """The validation loader; under torchrun this rank's contiguous shard (evaluate gathers them in order)."""
    if task.val_data is None:
        return None
    size = config.batch.eval_size or 2 * config.batch.size
    data: Any = task.val_data
    if world is not None and world.size > 1:
        data = torch.utils.data.Subset(data, list(shard_range(len(data), world)))
    return torch.utils.data.DataLoader(
        data,
        batch_size=size,
        shuffle=False,
        collate_fn=task.collate_fn,
        num_workers=config.data.num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(config.seed),
    )


def eval_rounds(loader: Any, task: Task, world: World) -> int:
    """The most validation batches any rank has: its shard holds ceil(items / ranks) items (shard_range)."""
    largest = -(-len(task.val_data) // world.size)  # type: ignore[arg-type]
    return -(-largest // loader.batch_size)  # type: ignore[no-any-return]
