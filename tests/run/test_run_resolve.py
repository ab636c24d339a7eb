"""The orchestrator's resolution of a config: loaded once, validated once, each value's provenance, and a
config file's unset values recommended exactly as with no file (issue I item 2, issue H item 3)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainwell.cli.main import main
from trainwell.config import io as config_io
from trainwell.config.io import load_request
from trainwell.config.resolved import ConfigRequest, Origin, ResolvedConfig, replace_paths
from trainwell.config.schema import Config
from trainwell.errors import ConfigError
from trainwell.run import resolve

# Every way a config is read or checked: a call to any of these is one load or one validation.
LOADS = {config_io.load_request: "load_request", config_io.load_config: "load_config", config_io.config_from_dict: "config_from_dict"}
VALIDATIONS = {config_io.validate: "validate"}


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count calls to LOADS and VALIDATIONS wherever they are called from: every binding of them in a loaded
    trainwell module is replaced by a counting wrapper (a module imported later binds the wrapped one)."""
    counts: Counter[str] = Counter()
    targets = {**LOADS, **VALIDATIONS}

    def wrap(function: Any, name: str) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return counted

    wrapped = {id(f): wrap(f, name) for f, name in targets.items()}
    for module in [m for n, m in sys.modules.items() if n.startswith("trainwell") and m is not None]:
        for attr, value in list(vars(module).items()):
            if id(value) in wrapped and value in targets:
                monkeypatch.setattr(module, attr, wrapped[id(value)])
    yield counts


def _loads(counts: Counter[str]) -> int:
    return sum(counts[name] for name in LOADS.values())


def test_a_plain_train_loads_and_validates_the_config_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--run-dir", str(tmp_path / "run"), "training.max_steps=2", "report=false"]
    with counting(monkeypatch) as counts:
        assert main(args) == 0
    assert (_loads(counts), counts["validate"]) == (1, 1), counts
    assert counts["load_request"] == 1
    # The wrappers saw calls: the count is not 1 because nothing was counted.
    assert sum(counts.values()) == 2


def test_a_train_with_a_config_file_loads_and_validates_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("task: digits\ntraining: {max_steps: 2}\nreport: false\n")
    with counting(monkeypatch) as counts:
        assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    assert (_loads(counts), counts["validate"]) == (1, 1), counts


def test_a_config_file_gets_the_recommended_values_it_leaves_unset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`printf 'task: digits\\n' > t.yaml; trainwell train t.yaml` used to train with the schema's defaults
    (lr 3e-5, eval every 500 steps: 61.6 %); now it trains what `trainwell train` trains with no file."""
    path = tmp_path / "t.yaml"
    path.write_text("task: digits\n")
    assert main(["train", str(path), "--run-dir", str(tmp_path / "file"), "training.max_steps=1", "report=false"]) == 0
    assert main(["train", "--run-dir", str(tmp_path / "none"), "training.max_steps=1", "report=false"]) == 0
    with_file = yaml.safe_load((tmp_path / "file" / "config.yaml").read_text())
    assert with_file == yaml.safe_load((tmp_path / "none" / "config.yaml").read_text())
    assert with_file["optimizer"]["lr"] != Config().optimizer.lr and with_file["evaluation"]["every"] != Config().evaluation.every
    reasons = {r["field"]: r for r in json.loads((tmp_path / "file" / "reasons.json").read_text())}
    assert "optimizer.lr" in reasons and reasons["optimizer.lr"]["source"]
    assert "task" not in reasons  # the file set it: the user's value, not a recommendation


def test_config_show_says_where_each_value_came_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("task: digits\noptimizer: {weight_decay: 0.0}\n")
    assert main(["config", "show", str(path), "training.epochs=3", "--format", "json", "--provenance"]) == 0
    shown = json.loads(capsys.readouterr().out)
    where = {row["field"]: row for row in shown["provenance"]}
    assert where["optimizer.weight_decay"]["kind"] == "user" and where["training.epochs"]["kind"] == "user"
    assert where["optimizer.lr"]["kind"] == "recommended" and where["optimizer.lr"]["source"]
    assert where["lr_find.max_lr"]["kind"] == "default"
    assert shown["config"]["training"]["epochs"] == 3
    # The YAML form is loadable as it is, with the provenance as comments.
    assert main(["config", "show", str(path)]) == 0
    text = capsys.readouterr().out
    assert yaml.safe_load(text)["optimizer"]["weight_decay"] == 0.0
    assert "# recommended: optimizer.lr" in text


def test_config_show_resolves_what_train_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("task: digits\n")
    assert main(["config", "show", str(path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run"), "report=false", "training.max_steps=1"]) == 0
    trained = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert {**shown, "training": {**shown["training"], "max_steps": 1}, "report": False} == trained


def test_config_yaml_records_every_model_option_the_model_was_built_with(tmp_path: Path) -> None:
    """A default digits run's config.yaml said `model: {dropout: 0.0}`: the recommended dropout only, not the
    task's `hidden: 128, layers: 1` the MLP was built with. Now every option is recorded, the model that
    config.yaml builds loads the run's weights, and a resume that sets an option to its default is no change."""
    import torch

    from trainwell.config import load_config
    from trainwell.engine.resume import resume_changes
    from trainwell.tasks.catalog import build_task

    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "training.max_steps=1", "report=false", "model.layers=2"]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"] == {"hidden": 128, "layers": 2, "dropout": 0.0}
    weights = torch.load(next((run / "checkpoints").glob("step-*")) / "model.pt", weights_only=True)
    build_task(load_config(run / "config.yaml")).model.load_state_dict(weights)  # the same architecture, strictly
    config = load_config(run / "config.yaml")
    as_set = load_config({**saved, "model": {"layers": 2, "dropout": 0.0}})  # hidden left at the task's default
    assert resume_changes(config, as_set, run) == [] and resume_changes(as_set, config, run) == []
    with pytest.raises(ConfigError, match=r"model\.hidden: cannot change on --resume"):
        resume_changes(config, load_config({**saved, "model": {"hidden": 64}}), run)


def test_the_request_records_what_the_user_set() -> None:
    request = load_request({"optimizer": {"lr": "find"}, "model": {"hidden": 8}}, ["batch.size=16"])
    assert request.is_given("optimizer.lr") and request.is_given("batch.size") and request.is_given("model.hidden")
    assert not request.is_given("optimizer.weight_decay") and not request.is_given("model.dropout")
    assert request.config.optimizer.lr == "find"


def test_a_request_with_a_bad_value_fails_before_anything_is_built() -> None:
    with pytest.raises(ConfigError) as err:
        load_request({"data": {"val_fraction": 2.0}, "batch": {"size": 0}})
    assert {p.where for p in err.value.problems} == {"data.val_fraction", "batch.size"}


def test_a_resolved_config_holds_numbers_only_and_is_changed_by_replacement() -> None:
    with pytest.raises(ConfigError) as err:
        ResolvedConfig.given(load_request({"optimizer": {"lr": "find"}, "batch": {"auto_find": True}}).config)
    assert {p.where for p in err.value.problems} == {"optimizer.lr", "batch.auto_find"}
    base = ResolvedConfig.given(Config())
    found = base.with_values({"optimizer.lr": 2e-3, "model.dropout": 0.1}, Origin("measured", "range test"))
    assert (found.lr, base.lr) == (2e-3, Config().optimizer.lr)  # the original is untouched
    assert found.config.model == {"dropout": 0.1} and base.config.model == {}
    assert found.origin("optimizer.lr").kind == "measured" and found.origin("optimizer.eps").kind == "user"
    assert found.effective_batch == Config().batch.size * Config().batch.accumulation
    with pytest.raises(AttributeError):
        found.config = Config()  # type: ignore[misc]


def test_replace_paths_converts_through_the_schema() -> None:
    config = replace_paths(Config(), {"optimizer.weight_decay": 0, "batch.size": 64})
    assert isinstance(config.optimizer.weight_decay, float) and config.batch.size == 64
    with pytest.raises(ConfigError):
        replace_paths(Config(), {"batch.size": "many"})


def test_plan_recommends_only_what_the_request_leaves_unset() -> None:
    request = ConfigRequest(load_request({"optimizer": {"weight_decay": 0.5}}).config, frozenset({"optimizer.weight_decay"}))
    planned = resolve.plan(request, {}, n_train=1000)
    assert planned.config.optimizer.weight_decay == 0.5 and planned.origins["optimizer.weight_decay"].kind == "user"
    assert planned.origins["optimizer.lr"].kind == "recommended"
    resolved = planned.resolved()
    assert resolved.origin("lr_find.steps").kind == "default"
    assert {r["field"] for r in resolved.reasons()} == {k for k, o in planned.origins.items() if o.kind == "recommended"}


def test_batch_find_works_on_what_train_would_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its paste line used to carry `optimizer.lr=3e-05`, the schema's default, for a file that set no LR."""
    path = tmp_path / "b.yaml"
    path.write_text("task: digits\nbatch: {memory_budget_mb: 0.5}\n")
    assert main(["batch-find", str(path), "--format", "json"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert "optimizer.lr" not in kept["paste"]  # keep_effective: the LR stays what the run resolves
    path.write_text("task: digits\nbatch: {memory_budget_mb: 0.5, keep_effective: false}\n")
    assert main(["config", "show", str(path), "--format", "json"]) == 0
    recommended = json.loads(capsys.readouterr().out)["optimizer"]["lr"]
    assert main(["batch-find", str(path), "--format", "json"]) == 0
    scaled = json.loads(capsys.readouterr().out)
    assert scaled["lr_before"] == recommended != Config().optimizer.lr
    assert f"optimizer.lr={scaled['lr_after']:.3g}" in scaled["paste"]


def test_the_python_api_completes_a_config_file_as_the_cli_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trainwell.run import train

    path = tmp_path / "t.yaml"
    path.write_text("task: digits\ntraining: {max_steps: 1}\nreport: false\n")
    by_api = train(path, run_dir=tmp_path / "api")
    assert main(["train", str(path), "--run-dir", str(tmp_path / "cli")]) == 0
    assert (by_api.run_dir / "config.yaml").read_text() == (tmp_path / "cli" / "config.yaml").read_text()
    as_given = train({"task": "digits", "training": {"max_steps": 1}, "report": False}, run_dir=tmp_path / "dict")
    assert yaml.safe_load((as_given.run_dir / "config.yaml").read_text())["optimizer"]["lr"] == Config().optimizer.lr


def test_tune_starts_from_a_file_completed_as_train_completes_it(tmp_path: Path) -> None:
    from trainwell.tune.api import start_config

    path = tmp_path / "t.yaml"
    path.write_text("task: digits\n")
    config, reasons, notes = start_config(str(path), ["training.epochs=3"])
    planned = resolve.plan(load_request(path, ["training.epochs=3"]), {}, None)
    assert config == planned.config and config.optimizer.lr != Config().optimizer.lr
    assert {r["field"] for r in reasons} >= {"optimizer.lr", "evaluation.every"} and "training.epochs" not in {r["field"] for r in reasons}
    assert notes
