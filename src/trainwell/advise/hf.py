"""HF TrainingArguments <-> trainwell config, both directions, with notes for what does not carry over.

``to_hf(config)`` returns keyword arguments ``transformers.TrainingArguments(**kwargs)`` accepts;
``hf_import.from_hf(mapping)`` reads a ``training_args.json`` or a TRL / alignment-handbook YAML (their keys are
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
from trainwell.optim.schedules import SCHEDULE_TO_HF

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
# HF's own defaults for the keys import and lint read, so an absent key means what it means to HF.
HF_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-5, "weight_decay": 0.0, "warmup_steps": 0, "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8,
    "num_train_epochs": 3.0, "max_steps": -1, "max_grad_norm": 1.0, "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1, "auto_find_batch_size": False, "eval_strategy": "no", "save_strategy": "steps",
    "save_steps": 500, "save_total_limit": None, "load_best_model_at_end": False, "logging_steps": 500, "seed": 42,
    "label_smoothing_factor": 0.0, "dataloader_num_workers": 0, "full_determinism": False, "torch_compile": False,
    "lr_scheduler_type": "linear", "optim": "adamw_torch", "bf16": False, "fp16": False, "output_dir": "trainer_output",
}  # fmt: skip


def _get(config: Any, path: str) -> Any:
    for part in path.split("."):
        config = getattr(config, part)
    return config


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
    if config.task == "causal-lm":
        out.update(sft_to_trl(config))
    notes.extend(_unexported(config))
    return Conversion(out, notes)


# TRL's SFTConfig and ModelConfig (the keys alignment-handbook recipes use) <-> the causal-lm task's options.
LORA_TO_TRL = (("lora_r", "lora_r"), ("lora_alpha", "lora_alpha"), ("lora_dropout", "lora_dropout"))


def sft_to_trl(config: Config) -> dict[str, Any]:
    """TRL SFTConfig fields (max_length, packing, completion_only_loss) and ModelConfig's model and peft
    LoraConfig fields (model_name_or_path, use_peft, lora_r, lora_alpha, lora_dropout, lora_target_modules)."""
    from trainwell.tasks.catalog import data_options, model_options

    model, options = model_options(config), data_options(config)
    out: dict[str, Any] = {
        "model_name_or_path": model.get("name_or_path"),
        "max_length": int(options["max_length"] or 512),  # causal-lm's own default, short of the model's limit
        "packing": bool(options["packing"]),
        "completion_only_loss": not options["train_on_inputs"],
        "use_peft": model.get("adapter") == "lora",
    }
    if out["use_peft"]:
        out.update({trl: model[ours] for ours, trl in LORA_TO_TRL})
        targets = model.get("lora_target_modules", "auto")
        if targets != "auto":  # auto: TRL/peft pick the family's modules, as trainwell does
            out["lora_target_modules"] = targets
    return out


def sft_from_trl(args: dict[str, Any]) -> dict[str, Any] | None:
    """The causal-lm task's config sections from TRL keys, or None when the file names no model to fine-tune."""
    if not args.get("model_name_or_path"):
        return None
    model: dict[str, Any] = {"name_or_path": str(args["model_name_or_path"]), "adapter": "lora" if args.get("use_peft") else "none"}
    if args.get("use_peft"):
        model.update({ours: args[trl] for ours, trl in LORA_TO_TRL if args.get(trl) is not None})
        if args.get("lora_target_modules"):
            targets = args["lora_target_modules"]
            model["lora_target_modules"] = targets if targets == "all-linear" else [targets] if isinstance(targets, str) else list(targets)
    length = args.get("max_length", args.get("max_seq_length"))
    options = {"max_length": int(length)} if length else {}
    if args.get("packing"):
        options["packing"] = True
    if args.get("completion_only_loss") is False:
        options["train_on_inputs"] = True
    return {"task": "causal-lm", "model": model, "data": {"options": options}}


def _unexported(config: Config) -> list[str]:
    """Non-default trainwell settings TrainingArguments has no field for."""
    default = Config()
    sft = config.task == "causal-lm"  # its task and model go out as TRL fields
    paths = (
        *(() if sft else ("task", "model")),
        "data.path",
        "loss.name",
        "loss.class_weights",
        "training.nan_policy",
        "training.threads",
        "optimizer.no_decay",
    )
    return [f"{p}={_get(config, p)!r} has no TrainingArguments field; not exported" for p in paths if _get(config, p) != _get(default, p)]


# HF -> trainwell: ``trainwell.advise.hf_import.from_hf``, which builds on the tables above.

__all__ = ["HF_DEFAULTS", "SCALARS", "Conversion", "installed_hf_major", "sft_from_trl", "sft_to_trl", "to_hf"]
