"""HF TrainingArguments interop: both round trips keep every field both sides have; what does not
carry over is a note or a ConfigError, never a silent change or a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from trainwell.advise.hf import HF_DEFAULTS, SCHEDULE_TO_HF, to_hf
from trainwell.advise.hf_import import from_hf
from trainwell.cli.main import main
from trainwell.config import load_config, to_dict
from trainwell.errors import ConfigError

# The real configs whose keys are HF TrainingArguments keys (TRL / alignment-handbook, LLaMA-Factory).
HF_FILES = [
    "huggingface__alignment-handbook__recipes__smollm2__sft__config.yaml",
    "huggingface__alignment-handbook__recipes__zephyr-7b-beta__sft__config_full.yaml",
    "huggingface__alignment-handbook__recipes__zephyr-7b-beta__sft__config_qlora.yaml",
    "hiyouga__LLaMA-Factory__examples__extras__galore__llama3_full_sft.yaml",
    "hiyouga__LLaMA-Factory__examples__train_full__qwen3_full_sft.yaml",
    "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_dpo.yaml",
    "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_sft.yaml",
]
# HF keys trainwell also has: the HF -> trainwell -> HF round trip must give these back unchanged.
SHARED_HF = (
    "learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "num_train_epochs", "max_steps", "max_grad_norm",
    "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps", "eval_strategy", "eval_steps",
    "save_strategy", "save_steps", "save_total_limit", "load_best_model_at_end", "metric_for_best_model", "greater_is_better",
    "logging_steps", "seed", "bf16", "fp16", "lr_scheduler_type", "optim", "label_smoothing_factor", "output_dir",
)  # fmt: skip
# trainwell fields HF also has (the rest, such as task or loss.name, have no TrainingArguments field).
SHARED_TW = (
    "seed", "output_dir", "optimizer.name", "optimizer.lr", "optimizer.weight_decay", "optimizer.betas", "optimizer.eps",
    "schedule.name", "schedule.warmup", "batch.size", "batch.accumulation", "batch.eval_size", "batch.auto_find",
    "training.epochs", "training.max_steps", "training.max_grad_norm", "training.deterministic", "training.compile",
    "evaluation.strategy", "evaluation.metric", "evaluation.mode", "checkpoint.strategy", "checkpoint.keep",
    "checkpoint.load_best_at_end", "logging.every", "loss.label_smoothing", "data.num_workers",
)  # fmt: skip


def _warmup(d: dict[str, Any]) -> tuple[str, float]:
    steps, ratio = float(d.get("warmup_steps") or 0), float(d.get("warmup_ratio") or 0)
    return ("steps", steps) if steps >= 1 else ("ratio", steps or ratio)


def _canonical(d: dict[str, Any], key: str) -> Any:
    """HF's meaning of a key: 'accuracy' and 'eval_accuracy' name one metric; 3 and 3.0 epochs are equal."""
    value = d.get(key, HF_DEFAULTS.get(key))
    if key == "metric_for_best_model" and isinstance(value, str):
        return value if value.startswith("eval_") else f"eval_{value}"
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


@pytest.mark.parametrize("name", HF_FILES)
def test_hf_to_trainwell_to_hf_keeps_shared_fields(shared_data: Path, name: str) -> None:
    original = yaml.safe_load((shared_data / "configs" / name).read_text())
    imported = from_hf(original)
    back = to_hf(load_config(imported.data), hf_major=5).data
    for key in SHARED_HF:
        if key in original:
            assert _canonical(back, key) == _canonical(original, key), key
    assert _warmup(back) == _warmup(original)


@pytest.mark.parametrize("name", HF_FILES)
def test_trainwell_to_hf_to_trainwell_keeps_shared_fields_of_real_configs(shared_data: Path, name: str) -> None:
    config = from_hf(yaml.safe_load((shared_data / "configs" / name).read_text())).data
    for major in (4, 5):
        again = from_hf(to_hf(load_config(config), hf_major=major).data).data
        assert {p: _get(again, p) for p in SHARED_TW} == {p: _get(config, p) for p in SHARED_TW}


# Every schedule HF has and every optimizer it has, each with the settings that travel in kwargs.
CASES: list[list[str]] = [
    ["schedule.name=cosine", "schedule.min_lr_ratio=0.1", "schedule.cycles=0.75"],
    ["schedule.name=cosine_with_restarts", "schedule.cycles=3"],
    ["schedule.name=polynomial", "schedule.power=2.0", "schedule.lr_end=1e-6"],
    ["schedule.name=reduce_on_plateau", "schedule.warmup=0", "schedule.plateau_factor=0.5", "schedule.plateau_patience=2", "schedule.min_lr=1e-6"],
    ["schedule.name=warmup_stable_decay", "training.max_steps=1000", "schedule.decay_ratio=0.2", "schedule.decay_type=linear"],
    ["schedule.name=constant", "schedule.warmup=0"], ["schedule.name=constant_with_warmup", "schedule.warmup=200"],
    ["schedule.name=linear"], ["schedule.name=inverse_sqrt", "schedule.warmup=100"],
    ["optimizer.name=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.8", "optimizer.nesterov=true"],
    ["optimizer.name=rmsprop", "optimizer.lr=0.001", "optimizer.momentum=0.5", "optimizer.eps=1e-6"],
    ["optimizer.name=adamw", "optimizer.fused=true", "optimizer.betas=[0.9, 0.95]"],
    ["optimizer.name=adafactor", "optimizer.lr=0.001"], ["optimizer.name=lion", "optimizer.lr=1e-4"],
    ["training.precision=fp16", "batch.eval_size=64", "evaluation.metric=val_accuracy", "evaluation.mode=max"],
    ["training.device=cpu", "training.deterministic=true", "data.num_workers=2", "loss.label_smoothing=0.1", "seed=7"],
    ["evaluation.strategy=epoch", "evaluation.every=1", "checkpoint.strategy=epoch", "checkpoint.every=1", "training.max_grad_norm=null"],
]  # fmt: skip
SCHEDULE_FIELDS = ("min_lr_ratio", "cycles", "power", "lr_end", "plateau_factor", "plateau_patience", "min_lr", "decay_ratio", "decay_type")


def test_cases_cover_every_exportable_schedule() -> None:
    named = {o.split("=")[1] for case in CASES for o in case if o.startswith("schedule.name=")}
    assert named == set(SCHEDULE_TO_HF)


@pytest.mark.parametrize("overrides", CASES, ids=lambda c: c[0])
def test_trainwell_to_hf_to_trainwell_roundtrip(overrides: list[str]) -> None:
    config = to_dict(load_config(None, ["training.precision=bf16", "early_stopping.patience=null", *overrides]))
    again = from_hf(json.loads(json.dumps(to_hf(load_config(config), hf_major=5).data))).data
    paths = [*SHARED_TW, *(f"schedule.{f}" for f in SCHEDULE_FIELDS)]
    if config["optimizer"]["name"] in ("sgd", "rmsprop"):
        paths += ["optimizer.momentum", "optimizer.nesterov"]
    if config["optimizer"]["name"] == "adamw":
        paths.append("optimizer.fused")
    if config["training"]["device"] == "cpu":
        paths.append("training.device")
    if config["evaluation"]["strategy"] == "steps":
        paths += ["evaluation.every", "checkpoint.every"]
    assert {p: _get(again, p) for p in paths} == {p: _get(config, p) for p in paths}


def test_import_applies_hf_defaults_not_trainwell_defaults() -> None:
    result = from_hf({"learning_rate": 2e-5})
    data = result.data
    assert data["schedule"]["name"] == "linear" and data["schedule"]["warmup"] == 0.0
    assert data["optimizer"]["weight_decay"] == 0.0 and data["evaluation"]["strategy"] == "no"
    assert data["early_stopping"]["patience"] is None and data["training"]["precision"] == "fp32"
    assert data["training"]["epochs"] == 3 and data["batch"]["size"] == 8


def test_import_reads_early_stopping_and_hf_metric_rule() -> None:
    args = {"early_stopping_patience": 3, "eval_strategy": "steps", "eval_steps": 200, "save_steps": 400, "load_best_model_at_end": True,
            "metric_for_best_model": "f1", "warmup_ratio": 0.05, "warmup_steps": 0, "num_train_epochs": 2.5}  # fmt: skip
    result = from_hf(args)
    assert result.data["early_stopping"]["patience"] == 3
    assert (result.data["evaluation"]["metric"], result.data["evaluation"]["mode"]) == ("val_f1", "max")
    assert result.data["schedule"]["warmup"] == 0.05 and result.data["training"]["epochs"] == 3
    assert any("rounded up" in n for n in result.notes)
    # f1 is the HF run's own metric, not one trainwell owns: the import names no built-in task (whose metrics the
    # config check judges, so `val_f1` for digits would refuse the import and the HF callback that uses it)
    assert result.data["task"] == "hf:model" and any("names no task" in n for n in result.notes)


def test_import_lists_unknown_keys_as_notes() -> None:
    result = from_hf({"learning_rate": 1e-4, "gradient_checkpointing": True, "my_custom_flag": 1, "optim": "paged_adamw_8bit"})
    text = " ".join(result.notes)
    assert "my_custom_flag" in text and "gradient_checkpointing" in text and "paged_adamw_8bit" in text
    assert result.data["optimizer"]["name"] == "adamw"


@pytest.mark.parametrize(
    ("args", "where"),
    [({"optim": "adagrad"}, "optim"), ({"lr_scheduler_type": "greedy"}, "lr_scheduler_type"), ({"learning_rate": "fast"}, "learning_rate"),
     ({"lr_scheduler_kwargs": "{not json"}, "schedule"), ({"adam_beta1": "x"}, "optimizer"), ({"save_total_limit": [3]}, "cadence")],
)  # fmt: skip
def test_import_refuses_what_trainwell_cannot_run(args: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_hf(args)
    assert [p.where for p in info.value.problems] == [where]


@pytest.mark.parametrize(
    ("overrides", "where"),
    [(["schedule.name=multistep"], "schedule.name"), (["optimizer.name=lamb"], "optimizer.name"),
     (["optimizer.name=adam", "optimizer.weight_decay=0.01"], "optimizer.name"), (["schedule.name=warmup_stable_decay"], "schedule.name")],
)  # fmt: skip
def test_export_refuses_what_hf_cannot_run(overrides: list[str], where: str) -> None:
    with pytest.raises(ConfigError) as info:
        to_hf(load_config(None, overrides))
    assert [p.where for p in info.value.problems] == [where]


def test_export_notes_what_does_not_carry_over() -> None:
    notes = " ".join(to_hf(load_config(None, ["task=fashion-mnist", "loss.name=focal"]), hf_major=5).notes)
    assert "EarlyStoppingCallback(early_stopping_patience=15" in notes and "precision auto" in notes
    assert "task='fashion-mnist'" in notes and "loss.name='focal'" in notes


def test_export_warmup_key_follows_hf_version() -> None:
    config = load_config(None, ["schedule.warmup=0.06"])
    assert to_hf(config, hf_major=4).data["warmup_ratio"] == 0.06
    assert to_hf(config, hf_major=5).data["warmup_steps"] == 0.06


def test_cli_export_then_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_yaml = tmp_path / "args.json", tmp_path / "config.yaml"
    assert main(["export", "--to", "hf", "optimizer.lr=2e-4", "training.precision=bf16", "-o", str(out_json)]) == 0
    assert json.loads(out_json.read_text())["learning_rate"] == 2e-4
    assert main(["import", str(out_json), "-o", str(out_yaml)]) == 0
    assert load_config(out_yaml).optimizer.lr == 2e-4
    assert "note:" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.parametrize("overrides", CASES, ids=lambda c: c[0])
def test_exported_json_is_accepted_by_transformers(overrides: list[str], tmp_path: Path) -> None:
    """transformers.TrainingArguments(**exported) accepts it, and HF builds the scheduler from its kwargs."""
    transformers = pytest.importorskip("transformers")
    import torch

    exported = to_hf(load_config(None, ["training.precision=fp32", *overrides])).data
    exported["output_dir"] = str(tmp_path)
    args = transformers.TrainingArguments(**exported)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=args.learning_rate)
    transformers.get_scheduler(args.lr_scheduler_type, optimizer, num_warmup_steps=args.get_warmup_steps(1000),
                               num_training_steps=1000, scheduler_specific_kwargs=args.lr_scheduler_kwargs)  # fmt: skip


@pytest.mark.integration
def test_full_training_args_dump_lints_and_imports(tmp_path: Path) -> None:
    """A complete TrainingArguments.to_dict() dump (every field, private ones too): read as hf, nothing unknown, values kept."""
    transformers = pytest.importorskip("transformers")
    from trainwell.advise.lint import lint_mapping

    args = transformers.TrainingArguments(output_dir=str(tmp_path), learning_rate=3e-5, warmup_steps=0.06, lr_scheduler_type="cosine",
                                          eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
                                          metric_for_best_model="accuracy", save_total_limit=2)  # fmt: skip
    dump = json.loads(json.dumps(args.to_dict(), default=str))
    report = lint_mapping(dump)
    assert report.dialect == "hf" and not report.has_errors
    assert not [f for f in report.findings if f.rule == "unknown-keys"]
    imported = from_hf(dump).data
    assert imported["optimizer"]["lr"] == 3e-5 and imported["schedule"] == {**imported["schedule"], "name": "cosine", "warmup": 0.06}
    assert (imported["evaluation"]["metric"], imported["evaluation"]["mode"]) == ("val_accuracy", "max")


_HF_KEYS = sorted({*HF_DEFAULTS, "lr_scheduler_kwargs", "optim_args", "warmup_ratio", "warmup_steps", "eval_steps", "greater_is_better",
                   "metric_for_best_model", "early_stopping_patience", "per_device_eval_batch_size", "use_cpu", "pure_bf16"})  # fmt: skip
_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 1000), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["cosine", "steps", "epoch", "no", "best", "sgd", "adamw_torch", "eval_f1", '{"num_cycles": 2}', "momentum=0.5"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["min_lr", "num_cycles", "num_decay_steps"]), st.floats(0, 1), max_size=2),
)  # fmt: skip
_hf_args = st.dictionaries(st.sampled_from(_HF_KEYS), _values, max_size=10)


def _import_or_config_error(args: dict[str, Any]) -> None:
    try:
        from_hf(args)
    except ConfigError as exc:
        assert exc.problems


@settings(max_examples=25, deadline=None)
@given(_hf_args)
def test_import_never_crashes(args: dict[str, Any]) -> None:
    _import_or_config_error(args)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None)
@given(_hf_args)
def test_import_never_crashes_long(args: dict[str, Any]) -> None:
    _import_or_config_error(args)


def test_old_dumps_with_enum_names_import_and_lint() -> None:
    from trainwell.advise.lint import lint_mapping

    args = {"evaluation_strategy": "IntervalStrategy.STEPS", "eval_steps": 100, "save_strategy": "IntervalStrategy.STEPS", "save_steps": 200,
            "lr_scheduler_type": "SchedulerType.COSINE", "optim": "OptimizerNames.ADAMW_TORCH", "load_best_model_at_end": True}  # fmt: skip
    data = from_hf(args).data
    assert (data["evaluation"]["strategy"], data["schedule"]["name"], data["optimizer"]["name"]) == ("steps", "cosine", "adamw")
    assert "load-best-cadence" not in {f.rule for f in lint_mapping(args).findings}
    assert "load-best-cadence" in {f.rule for f in lint_mapping({**args, "save_steps": 250}).findings}  # not a multiple of 100
