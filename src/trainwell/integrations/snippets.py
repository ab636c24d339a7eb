"""A recommendation as ready-to-paste framework code: ``trainwell recommend --format hf-args | lightning``.

Each value the recommender set carries its reason as a comment (``# why — source``); values no rule set
are listed after them as trainwell's defaults. The HF snippet is ``advise.hf.to_hf``'s keyword arguments
(the same translation ``trainwell export --to hf`` writes); the Lightning one is a ``Trainer(...)`` plus a
``configure_optimizers`` with the optimizer, the no-decay parameter groups and the schedule, the schedule
being trainwell's own pure function of the step (``trainwell.optim.schedules``) through ``LambdaLR``, so the
LR follows exactly the curve ``trainwell schedule`` prints.

Nothing here imports torch, transformers or lightning: ``recommend`` stays a sub-second command.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from trainwell.config.schema import Config

# HF TrainingArguments key -> the trainwell field whose reason explains it (beyond the 1:1 SCALARS).
_HF_FIELDS = {
    "optim": "optimizer.name", "optim_args": "optimizer.momentum", "adam_beta1": "optimizer.betas", "adam_beta2": "optimizer.betas",
    "lr_scheduler_type": "schedule.name", "lr_scheduler_kwargs": "schedule.min_lr_ratio", "warmup_steps": "schedule.warmup",
    "warmup_ratio": "schedule.warmup", "bf16": "training.precision", "fp16": "training.precision", "use_cpu": "training.device",
    "eval_steps": "evaluation.every", "save_steps": "checkpoint.every", "save_total_limit": "checkpoint.keep",
    "metric_for_best_model": "evaluation.metric", "greater_is_better": "evaluation.mode", "per_device_eval_batch_size": "batch.eval_size",
}  # fmt: skip
PRECISION_TO_LIGHTNING = {"bf16": "bf16-mixed", "fp16": "16-mixed", "fp32": "32-true", "auto": "32-true"}
OPTIMIZER_CLASS = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adafactor": "Adafactor"}


def _reasons(rec: Any) -> dict[str, Any]:
    return {r.field: r for r in rec.reasons}


def _comment(reason: Any, pad: str) -> str:
    return f"{pad}# {reason.why} — {reason.source}"


def _arg_lines(items: list[tuple[str, Any, Any]], pad: str) -> list[str]:
    """``name=value,`` lines: those with a reason first (each under its comment), then the defaults."""
    reasoned = [(k, v, r) for k, v, r in items if r is not None]
    plain = [(k, v, r) for k, v, r in items if r is None]
    lines: list[str] = []
    last = None
    for key, value, reason in reasoned:
        if reason is not last:  # one comment for a run of values one rule set (bf16 and fp16, eval and save)
            lines.append(_comment(reason, pad))
        lines.append(f"{pad}{key}={value!r},")
        last = reason
    if plain:
        lines.append(f"{pad}# trainwell's defaults (no rule needed to change them):")
        lines += [f"{pad}{key}={value!r}," for key, value, _ in plain]
    return lines


def _header(rec: Any, what: str) -> list[str]:
    import dataclasses

    lines = [f"# trainwell recommend --format {what}: ready to paste; each commented value was set by a rule (why — source)."]
    if rec.profile is not None:
        facts = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(rec.profile).items() if v is not None)
        lines.append(f"# profile: {facts}")
    return lines


def hf_args(rec: Any) -> str:
    """``TrainingArguments(...)`` (and an EarlyStoppingCallback when patience is set) for a Recommendation."""
    from trainwell.advise.hf import SCALARS, to_hf

    config: Config = rec.config
    conversion = to_hf(config)
    reasons = _reasons(rec)
    fields = {hf: path for path, hf, _, _ in SCALARS} | _HF_FIELDS
    items = [(k, v, reasons.get(fields.get(k, ""))) for k, v in conversion.data.items()]
    lines = [*_header(rec, "hf-args"), "from transformers import TrainingArguments", ""]
    lines += ["args = TrainingArguments(", *_arg_lines(items, "    "), ")"]
    if config.early_stopping.patience is not None:
        es = config.early_stopping
        lines += ["", "from transformers import EarlyStoppingCallback", ""]
        if "early_stopping.patience" in reasons:
            lines.append(_comment(reasons["early_stopping.patience"], ""))
        lines.append(f"callbacks = [EarlyStoppingCallback(early_stopping_patience={es.patience}, early_stopping_threshold={es.threshold})]")
        lines.append("# Trainer(model=model, args=args, train_dataset=..., eval_dataset=..., callbacks=callbacks)")
    lines += [f"# note: {n}" for n in conversion.notes if not n.startswith("early stopping:")]  # the callback is above
    return "\n".join(lines) + "\n"


def _trainer_items(config: Config, reasons: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    t, ev = config.training, config.evaluation
    items: list[tuple[str, Any, Any]] = [
        ("max_epochs", t.epochs, reasons.get("training.epochs")),
        ("accumulate_grad_batches", config.batch.accumulation, reasons.get("batch.accumulation")),
        ("gradient_clip_val", t.max_grad_norm, reasons.get("training.max_grad_norm")),
        ("precision", PRECISION_TO_LIGHTNING[t.precision], reasons.get("training.precision")),
        ("log_every_n_steps", config.logging.every, reasons.get("logging.every")),
        ("deterministic", t.deterministic, reasons.get("training.deterministic")),
    ]
    if t.max_steps is not None:
        items.insert(1, ("max_steps", t.max_steps, reasons.get("training.max_steps")))
    if ev.strategy == "steps":
        items.append(("val_check_interval", ev.every, reasons.get("evaluation.every")))
        items.append(("check_val_every_n_epoch", None, None))
    elif ev.strategy == "epoch":
        items.append(("check_val_every_n_epoch", ev.every, reasons.get("evaluation.every")))
    else:
        items.append(("limit_val_batches", 0, reasons.get("evaluation.strategy")))
    return items


def _callbacks(config: Config, reasons: dict[str, Any]) -> list[str]:
    ev, es, ck = config.evaluation, config.early_stopping, config.checkpoint
    lines = []
    if es.patience is not None and ev.strategy != "no":
        if "early_stopping.patience" in reasons:
            lines.append(_comment(reasons["early_stopping.patience"], "    "))
        lines.append(f"    EarlyStopping(monitor={ev.metric!r}, mode={ev.mode!r}, patience={es.patience}, min_delta={es.threshold}),")
    if ck.strategy != "no" and ev.strategy != "no":
        if "checkpoint.keep" in reasons:
            lines.append(_comment(reasons["checkpoint.keep"], "    "))
        lines.append(f"    ModelCheckpoint(monitor={ev.metric!r}, mode={ev.mode!r}, save_top_k={ck.keep}, save_last=True),")
    return lines


def _optimizer_lines(config: Config, reasons: dict[str, Any]) -> list[str]:
    opt = config.optimizer
    cls = OPTIMIZER_CLASS.get(opt.name)
    if cls is None:
        from trainwell.errors import ConfigError, Problem

        raise ConfigError(problems=[Problem("optimizer.name", "must be a torch.optim optimizer for the Lightning snippet", opt.name,
                                            f"use one of {', '.join(OPTIMIZER_CLASS)}")])  # fmt: skip
    pad = "        "
    kwargs: list[tuple[str, Any, Any]] = [("lr", opt.lr, reasons.get("optimizer.lr"))]
    if opt.name in ("adamw", "adam"):
        kwargs += [("betas", tuple(opt.betas), reasons.get("optimizer.betas")), ("eps", opt.eps, reasons.get("optimizer.eps"))]
    if opt.name in ("sgd", "rmsprop"):
        kwargs.append(("momentum", opt.momentum, reasons.get("optimizer.momentum")))
    if opt.name == "sgd" and opt.nesterov:
        kwargs.append(("nesterov", True, reasons.get("optimizer.nesterov")))
    lines = [
        f"{pad}# No weight decay on {', '.join(opt.no_decay)} parameters (optimizer.no_decay; 001 §Weight Decay).",
        f"{pad}no_decay = {tuple(opt.no_decay)!r}",
        f"{pad}named = [(n, p) for n, p in self.named_parameters() if p.requires_grad]",
        f"{pad}groups = [",
    ]
    if "optimizer.weight_decay" in reasons:
        lines.append(_comment(reasons["optimizer.weight_decay"], pad + "    "))
    lines += [
        f'{pad}    {{"params": [p for n, p in named if p.ndim > 1 and not any(k in n.lower() for k in no_decay)], "weight_decay": {opt.weight_decay!r}}},',
        f'{pad}    {{"params": [p for n, p in named if p.ndim <= 1 or any(k in n.lower() for k in no_decay)], "weight_decay": 0.0}},',
        f"{pad}]",
    ]
    if "optimizer.name" in reasons:
        lines.append(_comment(reasons["optimizer.name"], pad))
    lines.append(f"{pad}optimizer = torch.optim.{cls}(")
    lines += _arg_lines(kwargs, pad + "    ")
    lines.append(f"{pad}    params=groups,")
    lines.append(f"{pad})")
    return lines


def _schedule_lines(config: Config, reasons: dict[str, Any]) -> list[str]:
    from trainwell.optim.schedules import METRIC_DRIVEN, SCHEDULES, schedule_kwargs

    s = config.schedule
    pad = "        "
    lines = [_comment(reasons["schedule.name"], pad)] if "schedule.name" in reasons else []
    if s.name in METRIC_DRIVEN:
        lines += [
            f"{pad}scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode={config.evaluation.mode!r}, "
            f"factor={s.plateau_factor}, patience={s.plateau_patience}, min_lr={s.min_lr})",
            f'{pad}return {{"optimizer": optimizer, "lr_scheduler": {{"scheduler": scheduler, "monitor": {config.evaluation.metric!r}}}}}',
        ]
        return lines
    fn: Callable[..., float] = SCHEDULES.get(s.name, "schedule.name")
    accepted = set(inspect.signature(inspect.unwrap(fn)).parameters) - {"step", "total_steps", "warmup_steps", "kw"}
    kw = {k: v for k, v in schedule_kwargs(s, 1, config.optimizer.peak).items() if k in accepted and k != "steps_per_epoch"}
    if "steps_per_epoch" in accepted:
        kw_text = ", ".join([*(f"{k}={v!r}" for k, v in kw.items()), "steps_per_epoch=per_epoch"])
    else:
        kw_text = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    warm = "schedule.warmup"
    lines.append(f"{pad}total = int(self.trainer.estimated_stepping_batches)")
    if "steps_per_epoch" in accepted:  # the epoch-based schedules (step, multistep, exponential)
        lines.append(f"{pad}per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))")
    if warm in reasons and reasons[warm] is not reasons.get("schedule.name"):
        lines.append(_comment(reasons[warm], pad))
    warmup = f"round({s.warmup} * total)" if 0 < s.warmup < 1 else str(int(s.warmup))
    lines += [
        f"{pad}warmup = {warmup}",
        f"{pad}# trainwell's {s.name} schedule, a pure function of the step (the curve `trainwell schedule` prints)",
        f"{pad}multiplier = SCHEDULES.get({s.name!r})",
        f"{pad}scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: multiplier(step, total, warmup{', ' + kw_text if kw_text else ''}))",
        f'{pad}return {{"optimizer": optimizer, "lr_scheduler": {{"scheduler": scheduler, "interval": "step"}}}}',
    ]
    return lines


def lightning(rec: Any) -> str:
    """``Trainer(...)`` with callbacks, and the module's ``configure_optimizers``, for a Recommendation."""
    config: Config = rec.config
    reasons = _reasons(rec)
    lines = [
        *_header(rec, "lightning"),
        "import lightning as L",
        "import torch",
        "from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint",
        "",
    ]
    lines += ["from trainwell.optim.schedules import SCHEDULES", ""]
    if "seed" in reasons:
        lines.append(_comment(reasons["seed"], ""))
    lines += [f"L.seed_everything({config.seed})", "", "trainer = L.Trainer(", *_arg_lines(_trainer_items(config, reasons), "    ")]
    callbacks = _callbacks(config, reasons)
    if callbacks:
        lines += ["    callbacks=[", *[f"    {c}" for c in callbacks], "    ],"]
    lines += [")", ""]
    if "batch.size" in reasons:
        lines.append(_comment(reasons["batch.size"], ""))
    lines += [f"# DataLoader(train_dataset, batch_size={config.batch.size}, shuffle=True)", ""]
    lines += ["class Module(L.LightningModule):  # your LightningModule: add this method", "    def configure_optimizers(self):"]
    lines += _optimizer_lines(config, reasons) + _schedule_lines(config, reasons)
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Any], str]] = {"hf-args": hf_args, "lightning": lightning}
