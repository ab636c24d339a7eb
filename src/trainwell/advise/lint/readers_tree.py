"""Readers for nested dialects that name components by class path: torchtune (``_component_``),
LightningCLI (``class_path`` / ``init_args``) and Hydra (``_target_``), plus trainwell's own configs
(validated with the config's own rules, then mapped onto the neutral view).
"""

from __future__ import annotations

from typing import Any

from trainwell.advise.lint.readers import (
    DIALECTS,
    Dialect,
    Table,
    apply_table,
    model_hints_from_keys,
    precision_name,
    read_optimizer_name,
    unknown_keys,
)
from trainwell.advise.lint.search_space import read_search_space
from trainwell.advise.lint.view import ConfigView, describe_model, flag, integer, positive_integer, scheduler_name
from trainwell.config.paths import get_path
from trainwell.findings import Finding, Severity
from trainwell.values import to_float


def _has_key(data: Any, key: str) -> bool:
    if isinstance(data, dict):
        return key in data or any(_has_key(v, key) for v in data.values())
    if isinstance(data, list):
        return any(_has_key(v, key) for v in data)
    return False


# --- torchtune -----------------------------------------------------------------------------------------

TORCHTUNE_TABLE: Table = (
    ("lr", ("optimizer.lr",), to_float),
    ("weight_decay", ("optimizer.weight_decay",), to_float),
    ("warmup_steps", ("lr_scheduler.num_warmup_steps",), integer),
    ("batch_size", ("batch_size",), integer),
    ("accumulation", ("gradient_accumulation_steps",), integer),
    ("epochs", ("epochs",), to_float),
    ("save_total_limit", ("checkpointer.keep_last_n_checkpoints",), integer),
    ("logging_steps", ("log_every_n_steps",), to_float),
    ("eval_every", ("run_val_every_n_steps",), to_float),
    ("precision", ("dtype",), precision_name),
)
TORCHTUNE_FIELDS = frozenset(
    """output_dir model tokenizer dataset dataset_val seed shuffle checkpointer resume_from_checkpoint
    save_adapter_weights_only batch_size batch_size_val epochs optimizer lr_scheduler loss max_steps_per_epoch
    gradient_accumulation_steps optimizer_in_bwd clip_grad_norm compile device dtype enable_activation_checkpointing
    enable_activation_offloading metric_logger log_every_n_steps log_peak_memory_stats log_level profiler
    run_val_every_n_steps custom_sharded_layers fsdp_cpu_offload""".split()
)


def _detect_torchtune(data: dict[str, Any]) -> int:
    return 95 if _has_key(data, "_component_") else 0


def _read_torchtune(view: ConfigView) -> None:
    data = view.raw
    component = get_path(data, "model._component_")
    if isinstance(component, str):
        describe_model(view, component, "model._component_")
        leaf = component.rsplit(".", 1)[-1]
        view.set(
            "training_mode", "qlora" if leaf.startswith("qlora_") else "lora" if leaf.startswith("lora_") else "full", "model._component_"
        )
        view.set("pretrained", "checkpointer" in data, "checkpointer")
    apply_table(view, data, TORCHTUNE_TABLE)
    read_optimizer_name(view, get_path(data, "optimizer._component_"), "optimizer._component_")
    sched = get_path(data, "lr_scheduler._component_")
    if isinstance(sched, str):
        view.set("scheduler", scheduler_name(sched), "lr_scheduler._component_")
    elif "lr_scheduler" not in data:
        # No scheduler in a torchtune recipe means a constant LR from the first step.
        view.set("scheduler", "constant", "lr_scheduler (torchtune default: none)")
        view.set("warmup_steps", 0, "lr_scheduler (torchtune default: none)")
    if "clip_grad_norm" in data:
        view.set("max_grad_norm", to_float(data["clip_grad_norm"]), "clip_grad_norm")
    if "seed" in data:
        view.set("seed", integer(data["seed"]), "seed")
    # torchtune recipes save a checkpoint at the end of every epoch and validate only when asked to.
    view.set("save_strategy", "epoch", "checkpointer (torchtune default: saves each epoch)")
    view.set("save_every", 1.0, "checkpointer (torchtune default: saves each epoch)")
    view.set(
        "eval_strategy",
        "steps" if view.eval_every else "no",
        "run_val_every_n_steps" + ("" if view.eval_every else " (torchtune default: no validation)"),
    )
    view.unknown = unknown_keys(data, TORCHTUNE_FIELDS)


DIALECTS.register("torchtune", Dialect("torchtune", "torchtune recipe config", _detect_torchtune, _read_torchtune))

# --- Lightning (LightningCLI configs and Trainer argument files) -----------------------------------------

LIGHTNING_TRAINER_FIELDS = frozenset(
    """accelerator strategy devices num_nodes precision logger callbacks fast_dev_run max_epochs min_epochs max_steps
    min_steps max_time limit_train_batches limit_val_batches limit_test_batches limit_predict_batches overfit_batches
    val_check_interval check_val_every_n_epoch num_sanity_val_steps log_every_n_steps enable_checkpointing
    enable_progress_bar enable_model_summary accumulate_grad_batches gradient_clip_val gradient_clip_algorithm
    deterministic benchmark inference_mode use_distributed_sampler profiler detect_anomaly barebones plugins
    sync_batchnorm reload_dataloaders_every_n_epochs default_root_dir model_registry _target_""".split()
)
# Trainer arguments removed in Lightning 2.0: a config that still has them was written for 1.x.
LIGHTNING_1X_FIELDS = frozenset(
    """gpus tpu_cores ipus auto_select_gpus num_processes process_position checkpoint_callback log_gpu_memory
    progress_bar_refresh_rate track_grad_norm flush_logs_every_n_steps weights_summary weights_save_path
    truncated_bptt_steps resume_from_checkpoint reload_dataloaders_every_epoch auto_lr_find replace_sampler_ddp
    terminate_on_nan auto_scale_batch_size prepare_data_per_node amp_backend amp_level distributed_backend
    move_metrics_to_cpu multiple_trainloader_mode stochastic_weight_avg""".split()
)
LIGHTNING_TABLE: Table = (
    ("epochs", ("max_epochs",), to_float),
    ("max_steps", ("max_steps",), positive_integer),
    ("accumulation", ("accumulate_grad_batches",), integer),
    ("logging_steps", ("log_every_n_steps",), to_float),
    ("precision", ("precision",), precision_name),
)


def _read_callbacks(view: ConfigView, callbacks: Any, prefix: str) -> None:
    """ModelCheckpoint and EarlyStopping: monitor, mode, save_top_k and patience (Lightning default mode 'min')."""
    items = callbacks if isinstance(callbacks, list) else list(callbacks.values()) if isinstance(callbacks, dict) else []
    for i, cb in enumerate(items):
        if not isinstance(cb, dict):
            continue
        cls = str(cb.get("class_path") or cb.get("_target_") or "")
        args = cb.get("init_args", cb)
        where = f"{prefix}[{i}]" if isinstance(callbacks, list) else prefix
        if cls.endswith(("ModelCheckpoint", "EarlyStopping")) and isinstance(args, dict):
            if isinstance(args.get("monitor"), str):
                view.set("metric", args["monitor"], f"{where}.monitor")
                view.set(
                    "mode", str(args.get("mode", "min")), f"{where}.mode" if "mode" in args else f"{where}.mode (Lightning default: min)"
                )
        if cls.endswith("ModelCheckpoint") and isinstance(args, dict):
            top_k = integer(args.get("save_top_k", 1))
            view.set("save_total_limit", top_k if top_k is not None and top_k >= 0 else None, f"{where}.save_top_k")
            view.set("save_strategy", "epoch", f"{where} (saves after validation)")
        if cls.endswith("EarlyStopping") and isinstance(args, dict):
            view.set("patience", integer(args.get("patience", 3)), f"{where}.patience")


def read_lightning_trainer(view: ConfigView, trainer: dict[str, Any], prefix: str) -> None:
    """Lightning Trainer arguments; Lightning does not clip unless gradient_clip_val is set."""
    apply_table(view, trainer, LIGHTNING_TABLE, prefix)
    clip = to_float(trainer.get("gradient_clip_val"))
    view.set("max_grad_norm", clip, f"{prefix}gradient_clip_val" + ("" if "gradient_clip_val" in trainer else " (Lightning default: None)"))
    every = integer(trainer.get("check_val_every_n_epoch", 1)) or 1
    interval = trainer.get("val_check_interval")
    if isinstance(interval, int) and not isinstance(interval, bool) and interval > 1:
        view.set("eval_strategy", "steps", f"{prefix}val_check_interval")
        view.set("eval_every", float(interval), f"{prefix}val_check_interval")
    else:
        view.set("eval_strategy", "epoch", f"{prefix}check_val_every_n_epoch")
        view.set("eval_every", float(every), f"{prefix}check_val_every_n_epoch")
    _read_callbacks(view, trainer.get("callbacks"), f"{prefix}callbacks")
    old = [f"{prefix}{k}" for k in trainer if k in LIGHTNING_1X_FIELDS]
    if old:
        view.notes.append(Finding(rule="lightning-1x-keys", severity=Severity.INFO,
                                  message=f"{len(old)} Trainer argument(s) from Lightning 1.x that Lightning 2.x rejects: "
                                  + ", ".join(old[:8]) + ("..." if len(old) > 8 else ""), where=prefix.rstrip("."), value=old,
                                  fix="pin the Lightning version this config was written for, or port it (gpus -> devices, amp_backend -> precision)",
                                  source="Lightning 2.0 release notes (removed Trainer arguments)"))  # fmt: skip
    view.unknown += unknown_keys(trainer, LIGHTNING_TRAINER_FIELDS | LIGHTNING_1X_FIELDS, prefix)


MODEL_TABLE: Table = (
    ("lr", ("lr", "learning_rate", "optimizer.lr", "optimizer.init_args.lr"), to_float),
    ("weight_decay", ("weight_decay", "optimizer.weight_decay", "optimizer.init_args.weight_decay"), to_float),
    ("warmup_steps", ("warmup_steps", "num_warmup_steps"), integer),
    ("batch_size", ("batch_size", "train_batch_size"), integer),
)


def read_module_section(view: ConfigView, section: dict[str, Any], prefix: str) -> None:
    """A LightningModule's or DataModule's arguments: the LR, decay, optimizer and scheduler classes."""
    used = apply_table(view, section, MODEL_TABLE, prefix)
    for key in ("optimizer", "scheduler", "lr_scheduler"):
        sub = section.get(key)
        if not isinstance(sub, dict):
            continue
        used.add(key)
        cls = sub.get("_target_") or sub.get("class_path")
        if isinstance(cls, str) and key == "optimizer":
            read_optimizer_name(view, cls, f"{prefix}{key}._target_")
        elif isinstance(cls, str):
            view.set("scheduler", scheduler_name(cls), f"{prefix}{key}._target_")
    for key in ("net", "model", "backbone", "encoder"):
        if isinstance(section.get(key), dict):  # the architecture: read for its kind, sizes are not lint's business
            model_hints_from_keys(view, section[key], f"{prefix}{key}")
            used.add(key)
    model_hints_from_keys(view, section, prefix.rstrip("."))
    ignored = ("_target_", "_partial_", "class_path", "compile")
    view.unknown += [f"{prefix}{k}" for k in section if k not in used and k not in ignored]


def _detect_lightning(data: dict[str, Any]) -> int:
    if isinstance(data.get("trainer"), dict) and ("seed_everything" in data or "model" in data or "data" in data):
        return 80
    return 0


def _read_lightning(view: ConfigView) -> None:
    data = view.raw
    seed = data.get("seed_everything", True)  # LightningCLI's default: True draws a random seed
    view.set("seed", seed if isinstance(seed, int) and not isinstance(seed, bool) else None, "seed_everything")
    read_lightning_trainer(view, data["trainer"], "trainer.")
    for section in ("model", "data"):
        if isinstance(data.get(section), dict):
            read_module_section(view, data[section], f"{section}.")
    for key in ("optimizer", "lr_scheduler"):  # LightningCLI's top-level optimizer / scheduler entries
        if isinstance(data.get(key), dict):
            read_module_section(view, {key: data[key]}, "")
    view.unknown += unknown_keys(data, {"seed_everything", "trainer", "model", "data", "optimizer", "lr_scheduler", "ckpt_path"})


DIALECTS.register("lightning", Dialect("lightning", "LightningCLI config", _detect_lightning, _read_lightning))

# --- Hydra (lightning-hydra-template style) -------------------------------------------------------------


def _detect_hydra(data: dict[str, Any]) -> int:
    return 95 if isinstance(data.get("defaults"), list) or _has_key(data, "_target_") else 0


def _read_hydra(view: ConfigView) -> None:
    """A Hydra file is one piece of a composition: read what it sets, and mark the view partial."""
    data = view.raw
    view.partial = True
    target = str(data.get("_target_", ""))
    if target.endswith("Trainer"):
        read_lightning_trainer(view, {k: v for k, v in data.items() if k != "_target_"}, "")
        return
    if "optimizer" in data or "net" in data or target.endswith("Module"):
        read_module_section(view, data, "")
        return
    if isinstance(data.get("seed"), int):
        view.set("seed", data["seed"], "seed")
    if isinstance(data.get("trainer"), dict):
        trainer = data["trainer"]
        apply_table(view, trainer, LIGHTNING_TABLE, "trainer.")
        if "gradient_clip_val" in trainer:
            view.set("max_grad_norm", to_float(trainer["gradient_clip_val"]), "trainer.gradient_clip_val")
        view.unknown += unknown_keys(trainer, LIGHTNING_TRAINER_FIELDS, "trainer.")
    if isinstance(data.get("callbacks"), dict):
        _read_callbacks(view, data["callbacks"], "callbacks")
    for section in ("model", "data"):
        if isinstance(data.get(section), dict):
            read_module_section(view, data[section], f"{section}.")
    view.search_space = read_search_space(data)
    if view.search_space:
        view.sources["search_space"] = "hydra.sweeper"
    view.unknown += unknown_keys(
        data,
        {
            "defaults",
            "seed",
            "trainer",
            "model",
            "data",
            "callbacks",
            "task_name",
            "tags",
            "logger",
            "paths",
            "extras",
            "hydra",
            "optimized_metric",
        },
    )


DIALECTS.register("hydra", Dialect("hydra", "Hydra config (one piece of a composition)", _detect_hydra, _read_hydra))

# --- trainwell Config -> view ---------------------------------------------------------------------------


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)  # `model:` is a dict of task options
    return obj


def view_from_config(view: ConfigView, config: Any) -> None:
    """Map a (possibly invalid) trainwell Config; values of the wrong type stay unknown."""
    from trainwell.tasks.catalog import TASKS

    pairs = {
        "lr": "optimizer.lr", "weight_decay": "optimizer.weight_decay", "scheduler": "schedule.name",
        "batch_size": "batch.size", "accumulation": "batch.accumulation", "epochs": "training.epochs",
        "max_steps": "training.max_steps", "precision": "training.precision", "eval_strategy": "evaluation.strategy",
        "eval_every": "evaluation.every", "save_strategy": "checkpoint.strategy", "save_every": "checkpoint.every",
        "save_total_limit": "checkpoint.keep", "load_best": "checkpoint.load_best_at_end", "metric": "evaluation.metric",
        "mode": "evaluation.mode", "patience": "early_stopping.patience", "seed": "seed", "logging_steps": "logging.every",
        "max_grad_norm": "training.max_grad_norm",
    }  # fmt: skip
    for fact, path in pairs.items():
        value = _attr(config, path)
        expected = (int, float, str, bool, type(None))
        if isinstance(value, expected) and not (fact == "lr" and isinstance(value, str)):
            view.set(fact, value, path)
    name = _attr(config, "optimizer.name")
    if isinstance(name, str):
        read_optimizer_name(view, name, "optimizer.name")
    warmup = to_float(_attr(config, "schedule.warmup"))
    if warmup is not None:
        view.set("warmup_ratio" if warmup < 1 else "warmup_steps", warmup if warmup < 1 else int(warmup), "schedule.warmup")
    task = _attr(config, "task")
    if isinstance(task, str) and task in TASKS:
        facts = TASKS.get(task).facts
        view.set("model_kind", facts.model, "task")
        view.set("pretrained", facts.mode != "scratch", "task")
        view.set("training_mode", "frozen" if facts.mode == "frozen" else "full", "task")
    if flag(_attr(config, "model.freeze_backbone")):
        view.set("training_mode", "frozen", "model.freeze_backbone")


# --- trainwell's own configs ----------------------------------------------------------------------


def _detect_trainwell(data: dict[str, Any]) -> int:
    import dataclasses

    from trainwell.config.schema import Config

    names = {f.name for f in dataclasses.fields(Config)}
    sections = {"optimizer", "schedule", "batch", "training", "evaluation", "checkpoint", "early_stopping", "loss", "lr_find"}
    # Mostly trainwell keys (a typo or two must still read as trainwell, so validation can name them).
    if not data or sum(k in names for k in data) < 0.6 * len(data):
        return 0
    if sum(isinstance(data.get(s), dict) for s in sections) >= 1 and (set(data) <= names or len(data) >= 3):
        return 90
    return 20 if set(data) <= names else 0


def _read_trainwell(view: ConfigView) -> None:
    """Validate with trainwell's own rules first (each problem is an error finding), then map."""
    from trainwell.config.io import validate
    from trainwell.config.schema import Config
    from trainwell.config.structure import from_dict
    from trainwell.errors import Problem

    problems: list[Problem] = []
    config = from_dict(Config, dict(view.raw), "", problems)
    problems.extend(validate(config))
    for p in problems:
        view.notes.append(
            Finding(
                rule="trainwell-config",
                severity=Severity.ERROR,
                message=p.rule,
                where=p.where,
                value=p.value,
                fix=p.fix,
                source="trainwell config schema",
            )
        )
    view_from_config(view, config)


DIALECTS.register("trainwell", Dialect("trainwell", "trainwell config", _detect_trainwell, _read_trainwell))
