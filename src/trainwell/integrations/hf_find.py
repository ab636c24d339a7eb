"""``lr_find(trainer)``: trainwell's LR range test on a Hugging Face ``Trainer`` (extra ``[hf]``).

HF declined an LR finder for its Trainer because range tests point near 1e-3 where fine-tuning a
pretrained transformer wants ~1e-5. The sweep itself is find/'s (``sweep_step``), with find/'s rules,
verdict and peak rules: fine-tuning a pretrained model (``model.name_or_path`` set by
``from_pretrained``) gets the fine-tuning peak rule.

What is the Trainer's own: the model, the training dataloader (its collator, sampler and batch size),
the optimizer ``trainer.create_optimizer()`` builds from the TrainingArguments (``optim``, betas,
weight decay and the no-decay groups) or the one passed to the Trainer, the loss (``compute_loss``),
the precision (the Accelerator's autocast and, for fp16, its loss scaler) and ``max_grad_norm``.
Afterwards weights, buffers, gradients, the optimizer's state, the loss scaler and every RNG are put
back bit for bit, and ``trainer.optimizer`` is what it was before (None when the Trainer makes its own).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from trainwell.errors import ConfigError, Problem, require
from trainwell.find.result import LRFindResult, with_peak

FEATURE = "trainwell.integrations.hf.lr_find"


class TrainerStep:
    """One optimizer step on one batch, done the way ``Trainer`` does it; the runner ``sweep_step`` drives."""

    def __init__(self, trainer: Any, optimizer: Any) -> None:
        self.trainer, self.optimizer = trainer, optimizer
        self.model = trainer.model
        self.accelerator = trainer.accelerator
        self.max_grad_norm = trainer.args.max_grad_norm

    def run(self, window: list[Any]) -> Any:
        import torch

        from trainwell.engine.batches import move_to_device
        from trainwell.engine.step import StepOutcome, status_of

        (batch,) = window
        inputs = move_to_device(batch, self.trainer.args.device)
        lr = float(self.optimizer.param_groups[0]["lr"])
        with self.accelerator.autocast():
            loss = self.trainer.compute_loss(self.model, inputs)
        self.accelerator.backward(loss)  # scales the loss first under fp16
        scaler = self.accelerator.scaler
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        if self.max_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        loss_value, norm_value = float(loss.detach()), float(norm)
        status = status_of(loss_value, norm_value, scaler is not None)
        if status == "ok":
            if scaler is not None:
                scaler.step(self.optimizer)
            else:
                self.optimizer.step()
        if scaler is not None:
            scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        items = int(inputs["input_ids"].shape[0]) if "input_ids" in inputs else 1
        return StepOutcome(status, loss_value, norm_value, items, lr)


def _batches(loader: Any) -> Iterator[Any]:
    """The Trainer's training batches, epoch after epoch (its sampler reshuffles each pass)."""
    while True:
        yield from loader


def finder_config(trainer: Any, overrides: dict[str, Any]) -> Any:
    """The trainwell Config for the Trainer's arguments, with ``lr_find.*`` overrides (steps, min_lr, ...)."""
    from trainwell.config.schema import LRFindConfig
    from trainwell.integrations.hf_config import config_from_args

    config, _ = config_from_args(trainer.args, trainer.model)
    known = {f for f in LRFindConfig.__dataclass_fields__}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(
            problems=[
                Problem("lr_find()", "keyword arguments must be lr_find settings", k, f"use one of {', '.join(sorted(known))}")
                for k in unknown
            ]
        )
    finder = replace(config.lr_find, **overrides)
    from trainwell.config.io import validate

    config = replace(config, lr_find=finder)
    ConfigError.collect([p for p in validate(config) if p.where.startswith("lr_find")])
    return config


def training_mode(model: Any, mode: str) -> str:
    """'finetune' for a model loaded with from_pretrained (it records where from), else 'scratch'."""
    if mode != "auto":
        return mode
    source = getattr(getattr(model, "config", None), "name_or_path", "") or getattr(model, "name_or_path", "")
    return "finetune" if source else "scratch"


def lr_find(trainer: Any, *, mode: str = "auto", progress: Any = None, **settings: Any) -> LRFindResult:
    """The range test on ``trainer``'s model, data, optimizer settings and precision.

    ``settings`` are ``lr_find`` fields (``steps``, ``min_lr``, ``max_lr``, ``rule``, ``smoothing``,
    ``diverge_factor``, ``mode`` is the sweep's spacing under the name ``sweep``); ``mode`` is the
    training mode (auto, scratch, finetune, frozen). Returns the same ``LRFindResult`` as
    ``trainwell lr-find``: ``suggested_lr``, ``peak_lr`` (the LR to train with, moved to the Trainer's
    schedule, mode and effective batch), every rule's pick, reliability and reasons.
    """
    require("transformers", "hf", FEATURE)
    from trainwell.find.lr_finder import sweep_step
    from trainwell.integrations.hf_config import trainer_precision

    if "sweep" in settings:
        settings["mode"] = settings.pop("sweep")
    config = finder_config(trainer, settings)
    own = trainer.optimizer  # one passed to Trainer(optimizers=...) is used and restored; else one is built
    loader = trainer.get_train_dataloader()
    scaler = trainer.accelerator.scaler
    scaler_state = scaler.state_dict() if scaler is not None else None
    trainer.model.to(trainer.args.device)

    def make_runner() -> TrainerStep:
        optimizer = own if own is not None else trainer.create_optimizer()
        return TrainerStep(trainer, optimizer)

    try:
        result = sweep_step(config, trainer.model, make_runner, _batches(loader), optimizer=own, progress=progress)
    finally:
        trainer.optimizer = own
        if scaler is not None and scaler_state is not None:
            scaler.load_state_dict(scaler_state)
    train_size = _length(trainer.train_dataset)
    result.settings = {
        **{k: getattr(config.lr_find, k) for k in ("min_lr", "max_lr", "steps", "mode", "smoothing", "diverge_factor")},
        "batch_size": config.batch.size,
        "optimizer": str(trainer.args.optim),
        "precision": trainer_precision(trainer.args)[0],
        "device": str(trainer.args.device),
        "trainer": type(trainer).__name__,
    }
    return with_peak(result, config, train_size, training_mode(trainer.model, mode))


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:  # an IterableDataset: the schedule's length then comes from max_steps alone
        return None


def apply_lr(trainer: Any, result: LRFindResult) -> float:
    """Train with the finder's peak LR: sets ``trainer.args.learning_rate`` (and, for an optimizer passed to
    the Trainer, its groups' LRs, keeping their ratios); returns it.

    Raises ConfigError when the range test found no LR (its reasons say why)."""
    lr = result.peak_lr
    if lr is None or not math.isfinite(lr):
        raise ConfigError(
            problems=[
                Problem(
                    "lr_find",
                    "found no LR to train with",
                    result.reason,
                    "look at the curve (result.lrs, result.losses) and set learning_rate yourself, e.g. 2e-5 for fine-tuning (001 §Learning Rate)",
                )
            ]
        )
    # Set in place, as HF's own hyperparameter search does (Trainer._hp_search_setup): a copy of the
    # arguments would re-run their device setup and reset the Accelerator the Trainer already holds.
    trainer.args.learning_rate = float(lr)
    if trainer.optimizer is not None:  # an optimizer passed to the Trainer does not read args.learning_rate
        top = max(float(g.get("initial_lr", g["lr"])) for g in trainer.optimizer.param_groups) or 1.0
        for group in trainer.optimizer.param_groups:
            scale = float(group.get("initial_lr", group["lr"])) / top
            group["lr"] = group["initial_lr"] = float(lr) * scale
    return float(lr)
