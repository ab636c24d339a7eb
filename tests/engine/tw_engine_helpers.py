"""A tiny deterministic task for engine tests: 100 synthetic points, 3 classes, a 2-layer MLP.

Used in-process and as a user task ("tw_engine_helpers:make_task") in subprocess runs. 100 items in
batches of 8 leave a short last batch (4 items), so uneven windows are always exercised.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
import torch._dynamo  # the first optimizer imports it (~2 s); pay that at collection, not in a test

from trainwell.config import Config
from trainwell.tasks.base import Task, classification_metrics

HERE = Path(__file__).resolve().parent
N_TRAIN, N_VAL, FEATURES, CLASSES = 100, 40, 8, 3


def synthetic(n: int, seed: int) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=g)
    w = torch.randn(FEATURES, CLASSES, generator=g)
    y = (x @ w + 0.5 * torch.randn(n, CLASSES, generator=g)).argmax(dim=1)
    return torch.utils.data.TensorDataset(x, y)


def tiny_model(dropout: float = 0.1) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(16, CLASSES))


def make_task(config: Config) -> Task:
    """The user task: model options come from config.model (dropout)."""
    return Task(
        name="tiny",
        model=tiny_model(float(config.model.get("dropout", 0.1))),
        train_data=synthetic(N_TRAIN, 0),
        val_data=synthetic(N_VAL, 1),
        num_classes=CLASSES,
        class_counts=None,
        metrics=classification_metrics,
    )


BASE: dict[str, Any] = {
    "task": "tw_engine_helpers:make_task",
    "seed": 7,
    "report": False,
    "doctor": {"live": False},
    "optimizer": {"name": "adamw", "lr": 1e-2},
    "schedule": {"name": "cosine", "warmup": 0.1},
    "batch": {"size": 8},
    "training": {"epochs": 3},
    "evaluation": {"strategy": "steps", "every": 4, "metric": "val_loss", "mode": "min"},
    "logging": {"every": 2, "tensorboard": "off", "progress": "off"},
    "early_stopping": {"patience": None},
    "checkpoint": {"strategy": "steps", "every": 4, "keep": 2},
}


def tiny_config(**sections: Any) -> dict[str, Any]:
    """BASE with sections merged one level deep: tiny_config(training={"epochs": 5})."""
    cfg = copy.deepcopy(BASE)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def without_time(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "time"} for r in history]


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def patient(seconds: float) -> float:
    """A time limit for a test that waits on fresh processes: ``seconds`` on a machine with a core free,
    stretched by how many runnable processes share each core (the larger of the 1- and 5-minute load
    averages per core) up to 8x. On a 2-core machine at load 20 a torchrun job that takes 30 s idle takes
    minutes, and that is not a hang; a real hang still ends, at ``seconds`` where CI's machine is idle."""
    load = max(os.getloadavg()[:2]) / (os.cpu_count() or 1)
    return seconds * min(8.0, max(1.0, load))


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env["CI"] = "1"
    return env


def run_script(code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh process with this folder importable, one thread."""
    prelude = "import torch; torch.set_num_threads(1)\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args], env=python_env(), capture_output=True, text=True, check=check, timeout=patient(120)
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class KillAt(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """``data`` that SIGKILLs its own process at its TW_KILL_AT-th read when TW_KILL_RANK names this torchrun
    rank: one rank dying mid-run, at a point that does not depend on timing (unset: plain data). TW_KILL_SIGNAL
    names another signal (SIGTERM: the rank is asked to stop, as a scheduler asks it)."""

    def __init__(self, data: torch.utils.data.Dataset) -> None:  # type: ignore[type-arg]
        self.data, self.at, self.reads = data, int(os.environ.get("TW_KILL_AT", "0")), 0
        self.armed = os.environ.get("TW_KILL_RANK") == os.environ.get("RANK", "")
        self.signal = os.environ.get("TW_KILL_SIGNAL", "SIGKILL")

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        self.reads += 1
        if self.armed and self.reads == self.at:
            import signal

            os.kill(os.getpid(), getattr(signal, self.signal))
        return self.data[i]


def make_killable_task(config: Config) -> Task:
    """make_task whose training data kills one rank (TW_KILL_RANK) at its TW_KILL_AT-th read."""
    task = make_task(config)
    task.train_data = KillAt(task.train_data)
    return task


def make_killable_digits(config: Config) -> Task:
    """The built-in digits task (the real data and MLP) whose training data kills one rank like
    make_killable_task: the task `trainwell train --nproc 2` is judged on, with a kill point that does not
    depend on timing."""
    from trainwell.tasks.digits import build

    task = build(config)
    task.train_data = KillAt(task.train_data)
    return task
