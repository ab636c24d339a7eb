"""HF TrainingArguments <-> trainwell config, both directions, with notes for what does not carry over.

``to_hf(config)`` returns keyword arguments ``transformers.TrainingArguments(**kwargs)`` accepts;
``from_hf(mapping)`` reads a ``training_args.json`` or a TRL / alignment-handbook YAML (their keys are
HF keys). Keys HF leaves out get HF's defaults on import, so the imported config trains as the HF
one would (no warmup, linear decay, weight decay 0, no evaluation), not with trainwell's defaults.

Every field both sides have round-trips unchanged; anything else becomes a note, and a setting HF
cannot express at all (a schedule or optimizer it lacks) is a ConfigError rather than a silent swap.
Nothing here imports torch or transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainwell.config.schema import Config
from trainwell.errors import ConfigError, Problem

SOURCE = "HF TrainingArguments docs"


@dataclass
class Conversion:
    """The converted mapping and one note per thing that did not carry over exactly."""

    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _same(v: Any) -> Any:
    return v


# (trainwell dotted path, HF key, to_hf, from_hf): the fields that map one to one.
SCALARS: tuple[tuple[str, str, Callable[[Any], Any], Callable[[Any], Any]], ...] = (
    ("optimizer.lr", "learning_rate", float, float),
    ("optimizer.weight_decay", "weight_decay", float, float),
    ("optimizer.eps", "adam_epsilon", float, float),
    ("training.epochs", "num_train_epochs", float, lambda v: int(-(-float(v) // 1))),
    ("training.max_steps", "max_steps", lambda v: -1 if v is None else int(v), lambda v: None if int(v) <= 0 else int(v)),
    ("training.max_grad_norm", "max_grad_norm", lambda v: 0.0 if v is None else float(v), lambda v: None if not v else float(v)),
    ("batch.size", "per_device_train_batch_size", int, int),
    ("batch.accumulation", "gradient_accumulation_steps", int, int),
    ("batch.auto_find", "auto_find_batch_size", bool, bool),
    ("evaluation.strategy", "eval_strategy", str, str),
    ("checkpoint.strategy", "save_strategy", str, str),
    ("checkpoint.load_best_at_end", "load_best_model_at_end", bool, bool),
    ("logging.every", "logging_steps", int, int),
    ("seed", "seed", int, int),
    ("loss.label_smoothing", "label_smoothing_factor", float, float),
    ("data.num_workers", "dataloader_num_workers", int, int),
    ("training.deterministic", "full_determinism", bool, bool),
    ("training.compile", "torch_compile", bool, bool),
    ("output_dir", "output_dir", str, str),
)
# HF's own defaults for the keys import reads, so an absent key means what it means to HF.
HF_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-5, "weight_decay": 0.0, "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8,
    "num_train_epochs": 3.0, "max_steps": -1, "max_grad_norm": 1.0, "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1, "auto_find_batch_size": False, "eval_strategy": "no", "save_strategy": "steps",
    "save_steps": 500, "save_total_limit": None, "load_best_model_at_end": False, "logging_steps": 500, "seed": 42,
    "label_smoothing_factor": 0.0, "dataloader_num_workers": 0, "full_determinism": False, "torch_compile": False,
    "lr_scheduler_type": "linear", "optim": "adamw_torch", "bf16": False, "fp16": False, "output_dir": "trainer_output",
}  # fmt: skip
# trainwell schedule <-> HF lr_scheduler_type where the curves are the same (see optim/schedules.py).
SCHEDULE_TO_HF = {
    "constant": "constant", "constant_with_warmup": "constant_with_warmup", "linear": "linear", "cosine": "cosine",
    "cosine_with_restarts": "cosine_with_restarts", "polynomial": "polynomial", "inverse_sqrt": "inverse_sqrt",
    "reduce_on_plateau": "reduce_lr_on_plateau", "warmup_stable_decay": "warmup_stable_decay",
}  # fmt: skip
SCHEDULE_FROM_HF = {hf: ours for ours, hf in SCHEDULE_TO_HF.items()} | {
    "cosine_with_min_lr": "cosine",
    "cosine_warmup_with_min_lr": "cosine",
}


def _get(config: Any, path: str) -> Any:
    for part in path.split("."):
        config = getattr(config, part)
    return config


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


def installed_hf_major() -> int:
    """The installed transformers major version (read from package metadata, no import); 5 when absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("transformers").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 5


# --- trainwell -> HF ------------------------------------------------------------------------------------


def _optimizer_to_hf(config: Config, out: dict[str, Any], notes: list[str], problems: list[Problem]) -> None:
    opt = config.optimizer
    out["adam_beta1"], out["adam_beta2"] = float(opt.betas[0]), float(opt.betas[1])
    if opt.name == "adamw" or (opt.name == "adam" and opt.weight_decay == 0):
        out["optim"] = "adamw_torch_fused" if opt.fused else "adamw_torch"
        if opt.name == "adam":
            notes.append("optimizer adam with weight_decay 0 is exported as adamw_torch (identical without decay)")
    elif opt.name == "sgd":
        out["optim"], out["optim_args"] = "sgd", f"momentum={opt.momentum},nesterov={opt.nesterov}"
    elif opt.name == "rmsprop":
        out["optim"], out["optim_args"] = "rmsprop", f"momentum={opt.momentum},eps={opt.eps}"
    elif opt.name == "adafactor":
        out["optim"] = "adafactor"
        notes.append("adafactor: HF uses transformers.Adafactor (relative_step=False), trainwell uses torch.optim.Adafactor")
    elif opt.name == "lion":
        out["optim"] = "lion_32bit"
        notes.append("lion is exported as HF lion_32bit, which needs bitsandbytes")
    else:
        fix = "use adamw (decoupled decay), or set weight_decay: 0" if opt.name == "adam" else "use adamw, sgd, rmsprop, adafactor or lion"
        problems.append(Problem("optimizer.name", "must be an optimizer HF Trainer has", opt.name, fix))
    if opt.kwargs or opt.param_groups:
        notes.append("optimizer.kwargs and optimizer.param_groups are not exported (pass a custom optimizer to Trainer)")


def _schedule_kwargs(config: Config, notes: list[str], problems: list[Problem]) -> tuple[str, dict[str, Any]]:
    s = config.schedule
    kw: dict[str, Any] = {}
    name = s.name
    if name == "cosine" and s.min_lr_ratio > 0:
        name, kw["min_lr_rate"] = "cosine_with_min_lr", s.min_lr_ratio
    if s.name in ("cosine", "cosine_with_restarts") and s.cycles is not None:
        kw["num_cycles"] = s.cycles
    if s.name == "polynomial":
        kw.update(power=s.power, lr_end=s.lr_end)
    if s.name == "reduce_on_plateau":
        kw.update(factor=s.plateau_factor, patience=s.plateau_patience, min_lr=s.min_lr)
    if s.name == "warmup_stable_decay":
        if config.training.max_steps is None:
            problems.append(
                Problem(
                    "schedule.name", "warmup_stable_decay needs a step count for HF's num_decay_steps", s.name, "set training.max_steps"
                )
            )
        else:
            kw.update(
                num_decay_steps=round(s.decay_ratio * config.training.max_steps), decay_type=s.decay_type, min_lr_ratio=s.min_lr_ratio
            )
    if s.name in ("linear", "cosine_with_restarts") and s.min_lr_ratio > 0:
        notes.append(f"schedule.min_lr_ratio={s.min_lr_ratio} is not exported: HF's {s.name} decays to 0")
    if s.name not in SCHEDULE_TO_HF:
        problems.append(Problem("schedule.name", "must be a schedule HF Trainer has", s.name, f"use one of {', '.join(SCHEDULE_TO_HF)}"))
        return "linear", {}
    return SCHEDULE_TO_HF[name] if name in SCHEDULE_TO_HF else name, kw


def _cadence_to_hf(config: Config, out: dict[str, Any], notes: list[str]) -> None:
    for section, steps_key in (("evaluation", "eval_steps"), ("checkpoint", "save_steps")):
        strategy, every = _get(config, f"{section}.strategy"), _get(config, f"{section}.every")
        if strategy == "epoch" and every != 1:
            notes.append(f"{section}.every={every} epochs: HF's 'epoch' strategy runs every epoch")
        if strategy != "epoch":
            out[steps_key] = int(every)
    out["save_total_limit"] = config.checkpoint.keep
    metric = config.evaluation.metric
    out["metric_for_best_model"] = "eval_" + metric[4:] if metric.startswith("val_") else metric
    out["greater_is_better"] = config.evaluation.mode == "max"
    if config.early_stopping.patience is not None:
        notes.append(
            f"early stopping: add transformers.EarlyStoppingCallback(early_stopping_patience={config.early_stopping.patience}, "
            f"early_stopping_threshold={config.early_stopping.threshold}) to the Trainer's callbacks"
        )


def to_hf(config: Config, hf_major: int | None = None) -> Conversion:
    """TrainingArguments keyword arguments for ``config``; raises ConfigError for what HF cannot run."""
    if config.optimizer.lr == "find":
        raise ConfigError(
            problems=[Problem("optimizer.lr", "must be a number to export", "find", "run `trainwell lr-find` and set the LR it suggests")]
        )
    major = hf_major or installed_hf_major()
    out: dict[str, Any] = {hf: convert(_get(config, path)) for path, hf, convert, _ in SCALARS}
    notes: list[str] = []
    problems: list[Problem] = []
    _optimizer_to_hf(config, out, notes, problems)
    out["lr_scheduler_type"], kwargs = _schedule_kwargs(config, notes, problems)
    if kwargs:
        out["lr_scheduler_kwargs"] = kwargs
    warmup = config.schedule.warmup
    if 0 < warmup < 1 and major < 5:  # transformers 5 folded warmup_ratio into a fractional warmup_steps
        out["warmup_ratio"] = warmup
    else:
        out["warmup_steps"] = warmup if 0 < warmup < 1 else int(warmup)
    precision = config.training.precision
    out["bf16"], out["fp16"] = precision == "bf16", precision == "fp16"
    if precision == "auto":
        notes.append("training.precision auto has no HF equivalent: exported as fp32; set bf16: true on Ampere or newer GPUs")
    if config.training.device == "cpu":
        out["use_cpu"] = True
    if config.batch.eval_size is not None:
        out["per_device_eval_batch_size"] = config.batch.eval_size
    _cadence_to_hf(config, out, notes)
    ConfigError.collect(problems)
    notes.extend(_unexported(config))
    return Conversion(out, notes)


def _unexported(config: Config) -> list[str]:
    """Non-default trainwell settings TrainingArguments has no field for."""
    default = Config()
    paths = (
        "task",
        "data.path",
        "model",
        "loss.name",
        "loss.class_weights",
        "training.nan_policy",
        "training.threads",
        "optimizer.no_decay",
    )
    return [f"{p}={_get(config, p)!r} has no TrainingArguments field; not exported" for p in paths if _get(config, p) != _get(default, p)]


# --- HF -> trainwell ------------------------------------------------------------------------------------


def _hf_value(args: dict[str, Any], key: str) -> Any:
    value = args.get(key)
    return HF_DEFAULTS.get(key) if value is None else value


def _metric_from_hf(name: str) -> str:
    """'eval_accuracy' / 'accuracy' -> 'val_accuracy' (HF prefixes 'eval_' itself when it is missing)."""
    base = name[5:] if name.startswith("eval_") else name
    return base if base.startswith("val_") else f"val_{base}"


def _optim_args(text: Any) -> dict[str, str]:
    pairs = [p.split("=", 1) for p in str(text or "").split(",") if "=" in p]
    return {k.strip(): v.strip() for k, v in pairs}


def _optimizer_from_hf(args: dict[str, Any], out: dict[str, Any], notes: list[str], problems: list[Problem]) -> None:
    from trainwell.advise.lint.view import optimizer_family

    name = str(_hf_value(args, "optim"))
    family = optimizer_family(name)
    if family not in ("adamw", "sgd", "rmsprop", "adafactor", "lion"):
        problems.append(
            Problem("optim", "must be an optimizer trainwell has", name, "use adamw_torch, sgd, rmsprop, adafactor or lion_32bit")
        )
        return
    opt: dict[str, Any] = {"name": family, "betas": [float(_hf_value(args, "adam_beta1")), float(_hf_value(args, "adam_beta2"))]}
    if name == "adamw_torch_fused":
        opt["fused"] = True
    elif name not in ("adamw_torch", "adamw_hf", "sgd", "rmsprop", "adafactor", "lion_32bit"):
        notes.append(f"optim {name} is imported as {family}; its own features (8-bit or paged state, projections) do not carry over")
    extra = _optim_args(args.get("optim_args"))
    if family in ("sgd", "rmsprop"):
        opt["momentum"] = float(extra.pop("momentum", 0.0))  # HF builds torch SGD/RMSprop, whose momentum defaults to 0
    if family == "sgd":
        opt["nesterov"] = extra.pop("nesterov", "false").lower() in ("true", "1", "yes")
    if "eps" in extra:
        opt["eps"] = float(extra.pop("eps"))
    if extra:
        notes.append(f"optim_args {sorted(extra)} not imported")
    out.setdefault("optimizer", {}).update(opt)


def _schedule_from_hf(args: dict[str, Any], out: dict[str, Any], notes: list[str], problems: list[Problem]) -> None:
    name = str(_hf_value(args, "lr_scheduler_type"))
    if name not in SCHEDULE_FROM_HF:
        problems.append(
            Problem("lr_scheduler_type", "must be a schedule trainwell has", name, f"use one of {', '.join(SCHEDULE_TO_HF.values())}")
        )
        return
    sched: dict[str, Any] = {"name": SCHEDULE_FROM_HF[name]}
    sched.update(_schedule_kwargs_from_hf(args, name, notes, problems))
    sched["warmup"] = _warmup_from_hf(args, notes)
    if sched["name"] == "reduce_on_plateau" and sched["warmup"]:
        notes.append("reduce_lr_on_plateau runs without warmup in trainwell; warmup dropped")
        sched["warmup"] = 0.0
    out["schedule"] = sched


def _schedule_kwargs_from_hf(args: dict[str, Any], name: str, notes: list[str], problems: list[Problem]) -> dict[str, Any]:
    """lr_scheduler_kwargs (a dict, or a JSON string on the command line) as ScheduleConfig fields."""
    import json

    kwargs = args.get("lr_scheduler_kwargs") or {}
    kwargs = dict(json.loads(kwargs) if isinstance(kwargs, str) else kwargs)
    sched: dict[str, Any] = {}
    renames = {"min_lr_rate": "min_lr_ratio", "num_cycles": "cycles", "power": "power", "lr_end": "lr_end", "factor": "plateau_factor",
               "patience": "plateau_patience", "decay_type": "decay_type", "min_lr_ratio": "min_lr_ratio"}  # fmt: skip
    for key in list(kwargs):
        if key in renames:
            sched[renames[key]] = kwargs.pop(key)
    if "min_lr" in kwargs:  # absolute floor: a plateau floor, or a cosine floor that trainwell keeps as a ratio of the peak
        min_lr = float(kwargs.pop("min_lr"))
        sched["min_lr" if name == "reduce_lr_on_plateau" else "min_lr_ratio"] = (
            min_lr if name == "reduce_lr_on_plateau" else min_lr / float(_hf_value(args, "learning_rate"))
        )
    if "num_decay_steps" in kwargs:
        steps = int(_hf_value(args, "max_steps"))
        if steps > 0:
            sched["decay_ratio"] = int(kwargs.pop("num_decay_steps")) / steps
        else:
            problems.append(
                Problem(
                    "lr_scheduler_kwargs.num_decay_steps",
                    "needs max_steps to become trainwell's decay_ratio",
                    kwargs["num_decay_steps"],
                    "set max_steps",
                )
            )
    if kwargs:
        notes.append(f"lr_scheduler_kwargs {sorted(kwargs)} not imported")
    return sched


def _warmup_from_hf(args: dict[str, Any], notes: list[str]) -> float:
    """HF 5: warmup_steps < 1 is a ratio; HF 4: warmup_ratio, overridden by warmup_steps > 0."""
    steps, ratio = float(args.get("warmup_steps") or 0), float(args.get("warmup_ratio") or 0)
    if steps >= 1:
        if ratio:
            notes.append(f"warmup_ratio={ratio} ignored: warmup_steps={steps:g} wins, as in HF")
        return float(int(steps))
    return steps if steps > 0 else ratio


def _cadence_from_hf(args: dict[str, Any], out: dict[str, Any], notes: list[str], problems: list[Problem]) -> None:
    logging = float(_hf_value(args, "logging_steps"))
    for section, strat_key, steps_key in (("evaluation", "eval_strategy", "eval_steps"), ("checkpoint", "save_strategy", "save_steps")):
        strategy = str(
            args.get(strat_key) or args.get("evaluation_strategy" if section == "evaluation" else strat_key) or HF_DEFAULTS[strat_key]
        )
        if strategy == "best":
            notes.append("save_strategy 'best' is imported as saving at every evaluation")
            strategy = str(out["evaluation"]["strategy"])
        raw = args.get(steps_key)
        every = logging if raw is None and section == "evaluation" else float(_hf_value(args, steps_key) or 500)
        if 0 < every < 1:
            notes.append(f"{steps_key}={every} is a fraction of training in HF; trainwell needs a step count, so the default is kept")
            every = 500.0
        out[section] = {"strategy": strategy, "every": 1 if strategy == "epoch" else int(every)}
    limit = args.get("save_total_limit")
    if limit is None:
        notes.append("save_total_limit unset: HF keeps every checkpoint; trainwell keeps checkpoint.keep (3) plus the best and the latest")
    else:
        out["checkpoint"]["keep"] = int(limit)
    load_best = bool(_hf_value(args, "load_best_model_at_end"))
    out["checkpoint"]["load_best_at_end"] = load_best
    metric = args.get("metric_for_best_model") or ("loss" if load_best else None)
    if metric:
        better = args.get("greater_is_better")
        better = (not str(metric).endswith("loss")) if better is None else bool(better)  # HF's own default rule
        out["evaluation"].update(metric=_metric_from_hf(str(metric)), mode="max" if better else "min")
    patience = args.get("early_stopping_patience")
    out["early_stopping"] = {
        "patience": None if patience is None else int(patience),
        "threshold": float(args.get("early_stopping_threshold") or 0.0),
    }


def _leftovers(args: dict[str, Any]) -> list[str]:
    from trainwell.advise.lint.readers_flat import HF_FIELDS, TRL_FIELDS

    read = {hf for _, hf, _, _ in SCALARS} | {"adam_beta1", "adam_beta2", "optim", "optim_args", "lr_scheduler_type", "lr_scheduler_kwargs",
            "warmup_steps", "warmup_ratio", "bf16", "fp16", "use_cpu", "no_cuda", "eval_steps", "save_steps", "save_total_limit",
            "metric_for_best_model", "greater_is_better", "early_stopping_patience", "early_stopping_threshold",
            "per_device_eval_batch_size", "evaluation_strategy"}  # fmt: skip
    left = [k for k in args if k not in read and not k.startswith("_")]  # "_n_gpu" and co. are HF internals in dumps
    hf = sorted(k for k in left if k in HF_FIELDS | TRL_FIELDS)
    other = sorted(k for k in left if k not in HF_FIELDS | TRL_FIELDS)
    notes = [f"HF/TRL keys with no trainwell field, not imported: {', '.join(hf)}"] if hf else []
    return notes + ([f"unknown keys (not TrainingArguments fields), not imported: {', '.join(other)}"] if other else [])


def from_hf(args: dict[str, Any]) -> Conversion:
    """A validated trainwell config dict from HF TrainingArguments keys; raises ConfigError listing every problem."""
    from trainwell.config.io import config_from_dict
    from trainwell.config.structure import to_dict

    out: dict[str, Any] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    for path, hf, _, convert in SCALARS:
        if path.startswith(("evaluation.", "checkpoint.")):
            continue  # read with their cadences below
        try:
            _put(out, path, convert(_hf_value(args, hf)))
        except (TypeError, ValueError):
            problems.append(Problem(hf, "must be a value of TrainingArguments' type", args.get(hf), "see the TrainingArguments docs"))
    epochs = args.get("num_train_epochs")
    if epochs is not None and isinstance(epochs, (int, float)) and not float(epochs).is_integer():
        notes.append(
            f"num_train_epochs={epochs} rounded up to {out['training']['epochs']}: trainwell counts whole epochs (use max_steps for a fraction)"
        )
    for step in (_optimizer_from_hf, _schedule_from_hf, _cadence_from_hf):
        try:
            step(args, out, notes, problems)
        except (TypeError, ValueError) as exc:  # a value of the wrong type: a user mistake, reported, never a traceback
            problems.append(
                Problem(
                    step.__name__.strip("_").replace("_from_hf", ""),
                    "values must have TrainingArguments' types",
                    str(exc),
                    "see the TrainingArguments docs",
                )
            )
    out["training"]["precision"] = "bf16" if args.get("bf16") else "fp16" if args.get("fp16") else "fp32"
    if args.get("use_cpu") or args.get("no_cuda"):
        out["training"]["device"] = "cpu"
    if args.get("per_device_eval_batch_size") is not None:
        out["batch"]["eval_size"] = int(args["per_device_eval_batch_size"])
    ConfigError.collect(problems)
    notes.extend(_leftovers(args))
    return Conversion(to_dict(config_from_dict(out)), notes)


__all__ = ["HF_DEFAULTS", "SCALARS", "Conversion", "from_hf", "installed_hf_major", "to_hf"]
