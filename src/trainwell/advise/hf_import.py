"""HF TrainingArguments -> trainwell: the import side of ``trainwell.advise.hf`` (see its docstring).

Keys the file leaves out take HF's defaults, HF's own rules apply (greater_is_better from the metric
name, warmup_steps over warmup_ratio), and a value of the wrong type becomes a Problem, not a traceback.
"""

from __future__ import annotations

import re
from typing import Any

from trainwell.advise.hf import HF_DEFAULTS, SCALARS, Conversion, sft_from_trl
from trainwell.config.paths import set_path
from trainwell.errors import ConfigError, Problem
from trainwell.optim.schedules import SCHEDULE_FROM_HF, SCHEDULE_TO_HF

# The task of an imported HF run (not a TRL SFT file, which is the causal-lm task): the HF callback names the model's
# class in its place (integrations/hf_config.py).
UNNAMED_TASK = "hf:model"


def _hf_value(args: dict[str, Any], key: str) -> Any:
    value = args.get(key)
    return HF_DEFAULTS.get(key) if value is None else _enum_text(value)


def _enum_text(value: Any) -> Any:
    """Older dumps write enums as 'IntervalStrategy.STEPS' or 'SchedulerType.COSINE'; HF's value is 'steps'/'cosine'."""
    if isinstance(value, str) and re.fullmatch(r"[A-Z][A-Za-z]+\.[A-Z0-9_]+", value):
        return value.split(".", 1)[1].lower()
    return value


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
            _enum_text(
                args.get(strat_key) or args.get("evaluation_strategy" if section == "evaluation" else strat_key) or HF_DEFAULTS[strat_key]
            )
        )
        if strategy == "best":
            notes.append("save_strategy 'best' is imported as saving at every evaluation")
            strategy = str(out.get("evaluation", {}).get("strategy", "no"))
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
            "per_device_eval_batch_size", "evaluation_strategy", "pure_bf16", "model_name_or_path", "max_length", "max_seq_length",
            "packing", "completion_only_loss", "use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules"}  # fmt: skip
    left = [k for k in args if k not in read and not k.startswith("_")]  # "_n_gpu" and co. are HF internals in dumps
    hf = sorted(k for k in left if k in HF_FIELDS | TRL_FIELDS)
    other = sorted(k for k in left if k not in HF_FIELDS | TRL_FIELDS)
    notes = [f"HF/TRL keys with no trainwell field, not imported: {', '.join(hf)}"] if hf else []
    return notes + ([f"unknown keys (not TrainingArguments fields), not imported: {', '.join(other)}"] if other else [])


def _scalars_from_hf(args: dict[str, Any], out: dict[str, Any], notes: list[str], problems: list[Problem]) -> None:
    for path, hf, _, convert in SCALARS:
        if path.startswith(("evaluation.", "checkpoint.")):
            continue  # read with their cadences
        try:
            set_path(out, path, convert(_hf_value(args, hf)))
        except (TypeError, ValueError, ArithmeticError):
            problems.append(Problem(hf, "must be a value of TrainingArguments' type", args.get(hf), "see the TrainingArguments docs"))
    epochs = args.get("num_train_epochs")
    if isinstance(epochs, (int, float)) and not isinstance(epochs, bool) and not float(epochs).is_integer():
        notes.append(
            f"num_train_epochs={epochs} rounded up to {out['training'].get('epochs')}: trainwell counts whole epochs (use max_steps for a fraction)"
        )


def _runtime_from_hf(args: dict[str, Any], out: dict[str, Any], notes: list[str], problems: list[Problem]) -> None:
    """Precision, device and the evaluation batch."""
    # LLaMA-Factory's pure_bf16 trains in bf16 without fp32 master weights; trainwell's bf16 autocast is the nearest.
    bf16 = args.get("bf16") or args.get("pure_bf16")
    out["training"]["precision"] = "bf16" if bf16 else "fp16" if args.get("fp16") else "fp32"
    if args.get("pure_bf16"):
        notes.append("pure_bf16 (LLaMA-Factory) is imported as precision bf16 (autocast, fp32 weights)")
    if args.get("use_cpu") or args.get("no_cuda"):
        out["training"]["device"] = "cpu"
    if args.get("per_device_eval_batch_size") is not None:
        out["batch"]["eval_size"] = int(args["per_device_eval_batch_size"])


def _check_is_hf(args: dict[str, Any]) -> None:
    """Refuse a file that is not HF's: every key HF leaves out would silently take HF's default, so a trainwell
    config (or anything else) would come out as HF's defaults with a note, not as what the file says."""
    from trainwell.advise.lint.readers_flat import HF_FIELDS, TRL_FIELDS
    from trainwell.advise.lint.runner import detect

    dialect = detect(args)
    if dialect.name == "hf" or (dialect.name not in ("trainwell",) and any(k in HF_FIELDS | TRL_FIELDS for k in args)):
        return
    keys = ", ".join(sorted(map(str, args))[:6]) or "none"
    fix = (
        "it is a trainwell config already: use it as it is (`trainwell config validate FILE`, `trainwell train FILE`)"
        if dialect.name == "trainwell"
        else "pass an HF training_args.json or a TRL / alignment-handbook / LLaMA-Factory YAML"
    )
    raise ConfigError(problems=[Problem("import", "the file must hold HF TrainingArguments keys", f"{dialect.title} (keys: {keys})", fix)])


def from_hf(args: dict[str, Any], task: str = UNNAMED_TASK) -> Conversion:
    """A validated trainwell config dict from HF TrainingArguments keys; raises ConfigError listing every problem.
    ``task`` names the run's task when the file names none (the HF callback knows the model's class)."""
    from trainwell.config.io import config_from_dict
    from trainwell.config.structure import to_dict

    _check_is_hf(args)
    out: dict[str, Any] = {"training": {}, "batch": {}}
    notes: list[str] = []
    problems: list[Problem] = []
    for step in (_scalars_from_hf, _optimizer_from_hf, _schedule_from_hf, _cadence_from_hf, _runtime_from_hf):
        try:
            step(args, out, notes, problems)
        except (TypeError, ValueError, ArithmeticError) as exc:  # a value of the wrong type: a user mistake, reported, never a traceback
            where = step.__name__.strip("_").replace("_from_hf", "")
            problems.append(Problem(where, "values must have TrainingArguments' types", str(exc), "see the TrainingArguments docs"))
    ConfigError.collect(problems)
    sft = sft_from_trl(args)  # a TRL SFT file names its model: the causal-lm task with its adapter
    if sft is not None:
        out.update(task=sft["task"], model=sft["model"])
        out.setdefault("data", {})["options"] = sft["data"]["options"]
        notes.append("model_name_or_path and the TRL/peft fields became the causal-lm task; set data.path to a JSONL file")
    else:
        # The file trains an HF model on data it does not name: no built-in task (whose metric names trainwell owns and
        # checks: tasks.catalog.metric_problems) is that run, and `metric_for_best_model: f1` is the HF run's own name.
        out["task"] = task
        notes.append(
            f"the file names no task: task is {task} (the HF model's); to train this config with trainwell, set task to "
            "your 'pkg.module:function' (docs/tasks.md) or a built-in task whose metrics evaluation.metric names"
        )
    notes.extend(_leftovers(args))
    return Conversion(to_dict(config_from_dict(out)), notes)
