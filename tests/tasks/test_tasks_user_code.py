"""Item 11 of issue H (trust): a config that names code. Built-ins are refused, what the function returns
must be a Task, the verbs that run it say what they import first, validate notes it, lint lists every reference."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainwell.advise.lint import lint_mapping
from trainwell.cli.main import main

BUILDERS = """
CALLS = []


def wrong(config):
    CALLS.append(config.task)
    return {"model": None}
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "h_user_tasks.py").write_text(BUILDERS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "h_user_tasks", raising=False)
    return str(tmp_path / "h_user_tasks.py")


@pytest.mark.parametrize("target", ["builtins:print", "os:system", "posix:system"])
@pytest.mark.parametrize("verb", [["train"], ["lr-find"], ["batch-find"]])
def test_builtins_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, verb: list[str]
) -> None:
    run_dir = tmp_path / "run"
    extra = ["--run-dir", str(run_dir)] if verb == ["train"] else []
    assert main([*verb, f"task={target}", *extra]) == 2
    captured = capsys.readouterr()
    assert "must name a Python function (or class) defined in a source file" in captured.err
    assert not run_dir.exists() and "Config(" not in captured.out  # print(config) was not called


@pytest.mark.parametrize("verb", [["train"], ["lr-find"], ["batch-find"]])
def test_the_code_is_shown_and_what_it_returns_checked(
    tmp_path: Path, user_module: str, capsys: pytest.CaptureFixture[str], verb: list[str]
) -> None:
    """The import and the call are announced before the function runs; a dict instead of a Task is an
    exit-2 error (it was a TypeError traceback), and no run folder is left behind."""
    extra = ["--run-dir", str(tmp_path / "run")] if verb == ["train"] else []
    assert main([*verb, "task=h_user_tasks:wrong", *extra]) == 2
    err = capsys.readouterr().err
    announced = f"task h_user_tasks:wrong is code: importing h_user_tasks ({user_module}) and calling wrong(config)"
    assert announced in err and "must name a function that returns a trainwell Task" in err and "returned dict" in err
    assert sys.modules["h_user_tasks"].CALLS and not (tmp_path / "run").exists()


def test_validate_notes_code_and_does_not_import_it(tmp_path: Path, user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('task: "h_user_tasks:digits"\n', encoding="utf-8")
    assert main(["config", "validate", str(path)]) == 0
    assert "note: task h_user_tasks:digits is code" in capsys.readouterr().out
    assert "h_user_tasks" not in sys.modules


def test_lint_lists_every_code_reference() -> None:
    trainwell = lint_mapping({"task": "os:system", "optimizer": {"lr": 1e-3}, "training": {"epochs": 3}})
    refs = [f for f in trainwell.findings if f.rule == "code-reference"]
    assert [(f.where, f.value, f.severity) for f in refs] == [("task", "os:system", "warning")]
    hydra = lint_mapping(
        {
            "model": {"_target_": "mypkg.Net", "head": {"_target_": "torch.nn.Linear"}},
            "optimizer": {"_target_": "torch.optim.AdamW", "lr": 1e-3},
            "callbacks": [{"class_path": "lightning.pytorch.callbacks.EarlyStopping"}, {"_component_": "torchtune.x"}],
        }
    )
    refs = {(f.where, f.value) for f in hydra.findings if f.rule == "code-reference"}
    assert refs == {
        ("model._target_", "mypkg.Net"),
        ("model.head._target_", "torch.nn.Linear"),
        ("optimizer._target_", "torch.optim.AdamW"),
        ("callbacks[0].class_path", "lightning.pytorch.callbacks.EarlyStopping"),
        ("callbacks[1]._component_", "torchtune.x"),
    }
