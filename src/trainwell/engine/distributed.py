"""Many processes through torch.distributed: the process group torchrun asks for, and the few collectives
the engine needs besides DDP's (FSDP's) own gradient reduction. A step makes none: its item count is the
sampler's, the same on every rank, and its NaN decision is read off the reduced gradients, the same on every
rank (engine/step.py). Losses are summed at log steps, signals shared every few steps, stop decisions,
evaluation outputs and every rank's RNG at log, evaluation and checkpoint steps (engine/loop.py).

A process is distributed when torchrun started it (``WORLD_SIZE``/``RANK`` in its environment). One process
without torchrun is world 1 and never touches torch.distributed, so a plain run pays nothing for this module.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from trainwell.config.schema import Config
from trainwell.errors import ConfigError, Problem, TrainingInterrupted


@dataclass(frozen=True)
class World:
    """This process's place in the job: ``rank`` of ``size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes the run folder and decides when to stop."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched() -> bool:
    """Whether torchrun (torch.distributed.run) started this process."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def world() -> World:
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return World()
    return World(torch.distributed.get_rank(), torch.distributed.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def backend_for(requested: str, device_type: str) -> str:
    """``auto``: NCCL for CUDA tensors, gloo for CPU ones (NCCL cannot reduce CPU tensors)."""
    if requested != "auto":
        return requested
    return "nccl" if device_type == "cuda" else "gloo"


def processes_problems(config: Config, size: int) -> list[Problem]:
    """A config whose batch was split over N devices (``distributed.processes``) trains with N processes:
    otherwise its effective batch, and the LR chosen for it, would not hold."""
    want = config.distributed.processes
    if want is None or want == size:
        return []
    b = config.batch
    return [
        Problem(
            "distributed.processes",
            f"this config's effective batch {b.size} x {b.accumulation} x {want} = {b.across(want)} "
            f"needs {want} processes, and this run has {size}",
            want,
            f"train with --nproc {want}, or set distributed.processes: {size} and batch values for {size}",
        )
    ]


def problems(config: Config, device_type: str) -> list[Problem]:
    """Every reason this config cannot run under torchrun."""
    d = config.distributed
    found = []
    if d.strategy == "fsdp" and config.training.precision == "fp16":
        found.append(
            Problem(
                "training.precision",
                "fp16 (its loss scaler) is not combined with fsdp's sharded gradients in this version",
                "fp16",
                "use precision: bf16 or fp32 with strategy: fsdp",
            )
        )
    if d.strategy == "fsdp":
        found += finder_problems(config)
    if backend_for(d.backend, device_type) == "nccl" and device_type != "cuda":
        found.append(Problem("distributed.backend", "nccl reduces CUDA tensors only", d.backend, "use backend: auto or gloo on CPU"))
    if config.training.compile:
        found.append(Problem("training.compile", "is not combined with DDP or FSDP in this version", True, "set training.compile: false"))
    return found


def finder_problems(config: Config) -> list[Problem]:
    """The finders run before training, on rank 0 alone, in one process holding the whole model and its
    optimizer state: under fsdp, made for a model that need not fit one device, that is not what the ranks
    train (each holds 1/N of them), so asking for them is refused rather than measured on the wrong model.
    (A ``find`` the recommender chose becomes its fallback instead: ``run/resolve.recommended``.)"""
    found = []
    if config.optimizer.lr == "find":
        found.append(
            Problem(
                "optimizer.lr",
                "the LR range test runs in one process on the whole, unsharded model, so it is not run under strategy: fsdp",
                "find",
                "run `trainwell lr-find CONFIG` where the whole model fits and set optimizer.lr to its value, or use strategy: ddp",
            )
        )
    if config.batch.auto_find:
        found.append(
            Problem(
                "batch.auto_find", BATCH_FINDER_UNDER_FSDP, True, "set batch.size yourself and batch.auto_find: false, or use strategy: ddp"
            )
        )
    return found


BATCH_FINDER_UNDER_FSDP = (
    "the batch finder measures one process holding the whole model and optimizer state; an fsdp rank "
    "holds 1/N of them, so its answer is not the per-rank batch"
)


def batch_find_problems(config: Config) -> list[Problem]:
    """`trainwell batch-find` on an fsdp config: refused for the reason ``batch.auto_find`` is under fsdp.
    (`trainwell lr-find` runs: it is what the refusal of ``lr: find`` under fsdp asks for, a sweep in one
    process where the whole model fits, at the per-process batch, its peak LR scaled to the job's batch.)"""
    if config.distributed.strategy != "fsdp":
        return []
    return [
        Problem(
            "distributed.strategy",
            BATCH_FINDER_UNDER_FSDP,
            "fsdp",
            "set batch.size yourself, or run batch-find on the config with strategy: ddp",
        )
    ]


@contextmanager
def process_group(config: Config, device_type: str) -> Iterator[World]:
    """Join the job torchrun started (when it did) for the duration of a run, and leave it after: a
    library leaves no process group behind. Outside torchrun, or when the caller already joined, it does nothing."""
    if not launched() or torch.distributed.is_initialized():
        yield world()
        return
    ConfigError.collect(problems(config, device_type))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local)  # one process per GPU: "cuda" then means this rank's GPU
    torch.distributed.init_process_group(backend_for(config.distributed.backend, device_type))
    finished = False
    try:
        yield world()
        finished = True
    except TrainingInterrupted:
        # An orderly stop: SIGINT/SIGTERM reached some rank, the loop's next signal check told every rank
        # (engine/loop.py), and each raises this after the same step and its checkpoint. Every rank waits below for rank 0 to finish
        # the run folder (summary, report): torchrun SIGTERMs the ranks still running as soon as one exits.
        finished = True
        raise
    finally:
        # The run's DDP/FSDP wrappers go now, while the group they hold is alive: left to a reference cycle they
        # would be freed at interpreter exit, after the group is gone. With torch 2.13 on gloo a plain DDP script
        # that keeps its wrapper past destroy_process_group aborted at exit in 1 of 25 runs here, as did
        # benchmarks/ddp.py's plain loop twice in 26 jobs ("terminate called without an active exception").
        gc.collect()
        if finished:
            # No rank leaves while another still has a collective in flight (gloo works FSDP queues but
            # waits for later): a rank tearing its group down under a peer's pending work made that peer
            # abort at exit ("terminate called without an active exception", seen once in CI on a resumed
            # FSDP run). gloo's barrier also waits for this rank's own queued work. Not after a failure:
            # a rank that failed never arrives, and torchrun stops the others.
            barrier()
        torch.distributed.destroy_process_group()


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums over every rank (float64: item counts stay exact)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return [float(v) for v in t.tolist()]


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; for decisions and small records, not tensors per step)."""
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    out: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def barrier() -> None:
    torch.distributed.barrier()


def shard_range(n: int, w: World) -> range:
    """The contiguous part of ``range(n)`` rank ``w.rank`` evaluates: in rank order they cover it exactly
    once (no padding, no repeated item), so gathered outputs equal one process's."""
    return range(w.rank * n // w.size, (w.rank + 1) * n // w.size)


@contextmanager
def gradient_sync(model: Any, sync: bool) -> Iterator[None]:
    """Whether the backward passes inside reduce the gradients over the ranks: DDP's ``no_sync`` when not,
    FSDP's ``set_requires_gradient_sync`` (engine/fsdp.py) likewise; a plain module has nothing to reduce."""
    if sync or (not hasattr(model, "no_sync") and not hasattr(model, "set_requires_gradient_sync")):
        yield
    elif hasattr(model, "no_sync"):
        with model.no_sync():
            yield
    else:
        model.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)


def full_value(value: torch.Tensor) -> torch.Tensor:
    """A reduction over sharded tensors (FSDP's DTensor, e.g. a gradient norm) as a plain tensor, the same on
    every rank; any other tensor as it is."""
    full = getattr(value, "full_tensor", None)
    return full() if full is not None else value  # type: ignore[no-any-return]


def data_parallel(model: torch.nn.Module, device: torch.device) -> torch.nn.parallel.DistributedDataParallel:
    """``model`` in DistributedDataParallel. Gradients live in DDP's all-reduce buckets rather than beside
    them: no second copy of them, so a rank needs what the batch finder's one-process probe measured."""
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True)
