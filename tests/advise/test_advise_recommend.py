"""recommend() over a grid of profiles: always a valid config, a reason and a source for every field it
set, nothing changed silently; the CLI's JSON/YAML shapes; no torch on the recommend path."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from typing import Any

import pytest

from trainwell.advise.recommender import MODELS, MODES, Profile, Reason, recommend
from trainwell.cli.main import main
from trainwell.config import Config, load_config, to_dict, validate

SIZES = (None, 800, 50_000, 2_000_000)
BUDGETS: tuple[dict[str, Any], ...] = ({}, {"epochs": 1}, {"epochs": 5}, {"epochs": 30}, {"duration": "short"}, {"duration": "long"})
HARDWARE: tuple[dict[str, Any], ...] = (
    {},
    {"gpu_memory": 8, "gpus": 2, "bf16": False},
    {"gpu_memory": 80, "bf16": True, "batch_size": 256},
)


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """{'optimizer.lr': ..., 'model.dropout': ...}: non-empty mappings flattened to dotted leaves."""
    if not isinstance(data, dict) or not data:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_leaves(value, f"{prefix}.{key}" if prefix else key))
    return out


def _changed_fields(config: Config) -> set[str]:
    """Every leaf field whose value differs from the schema default."""
    got, default = _leaves(to_dict(config)), _leaves(to_dict(Config()))
    changed = {k for k in set(got) | set(default) if got.get(k, "<absent>") != default.get(k, "<absent>")}
    return {k for k in changed if not any(other.startswith(k + ".") for other in got)}  # {} that gained keys


def _check(profile: Profile) -> None:
    rec = recommend(profile)
    fields = [r.field for r in rec.reasons]
    assert len(fields) == len(set(fields)), "one reason per field"
    for reason in rec.reasons:
        assert isinstance(reason, Reason) and reason.why and reason.source and reason.rule, reason
    # Nothing is changed silently: every field that differs from the default has a reason.
    assert _changed_fields(rec.config) <= set(fields), _changed_fields(rec.config) - set(fields)
    spe = (
        None
        if profile.dataset_size is None
        else -(-profile.dataset_size // (rec.config.batch.size * rec.config.batch.accumulation * (profile.gpus or 1)))
    )
    total = None if spe is None else spe * rec.config.training.epochs
    assert validate(rec.config, total_steps=total) == []
    assert load_config(to_dict(rec.config)) == rec.config  # serialisable and re-loadable


@pytest.mark.parametrize(("model", "mode"), list(itertools.product(MODELS, MODES)))
def test_grid_of_profiles_gives_valid_configs_with_reasons(model: str, mode: str) -> None:
    for size, budget, hardware in itertools.product(SIZES, BUDGETS, HARDWARE[:2]):
        _check(Profile(model, mode, dataset_size=size, num_classes=10, **budget, **hardware))
    for hardware in HARDWARE[2:]:
        _check(Profile(model, mode, dataset_size=50_000, imbalance=12.0, **hardware))


def test_builtin_task_profiles() -> None:
    from trainwell.tasks.catalog import TASKS

    for name in TASKS.names():
        rec = recommend(Profile.from_task(name))
        assert rec.config.task == name
        assert rec.reason_for("task") is not None


def test_lazy_top_level_api() -> None:
    import trainwell

    assert trainwell.recommend is recommend


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("prior_law")  # the pinned 1.55e-05 is the guides' anchor moved along the horizon
def test_cli_json_shape_for_the_must_show_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(
        ["recommend", "--model", "transformer", "--mode", "finetune", "--dataset-size", "20000", "--epochs", "5", "--format", "json"],
        capsys,
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"config", "reasons"}
    config = load_config(data["config"])
    assert validate(config) == []
    for reason in data["reasons"]:
        assert set(reason) == {"field", "value", "rule", "why", "source"}
        assert reason["why"] and reason["source"]
        node: Any = data["config"]
        for key in reason["field"].split("."):
            node = node[key]
        assert node == reason["value"], reason["field"]
    lr = next(r for r in data["reasons"] if r["field"] == "optimizer.lr")
    # 20000 x 5 / 32 = 3125 steps, 5/3 of the BERT anchor's: 2e-5 x (5/3)^-0.5
    assert lr["value"] == 1.55e-05 and lr["rule"] == "lr.law" and "001 §Quick Reference: BERT Fine-tuning" in lr["why"]
    assert "prior constants, not fitted" in lr["source"]


def test_cli_yaml_has_a_comment_per_reason_and_round_trips(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    out_file = tmp_path / "digits.yaml"
    code, out = _cli(["recommend", "--task", "digits", "-o", str(out_file)], capsys)
    assert code == 0 and out_file.read_text() == out
    rec = recommend(Profile.from_task("digits"))
    assert load_config(out_file) == rec.config
    comments = [line for line in out.splitlines()[2:] if line.lstrip().startswith("# ") and " — " in line]
    assert len(comments) == len(rec.reasons)


def test_cli_rejects_bad_profile_with_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recommend", "--dataset-size", "0", "--imbalance", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and "profile.dataset_size" in err and "profile.imbalance" in err


def test_recommend_cli_does_not_import_torch() -> None:
    code = (
        "import sys; from trainwell.cli.main import main; "
        "rc = main(['recommend', '--task', 'digits', '--format', 'json']); "
        "main(['recipes', 'ls']); "
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
