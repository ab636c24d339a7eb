"""trainwell inside Lightning (extra ``[lightning]``): a ``Callback`` writing a trainwell run folder, and
``lr_find`` on a ``LightningModule`` with trainwell's rules.

    from trainwell.integrations.lightning import TrainwellCallback, lr_find

    result = lr_find(module, datamodule)            # module's own training_step and configure_optimizers
    module.hparams.lr = result.peak_lr
    trainer = L.Trainer(max_epochs=5, callbacks=[TrainwellCallback(stop_on_divergence=True)])
    trainer.fit(module, datamodule)                 # -> default_root_dir/trainwell/: metrics, findings, report

The callback translates the Trainer's settings and the module's optimizer into a trainwell config,
lints them (as a LightningCLI config: the Trainer arguments, the module's hyperparameters, the optimizer)
when training starts, logs the mean training loss, the LR and the gradient norm every
``log_every_n_steps`` optimizer steps and the validation metrics after each validation, runs the live
doctor over them (findings through Lightning's logger; ``stop_on_divergence`` sets
``trainer.should_stop``), and writes summary, findings and report when training ends.

Lightning's own ``Tuner.lr_find`` suggests the steepest point of the raw curve; on the same module it
picked 0.003x-0.25x the sweep-best LR on digits and 0.15-0.37x on adult (benchmarks/integrations.py
--lightning, docs/integrations-lightning.md). ``lr_find`` here runs find/'s sweep (``sweep_step``) on the
module's ``training_step`` and first optimizer and applies trainwell's rules, verdict and peak rules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem, require
from trainwell.find.result import LRFindResult, with_peak
from trainwell.integrations.recorder import CallbackSettings

if TYPE_CHECKING:
    from trainwell.config.schema import Config

FEATURE = "trainwell.integrations.lightning"
pl = require("lightning.pytorch", "lightning", FEATURE)
log = logging.getLogger("lightning.pytorch.callbacks.trainwell")

# torch optimizer / scheduler classes -> trainwell names (the ones whose behaviour is the same).
OPTIMIZERS = {"AdamW": "adamw", "Adam": "adam", "SGD": "sgd", "RMSprop": "rmsprop", "Adafactor": "adafactor"}
SCHEDULES = {"CosineAnnealingLR": "cosine", "StepLR": "step", "MultiStepLR": "multistep", "OneCycleLR": "one_cycle",
             "ReduceLROnPlateau": "reduce_on_plateau", "ExponentialLR": "exponential", "ConstantLR": "constant"}  # fmt: skip
PRECISIONS = {"32-true": "fp32", "32": "fp32", "bf16-mixed": "bf16", "16-mixed": "fp16", "bf16-true": "bf16", "16-true": "fp16"}


def _optimizer_section(optimizer: Any, notes: list[str]) -> dict[str, Any]:
    name = OPTIMIZERS.get(type(optimizer).__name__)
    group = optimizer.param_groups[0]
    if name is None:
        notes.append(f"optimizer {type(optimizer).__name__} has no trainwell equivalent; recorded as adamw with its LR")
    section: dict[str, Any] = {"name": name or "adamw", "lr": float(group.get("initial_lr", group["lr"]))}
    section["weight_decay"] = float(group.get("weight_decay", 0.0))
    if "betas" in group:
        section["betas"] = [float(b) for b in group["betas"]]
    if "momentum" in group and name in ("sgd", "rmsprop"):
        section["momentum"] = float(group["momentum"])
    return section


def _schedule_name(trainer: Any, notes: list[str]) -> str:
    configs = getattr(trainer, "lr_scheduler_configs", None) or []
    if not configs:
        return "constant"
    cls = type(configs[0].scheduler).__name__
    if cls not in SCHEDULES:
        notes.append(f"scheduler {cls} has no trainwell equivalent; recorded as constant (the doctor's LR checks read the logged LR)")
    return SCHEDULES.get(cls, "constant")


def _monitor(trainer: Any) -> tuple[str, str, int | None]:
    """(metric, mode, patience) from the EarlyStopping / ModelCheckpoint callbacks; val_loss/min without them."""
    early = getattr(trainer, "early_stopping_callback", None)
    ckpt = getattr(trainer, "checkpoint_callback", None)
    for cb in (early, ckpt):
        if cb is not None and getattr(cb, "monitor", None):
            metric = str(cb.monitor)
            metric = metric if metric.startswith("val_") else "val_" + metric.split("_", 1)[-1] if "_" in metric else metric
            return metric, str(getattr(cb, "mode", "min")), getattr(early, "patience", None)
    return "val_loss", "min", None


def config_from_trainer(trainer: Any, module: Any) -> tuple[Config, list[str]]:
    """A trainwell Config describing a Lightning run (Trainer settings, the module's first optimizer)."""
    from trainwell.config.io import config_from_dict

    notes: list[str] = []
    optimizer = trainer.optimizers[0] if trainer.optimizers else None
    loader = getattr(trainer, "train_dataloader", None)
    metric, mode, patience = _monitor(trainer)
    interval = getattr(trainer, "val_check_interval", 1.0)
    by_steps = isinstance(interval, int) and interval > 1
    seed = os.environ.get("PL_GLOBAL_SEED")  # seed_everything() writes it
    data: dict[str, Any] = {
        "task": f"lightning:{type(module).__name__}",
        "optimizer": _optimizer_section(optimizer, notes) if optimizer is not None else {},
        "schedule": {"name": _schedule_name(trainer, notes), "warmup": 0},
        "batch": {"size": int(getattr(loader, "batch_size", None) or 1), "accumulation": int(trainer.accumulate_grad_batches)},
        "training": {
            "epochs": int(trainer.max_epochs) if trainer.max_epochs and trainer.max_epochs > 0 else 1000,
            "max_steps": int(trainer.max_steps) if trainer.max_steps and trainer.max_steps > 0 else None,
            "max_grad_norm": float(trainer.gradient_clip_val) if trainer.gradient_clip_val else None,
            "precision": PRECISIONS.get(str(trainer.precision), "fp32"),
            "device": "cpu" if module.device.type == "cpu" else module.device.type,
        },
        "evaluation": {
            "strategy": "steps" if by_steps else "epoch",
            "every": int(interval) if by_steps else int(trainer.check_val_every_n_epoch or 1),
            "metric": metric,
            "mode": mode,
        },
        "early_stopping": {"patience": patience},
        "checkpoint": {"strategy": "epoch" if trainer.checkpoint_callback else "no", "load_best_at_end": False},
        "logging": {"every": int(trainer.log_every_n_steps)},
        "output_dir": str(trainer.default_root_dir),
    }
    if seed is not None and seed.isdigit():
        data["seed"] = int(seed)
    else:
        notes.append("no seed_everything() call: the run's seed is not recorded")
    return config_from_dict(data), notes


def lint_mapping_for(trainer: Any, module: Any, config: Config) -> dict[str, Any]:
    """The run as a LightningCLI-shaped mapping, so lint reads it with its Lightning dialect."""
    hparams = {k: v for k, v in dict(getattr(module, "hparams", {}) or {}).items() if isinstance(v, (int, float, str, bool))}
    callbacks = []
    if trainer.early_stopping_callback is not None:
        es = trainer.early_stopping_callback
        callbacks.append(
            {
                "class_path": "lightning.pytorch.callbacks.EarlyStopping",
                "init_args": {"monitor": es.monitor, "mode": es.mode, "patience": es.patience},
            }
        )
    opt = config.optimizer
    trainer_args = {
        "max_epochs": trainer.max_epochs, "max_steps": trainer.max_steps, "accumulate_grad_batches": trainer.accumulate_grad_batches,
        "log_every_n_steps": trainer.log_every_n_steps, "precision": str(trainer.precision), "check_val_every_n_epoch": trainer.check_val_every_n_epoch,
        "callbacks": callbacks,
    }  # fmt: skip
    if trainer.gradient_clip_val:
        trainer_args["gradient_clip_val"] = trainer.gradient_clip_val
    optimizer = {
        "class_path": f"torch.optim.{type(trainer.optimizers[0]).__name__}",
        "init_args": {"lr": opt.lr, "weight_decay": opt.weight_decay},
    }
    out: dict[str, Any] = {"trainer": trainer_args, "model": {**hparams, "optimizer": optimizer}, "data": {"batch_size": config.batch.size}}
    if config.seed is not None and os.environ.get("PL_GLOBAL_SEED"):
        out["seed_everything"] = config.seed
    return out


class TrainwellCallback(CallbackSettings, pl.Callback):  # type: ignore[misc,name-defined]
    """A Lightning ``Callback`` writing a trainwell run folder (default ``default_root_dir/trainwell``).

    ``stop_on_divergence``: stop when the live doctor finds divergence or a non-finite loss. ``live``: run
    the doctor during training. ``lint``: lint the settings when training starts. ``mlflow``: True for
    ./mlruns, or a tracking URI. Only global rank 0 writes.
    """

    def __init__(self, run_dir: str | Path | None = None, **options: Any) -> None:
        super().__init__(run_dir, **options)
        self._loss_sum: Any = None  # summed on the device between logs: no host sync per step
        self._loss_count = 0
        self._grad_norm: float | None = None
        self._logged_step = -1

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        import lightning

        from trainwell.integrations.recorder import RunRecorder

        config, notes = config_from_trainer(trainer, pl_module)
        run_dir = self.run_dir or Path(trainer.default_root_dir) / "trainwell"
        env = {"framework": f"lightning {lightning.__version__}", "model_class": type(pl_module).__name__, "import_notes": notes}
        self.recorder = RunRecorder(run_dir, config, extra_environment=env, **self.options)
        report = None
        if self.lint:
            from trainwell.advise.lint import lint_mapping

            report = lint_mapping(lint_mapping_for(trainer, pl_module, config), "Lightning Trainer")
            for f in report.findings:
                if f.severity in ("error", "warning"):
                    self._say(f"trainwell lint: {f.rule}: {f.message}. Fix: {f.fix}")
        total = trainer.estimated_stepping_batches
        total = int(total) if total and total != float("inf") else None
        per_epoch = total / trainer.max_epochs if total and trainer.max_epochs and trainer.max_epochs > 0 else None
        self.recorder.start(
            total_steps=total, steps_per_epoch=per_epoch, device=str(pl_module.device), precision=config.training.precision, lint=report
        )

    def _say(self, line: str) -> None:
        self.findings.append(line)
        log.warning(line)

    def _log_due(self, trainer: Any) -> bool:
        every = max(int(trainer.log_every_n_steps), 1)
        return (trainer.global_step + 1) % every == 0

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.recorder is None or not self._log_due(trainer):
            return
        import torch

        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        self._grad_norm = float(torch.nn.utils.get_total_norm(grads)) if grads else None  # before clipping, like trainwell's engine

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.recorder is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            value = loss.detach()
            self._loss_sum = value if self._loss_sum is None else self._loss_sum + value
            self._loss_count += 1
        step = trainer.global_step
        every = max(int(trainer.log_every_n_steps), 1)
        if step == self._logged_step or step % every or self._loss_sum is None:
            return
        self._logged_step = step
        record = {"loss": float(self._loss_sum) / self._loss_count, "lr": trainer.optimizers[0].param_groups[0]["lr"]}
        if self._grad_norm is not None:
            record["grad_norm"] = self._grad_norm
        self._loss_sum, self._loss_count, self._grad_norm = None, 0, None
        from trainwell.integrations.recorder import train_record

        epoch = step / trainer.num_training_batches * trainer.accumulate_grad_batches if trainer.num_training_batches else None
        self._act(trainer, self.recorder.train(train_record(record, step, epoch, self.recorder.elapsed())))

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is None or trainer.sanity_checking:
            return
        from trainwell.integrations.recorder import eval_record

        metrics = {k: v.item() if hasattr(v, "item") else v for k, v in trainer.callback_metrics.items()}
        self._act(
            trainer, self.recorder.evaluate(eval_record(metrics, trainer.global_step, trainer.current_epoch, self.recorder.elapsed()))
        )

    def _act(self, trainer: Any, verdict: Any) -> None:
        for line in verdict.messages:
            self._say(line)
        if verdict.stop_reason and self.options["stop_on_divergence"] and not trainer.should_stop:
            self._say(f"trainwell: stopping training: {verdict.stop_reason}")
            trainer.should_stop = True

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is None:
            return
        stopped = self.recorder.stop_reason if self.options["stop_on_divergence"] else None
        max_steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        early = not stopped and (trainer.should_stop or (max_steps is not None and trainer.global_step < max_steps))
        status = "diverged" if stopped else "stopped" if early else "completed"
        reason = stopped or ("a callback stopped training (e.g. early stopping)" if early else None)
        self.summary = self.recorder.finish(status=status, stop_reason=reason, steps=trainer.global_step)
        self.recorder = None

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.recorder is not None:  # an interrupted or failed run still gets its summary and findings
            self.summary = self.recorder.finish(
                status="failed", stop_reason=f"{type(exception).__name__}: {exception}", steps=trainer.global_step
            )
            self.recorder = None


# --- lr_find --------------------------------------------------------------------------------------------


def first_optimizer(configured: Any) -> Any:
    """The first optimizer of anything ``configure_optimizers`` may return (an optimizer, a list, a tuple
    of lists, a dict with "optimizer", a list of such dicts)."""
    import torch

    item = configured
    while not isinstance(item, torch.optim.Optimizer):
        if isinstance(item, dict) and "optimizer" in item:
            item = item["optimizer"]
        elif isinstance(item, (list, tuple)) and item:
            item = item[0]
        else:
            raise ConfigError(
                problems=[
                    Problem(
                        "configure_optimizers()",
                        "must return an optimizer for lr_find to sweep",
                        type(configured).__name__,
                        "return a torch.optim.Optimizer (or Lightning's optimizer/scheduler forms)",
                    )
                ]
            )
    return item


class ModuleStep:
    """One optimizer step on one batch through the module's own ``training_step``."""

    def __init__(self, module: Any, optimizer: Any, precision: str, max_grad_norm: float | None) -> None:
        self.module, self.optimizer, self.max_grad_norm = module, optimizer, max_grad_norm
        self.dtype = {"bf16": "bfloat16", "fp16": "float16"}.get(PRECISIONS.get(precision, "fp32"))
        self.index = 0

    def run(self, window: list[Any]) -> Any:
        import contextlib

        import torch

        from trainwell.engine.batches import move_to_device
        from trainwell.engine.step import StepOutcome, status_of

        (batch,) = window
        batch = move_to_device(batch, self.module.device)
        lr = float(self.optimizer.param_groups[0]["lr"])
        device = self.module.device.type
        autocast = torch.autocast(device, dtype=getattr(torch, self.dtype)) if self.dtype else contextlib.nullcontext()
        with autocast:
            out = self.module.training_step(batch, self.index)
        self.index += 1
        loss = out["loss"] if isinstance(out, dict) else out
        loss.backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        norm = (
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
            if self.max_grad_norm
            else torch.nn.utils.get_total_norm([p.grad for p in params])
        )
        loss_value, norm_value = float(loss.detach()), float(norm)
        status = status_of(loss_value, norm_value, False)
        if status == "ok":
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepOutcome(status, loss_value, norm_value, 1, lr)


def _batches(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


def lr_find(
    module: Any,
    datamodule: Any = None,
    *,
    train_dataloaders: Any = None,
    config: Config | dict[str, Any] | None = None,
    mode: str = "scratch",
    precision: str = "32-true",
    gradient_clip_val: float | None = None,
    progress: Any = None,
    **settings: Any,
) -> LRFindResult:
    """The range test on ``module``'s ``training_step`` and first optimizer, over the datamodule's (or
    ``train_dataloaders``') training batches; weights, optimizer state and RNGs come back bit for bit.

    ``config``: a trainwell config (or dict) describing the planned run (schedule, warmup, epochs, early
    stopping), which moves the suggestion to the peak LR to train with; without one the run is taken as
    a constant LR and ``peak_lr`` is the suggestion. ``mode``: scratch, finetune or frozen. ``settings``:
    ``lr_find`` fields (``steps``, ``min_lr``, ``max_lr``, ``rule``, ...). Returns the ``LRFindResult`` of
    ``trainwell lr-find``.
    """
    from trainwell.config.io import load_config, validate
    from trainwell.config.schema import LRFindConfig
    from trainwell.find.lr_finder import sweep_step

    loader = train_dataloaders
    if loader is None:
        if datamodule is None:
            raise ConfigError(problems=[Problem("lr_find()", "needs training data", None, "pass a datamodule or train_dataloaders=")])
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
    unknown = sorted(set(settings) - set(LRFindConfig.__dataclass_fields__))
    if unknown:
        known = ", ".join(sorted(LRFindConfig.__dataclass_fields__))
        raise ConfigError(
            problems=[Problem("lr_find()", "keyword arguments must be lr_find settings", k, f"use one of {known}") for k in unknown]
        )
    base = load_config(
        config if config is not None else {"schedule": {"name": "constant", "warmup": 0}, "early_stopping": {"patience": None}}
    )
    optimizer = first_optimizer(module.configure_optimizers())
    name = OPTIMIZERS.get(type(optimizer).__name__, base.optimizer.name)
    size = int(getattr(loader, "batch_size", None) or base.batch.size)
    cfg = replace(
        base, lr_find=replace(base.lr_find, **settings), optimizer=replace(base.optimizer, name=name), batch=replace(base.batch, size=size)
    )
    ConfigError.collect([p for p in validate(cfg) if p.where.startswith("lr_find")])
    # The module's self.log() needs a running Trainer; during the sweep its logs go nowhere.
    module.log, module.log_dict = _no_log, _no_log
    try:
        result = sweep_step(
            cfg, module, lambda: ModuleStep(module, optimizer, precision, gradient_clip_val), _batches(loader), progress=progress
        )
    finally:
        del module.log, module.log_dict
    result.settings = {
        **{k: getattr(cfg.lr_find, k) for k in ("min_lr", "max_lr", "steps", "mode", "smoothing", "diverge_factor")},
        "batch_size": size, "optimizer": type(optimizer).__name__, "precision": precision, "device": str(module.device),
    }  # fmt: skip
    train_size = len(loader.dataset) if hasattr(getattr(loader, "dataset", None), "__len__") else None
    return with_peak(result, cfg, train_size, mode)


def _no_log(*args: Any, **kwargs: Any) -> None:
    return None


__all__ = ["TrainwellCallback", "config_from_trainer", "lr_find"]
