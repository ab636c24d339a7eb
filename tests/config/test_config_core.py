"""Config: loading, numeric strings, overrides, unknown keys, collected validation, CLI exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainwell.config import Config, dump, load_config, to_dict
from trainwell.config.rules import CONFIG_RULES
from trainwell.errors import ConfigError
from trainwell.registry import Registry


def test_defaults_are_guide_000_stack() -> None:
    c = load_config()
    assert (c.optimizer.name, c.optimizer.lr, c.optimizer.weight_decay) == ("adamw", 3e-5, 0.01)
    assert (c.schedule.name, c.schedule.warmup) == ("cosine", 0.1)
    assert (c.training.max_grad_norm, c.early_stopping.patience, c.checkpoint.keep, c.seed) == (1.0, 15, 3, 42)


def test_numeric_strings_become_numbers(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("optimizer: {lr: 2e-5, weight_decay: 1e-2}\ntraining: {epochs: '3'}\n")
    c = load_config(p)
    assert c.optimizer.lr == 2e-5 and isinstance(c.optimizer.lr, float)
    assert c.training.epochs == 3


def test_yaml_and_json_round_trip(tmp_path: Path) -> None:
    c = load_config(overrides=["optimizer.lr=1e-4", "schedule.name=linear", "optimizer.betas=[0.9, 0.95]"])
    for suffix, fmt in ((".yaml", "yaml"), (".json", "json")):
        p = tmp_path / f"c{suffix}"
        p.write_text(dump(c, fmt))
        assert to_dict(load_config(p)) == to_dict(c)


def test_overrides_and_lr_find() -> None:
    c = load_config(overrides=["optimizer.lr=find", "batch.size=64", "loss.class_weights=[1, 2.5]"])
    assert c.optimizer.lr == "find" and c.batch.size == 64 and c.loss.class_weights == [1.0, 2.5]


def test_unknown_keys_get_did_you_mean() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"optimiser": {"lr": 1e-3}, "optimizer": {"lrr": 1e-3}})
    wheres = {p.where: p for p in err.value.problems}
    assert "did you mean 'optimizer'" in wheres["optimiser"].fix
    assert "did you mean 'lr'" in wheres["optimizer.lrr"].fix


def test_override_unknown_path() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["training.epoch=3", "nonsense"])
    assert len(err.value.problems) == 2
    assert "did you mean 'epochs'" in err.value.problems[0].fix


def test_every_problem_collected_at_once() -> None:
    bad = {
        "optimizer": {"name": "adamm", "lr": -1, "betas": [0.9]},
        "training": {"epochs": 0, "precision": "fp8"},
        "evaluation": {"metric": "val_accuracy", "mode": "min"},
        "checkpoint": {"every": 7, "strategy": "steps"},
        "evaluation_": 3,
    }
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    wheres = [p.where for p in err.value.problems]
    for expected in (
        "optimizer.name",
        "optimizer.lr",
        "optimizer.betas",
        "training.epochs",
        "training.precision",
        "evaluation.mode",
        "checkpoint.every",
        "evaluation_",
    ):
        assert expected in wheres, (expected, wheres)
    for p in err.value.problems:  # each problem names the rule, the value and a fix
        assert p.rule and p.fix


@pytest.mark.parametrize("name", CONFIG_RULES.names())
def test_every_cross_field_rule_fires(name: str) -> None:
    """Each registered cross-field rule has a config that breaks it (and the defaults do not)."""
    breaking: dict[str, dict] = {
        "names-registered": {"schedule": {"name": "cosin"}},
        "warmup-below-total": {"training": {"max_steps": 100}, "schedule": {"warmup": 200}},
        "load-best-cadence": {"evaluation": {"every": 100}, "checkpoint": {"every": 150}},
        "needs-evaluation": {"evaluation": {"strategy": "no"}, "checkpoint": {"load_best_at_end": False}},
        "plateau-no-warmup": {"schedule": {"name": "reduce_on_plateau", "warmup": 0.1}},
        "one-cycle-ratio": {"schedule": {"name": "one_cycle", "warmup": 0}},
        "milestones-sorted": {"schedule": {"name": "multistep", "milestones": [60, 30]}},
        "nesterov-momentum": {"optimizer": {"name": "adamw", "nesterov": True}},
        "metric-mode": {"evaluation": {"metric": "val_loss", "mode": "max"}},
        "fp16-needs-cuda": {"training": {"precision": "fp16", "device": "cpu"}},
        "lr-find-range": {"lr_find": {"min_lr": 1.0, "max_lr": 0.1}},
        "class-weights-loss": {"loss": {"name": "mse", "class_weights": "auto"}},
        "task-options": {"model": {"hiddn": 3}},
    }
    assert name in breaking, f"add a breaking config for new rule {name}"
    rule = CONFIG_RULES.get(name)
    assert rule(Config(), None) == []
    with pytest.raises(ConfigError):
        load_config(breaking[name])
    from trainwell.config.io import config_from_dict  # noqa: F401  (the public path used above)


_BAD_VALUES = {
    "optimizer.lr": st.floats(max_value=0.0, allow_nan=False) | st.floats(min_value=10.5, max_value=1e6),
    "training.epochs": st.integers(max_value=0),
    "batch.size": st.integers(max_value=0),
    "loss.label_smoothing": st.floats(min_value=1.0, max_value=100.0),
    "schedule.min_lr_ratio": st.floats(min_value=1.01, max_value=100.0),
    "checkpoint.keep": st.integers(max_value=0),
    "training.precision": st.text(min_size=1, max_size=6).filter(lambda s: s not in ("auto", "fp32", "bf16", "fp16")),
    "early_stopping.threshold": st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
}


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.sampled_from(sorted(_BAD_VALUES)), st.none(), min_size=1).flatmap(
        lambda keys: st.fixed_dictionaries({k: _BAD_VALUES[k] for k in keys})
    )
)
def test_random_bad_values_all_reported(bad: dict) -> None:
    data: dict = {}
    for path, value in bad.items():
        section, key = path.split(".")
        data.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as err:
        load_config(data)
    reported = {p.where for p in err.value.problems}
    assert set(bad) <= reported


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trainwell.cli.main", *args], capture_output=True, text=True, timeout=60)


def test_cli_validate_three_mistakes(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("optimizer: {lr: 0}\nbatch: {size: 0}\ntraining: {precison: bf16}\n")
    out = _cli("config", "validate", str(p))
    assert out.returncode == 2
    assert "3 problems" in out.stderr and "Traceback" not in out.stderr
    assert "did you mean 'precision'" in out.stderr


def test_cli_show_json_and_no_torch() -> None:
    code = (
        "import sys, io, contextlib; from trainwell.cli.main import main; buf = io.StringIO();\n"
        "with contextlib.redirect_stdout(buf): rc = main(['config', 'show', 'optimizer.lr=1e-4', '--format', 'json'])\n"
        "assert rc == 0, rc; assert 'torch' not in sys.modules; print(buf.getvalue())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["optimizer"]["lr"] == 1e-4


def test_registry_did_you_mean_and_listing() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("alpha", 1, "first")
    reg.register("alpine", 2)
    assert reg.names("alp*") == ["alpha", "alpine"] and reg.describe("alpha") == "first"
    with pytest.raises(ConfigError) as err:
        reg.get("alpah")
    assert "did you mean 'alpha'" in err.value.problems[0].fix
    with pytest.raises(ValueError):
        reg.register("alpha", 3)


def test_yaml_booleans_read_back_as_words() -> None:
    """`logging.progress=off` and `checkpoint.strategy=no` are YAML 1.1 booleans; they mean the words."""
    c = load_config(overrides=["logging.progress=off", "checkpoint.strategy=no", "checkpoint.load_best_at_end=false"])
    assert (c.logging.progress, c.checkpoint.strategy, c.checkpoint.load_best_at_end) == ("off", "no", False)
    with pytest.raises(ConfigError):
        load_config(overrides=["training.precision=yes"])  # no word of that kind in the choices


def test_dotted_paths_get_and_set() -> None:
    from trainwell.config.paths import get_path, set_path

    data: dict = {"optimizer": {"lr": 1e-3}, "model": 3}
    set_path(data, "schedule.warmup", 0.1)
    assert data["schedule"] == {"warmup": 0.1}
    assert get_path(data, "optimizer.lr") == 1e-3
    assert get_path(data, "optimizer.nope") is None and get_path(data, "model.dropout") is None
