"""Every built-in task in the catalog honours the Task contract; user tasks 'pkg.mod:fn' are built too."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from trainwell.config import load_config
from trainwell.errors import ConfigError
from trainwell.tasks.base import Task
from trainwell.tasks.catalog import TASKS, build_task

SLOW = {"text-classification"}  # loading MiniLM alone takes a few seconds
LANGUAGE_MODELS = {"causal-lm"}  # no classes: its own contract test is in test_tasks_causal_lm.py


def _tabular(fixture: Callable[[str], Any]) -> dict[str, Any]:
    path = fixture("tmp_path") / "t.csv"
    path.write_text("a,b,y\n" + "".join(f"{i % 7},{'xyz'[i % 3]},{i % 2}\n" for i in range(40)))
    return {"data": {"path": str(path)}, "model": {"hidden": 8}}


def _text(fixture: Callable[[str], Any]) -> dict[str, Any]:
    sst = fixture("shared_data") / "sst2-glue"
    return {"data": {"path": str(sst / "train.tsv"), "limit": 16, "options": {"val_limit": 8, "max_length": 32}}}


# Each case gets pytest's getfixturevalue, so only the fixtures a task needs are set up (shared_data skips).
CASES: dict[str, Callable[[Callable[[str], Any]], dict[str, Any]]] = {
    "digits": lambda fixture: {"data": {"limit": 100}, "model": {"hidden": 8}},
    "fashion-mnist": lambda fixture: {"data": {"path": str(fixture("fashion_folder")())}, "model": {"channels": 2}},
    "text-classification": _text,
    "tabular": _tabular,
}


def test_every_registered_task_has_a_case() -> None:
    assert set(CASES) | LANGUAGE_MODELS == set(TASKS.names())


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(CASES)])
def test_builtin_task_contract(name: str, request: pytest.FixtureRequest) -> None:
    spec = TASKS.get(name)
    task = build_task(load_config({"task": name, **CASES[name](request.getfixturevalue)}))
    assert isinstance(task, Task) and task.name == name
    assert task.val_data is not None and len(task.val_data) > 0 and len(task.train_data) > 0
    assert task.class_counts is not None and sum(task.class_counts) == len(task.train_data)
    assert task.num_classes == len(task.class_counts) == task.facts.num_classes
    assert task.facts.model == spec.facts.model and task.facts.dataset_size == len(task.train_data)
    items = [task.train_data[i] for i in range(4)]
    inputs, targets = (task.collate_fn or torch.utils.data.default_collate)(items)
    task.model.eval()
    with torch.no_grad():
        out = task.model(**inputs) if isinstance(inputs, dict) else task.model(inputs)
    logits = getattr(out, "logits", out)
    assert logits.shape == (4, task.num_classes) and targets.dtype == torch.int64
    assert task.metrics is not None and 0.0 <= task.metrics(logits, targets)["accuracy"] <= 1.0
    assert set(task.metrics(logits, targets)) == set(spec.metrics)  # what `config validate` lets evaluation.metric name


def test_a_tasks_data_options_and_defaults_are_declared_once_in_the_catalog(request: pytest.FixtureRequest) -> None:
    """The catalog listed each task's data.options names while the task modules held their defaults (`header`
    'auto', fashion-mnist's `validation` 'test', ...) in their own `opts.get` calls: two lists to keep in step.
    Now TaskSpec.data_options holds names and defaults, the config check refuses any other key, and the tasks
    read theirs through data_options(config), so a task that read an undeclared key would fail at its first build
    (test_builtin_task_contract) instead of quietly taking a default of its own."""
    from trainwell.tasks.catalog import data_options

    tabular = TASKS.get("tabular").data_options
    config = load_config({"task": "tabular", "data": {"options": {"target": "y", "drop": ["a"]}}})
    assert data_options(config) == {**tabular, "target": "y", "drop": ["a"]} and tabular["header"] == "auto"
    assert data_options(load_config({"task": "fashion-mnist"})) == {"validation": "test"}
    assert data_options(load_config({"task": "digits"})) == {}
    with pytest.raises(ConfigError, match="did you mean 'target'"):
        load_config({"task": "tabular", "data": {"options": {"targt": "y"}}})
    # the defaults written out build the same task as the options left unset
    case = CASES["tabular"](request.getfixturevalue)
    unset, spelled = (
        build_task(load_config({"task": "tabular", **case, "data": {**case["data"], "options": o}})) for o in ({}, dict(tabular))
    )
    assert torch.equal(unset.train_data.tensors[0], spelled.train_data.tensors[0])
    assert torch.equal(unset.val_data.tensors[1], spelled.val_data.tensors[1])


def test_unknown_model_option_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="hidden"):
        build_task(load_config({"task": "digits", "model": {"hiden": 64}}))


def test_user_task_from_a_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_user_tasks.py").write_text(
        "import torch\n"
        "from torch.utils.data import TensorDataset\n"
        "from trainwell.tasks.base import Task\n"
        "def make_task(config):\n"
        "    x = torch.randn(8, 3)\n"
        "    y = torch.arange(8) % 2\n"
        "    return Task('mine', torch.nn.Linear(3, 2), TensorDataset(x, y), TensorDataset(x, y), num_classes=2,\n"
        "                class_counts=[4, 4], metrics=None)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_user_tasks", raising=False)
    task = build_task(load_config({"task": "my_user_tasks:make_task"}))
    assert task.name == "mine" and len(task.train_data) == 8
    with pytest.raises(ConfigError, match="importable function"):
        build_task(load_config({"task": "my_user_tasks:nope"}))
