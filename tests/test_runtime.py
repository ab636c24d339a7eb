"""A library call leaves the host process as it found it: threads, deterministic algorithms, cuDNN flags,
RNGs and environment variables are the same after train / lr-find / tune return (trainwell.runtime)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from trainwell.engine.callbacks import Callback
from trainwell.runtime import capture, leaks, preserved, run_globals
from trainwell.tasks.base import Task


def test_preserved_puts_back_env_vars_rngs_threads_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINWELL_TEST_CHANGED", "before")
    monkeypatch.setenv("TRAINWELL_TEST_REMOVED", "here")
    before = capture()
    with preserved():
        os.environ["TRAINWELL_TEST_CHANGED"] = "after"
        os.environ["TRAINWELL_TEST_ADDED"] = "1"
        del os.environ["TRAINWELL_TEST_REMOVED"]
        torch.set_num_threads(before.threads + 1)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = not torch.backends.cudnn.benchmark
        random.seed(1), np.random.seed(1), torch.manual_seed(1)
        # (torch itself adds TORCHINDUCTOR_CACHE_DIR when deterministic algorithms are switched on)
        assert set(leaks(before)) >= {
            "threads", "deterministic", "warn_only", "cudnn_benchmark",
            "environ[TRAINWELL_TEST_ADDED]", "environ[TRAINWELL_TEST_CHANGED]", "environ[TRAINWELL_TEST_REMOVED]",
            "python_rng", "numpy_rng", "torch_rng",
        }  # fmt: skip
    assert leaks(before) == []


def test_only_the_outermost_block_restores() -> None:
    torch.manual_seed(3)
    with preserved():
        with preserved():
            torch.manual_seed(5)
        inner = float(torch.rand(1))  # the inner block left the seed it set: the outer run goes on from it
    torch.manual_seed(5)
    assert inner == float(torch.rand(1))


def test_run_globals_sets_threads_and_determinism_inside_only() -> None:
    before = capture()
    with run_globals(threads=before.threads + 1, deterministic=True):
        assert torch.get_num_threads() == before.threads + 1
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert leaks(before) == []


class SeeGlobals(Callback):
    """Records the threads and the deterministic flag the run trained with."""

    def __init__(self) -> None:
        self.seen: tuple[int, bool] | None = None

    def on_train_start(self, state: Any) -> None:
        self.seen = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())


def tiny_task() -> tuple[torch.nn.Module, torch.utils.data.TensorDataset]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(8, 2))
    return model, torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())


def test_train_leaves_threads_determinism_rngs_and_environment_unchanged(tmp_path: Path) -> None:
    from trainwell.run import train

    model, data = tiny_task()
    before = capture()
    seen = SeeGlobals()
    config = {
        "seed": 11,
        "report": False,
        "doctor": {"live": False},
        "optimizer": {"lr": 1e-2},
        "batch": {"size": 16},
        "training": {"epochs": 1, "threads": before.threads + 1, "deterministic": True, "device": "cpu"},
        "logging": {"tensorboard": "off", "progress": "off"},
    }
    train(config, model=model, train_data=data, val_data=data, run_dir=tmp_path / "run", callbacks=[seen])
    assert seen.seen == (before.threads + 1, True)  # the run did set them...
    assert leaks(before) == []  # ...and put them back


def test_lr_find_leaves_threads_rngs_and_environment_unchanged() -> None:
    from trainwell.config import load_config
    from trainwell.find.lr_finder import lr_find

    model, data = tiny_task()
    before = capture()
    config = load_config({"batch": {"size": 16}, "training": {"device": "cpu", "threads": before.threads + 1}, "lr_find": {"steps": 12}})
    task = Task("tiny", model, data, None, num_classes=2)
    seen: list[int] = []
    lr_find(config, task, progress=lambda *_: seen.append(torch.get_num_threads()))
    assert seen and set(seen) == {before.threads + 1}
    assert leaks(before) == []


def make_task(config: Any) -> Task:
    """The tiny task as a user task ("test_runtime:make_task") for tune."""
    model, data = tiny_task()
    return Task("tiny", model, data, data, num_classes=2)


@pytest.mark.slow  # ~2.5 s in the suite (a SQLite study, two trainings, the report); train and lr-find are default-run
def test_tune_leaves_threads_rngs_optuna_logging_and_environment_unchanged(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from trainwell.config import load_config
    from trainwell.tune.api import TuneOptions, tune

    before, verbosity = capture(), optuna.logging.get_verbosity()
    config = load_config(
        {
            "task": "test_runtime:make_task",
            "report": False,
            "doctor": {"live": False},
            "batch": {"size": 32},
            "training": {"epochs": 1, "device": "cpu", "threads": before.threads + 1},
            "logging": {"tensorboard": "off", "progress": "off"},
        }
    )
    options = TuneOptions(trials=2, strategy="random", seeds=1, run_dir=str(tmp_path), find_lr=False, progress=False)
    assert tune(config, options).finished == 2
    assert leaks(before) == [] and optuna.logging.get_verbosity() == verbosity
