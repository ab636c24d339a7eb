"""Item 12 of issue H: CONFIG, key=value overrides and options may come in any order, for every verb that
takes overrides (argparse's intermixed parsing in cli/parser.VerbParser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainwell.cli.main import main


def _config(tmp_path: Path) -> str:
    path = tmp_path / "t.yaml"
    path.write_text("task: digits\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "order",
    [
        ["CONFIG", "--format", "json", "training.epochs=8"],
        ["--format", "json", "CONFIG", "training.epochs=8"],
        ["CONFIG", "training.epochs=8", "--format", "json"],
        ["training.epochs=8", "--format", "json"],
    ],
)
def test_overrides_after_options_are_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str], order: list[str]) -> None:
    config = _config(tmp_path)
    argv = ["config", "show", *(config if a == "CONFIG" else a for a in order)]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["training"]["epochs"] == 8


def test_train_accepts_overrides_after_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's command line, up to the engine: the override reaches the config that is trained."""
    import trainwell.run.orchestrator as orchestrator

    seen: dict[str, object] = {}

    def fake_train(config: object, run_dir: object = None, **kw: object) -> object:
        seen.update(config=config, run_dir=run_dir)
        raise SystemExit(0)

    monkeypatch.setattr(orchestrator, "train", fake_train)
    with pytest.raises(SystemExit):
        main(["train", _config(tmp_path), "--run-dir", str(tmp_path / "r"), "training.epochs=8"])
    assert seen["run_dir"] == str(tmp_path / "r")
    assert seen["config"].config.training.epochs == 8  # type: ignore[attr-defined]  (a ConfigRequest)


@pytest.mark.parametrize(
    ("verb", "option"),
    [
        (["schedule"], ["--steps", "100"]),
        (["lr-find"], ["--format", "json"]),
        (["batch-find"], ["--format", "json"]),
        (["tune"], ["--trials", "1"]),
        (["config", "show"], ["--format", "json"]),
        (["export"], ["--to", "hf"]),
    ],
)
def test_every_override_verb_intermixes(tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: list[str], option: list[str]) -> None:
    """An unknown override after an option is reported as a config problem (exit 2), not as argparse's
    'unrecognized arguments' usage error: so it was parsed as an override."""
    assert main([*verb, _config(tmp_path), *option, "optimizer.nope=1"]) == 2
    assert "optimizer.nope: is not a known config key" in capsys.readouterr().err
