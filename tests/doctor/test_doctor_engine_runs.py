"""Pathologies injected into a clean trainwell run (digits MLP, a few hundred examples), trained with
trainwell.run.train, then diagnosed from the run folder: the doctor must name the pathology and
give the matching config change. The clean baseline must come out healthy."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from trainwell.doctor import diagnose

BASE_LR = 3e-3


def _config(lr: float, epochs: int = 10, limit: int = 300, log_every: int = 5, **extra: Any) -> dict[str, Any]:
    return {
        "task": "digits",
        "optimizer": {"lr": lr},
        "training": {"epochs": epochs, "threads": 1},
        "batch": {"size": 32},
        "evaluation": {"strategy": "epoch", "every": 1},
        "checkpoint": {"strategy": "no", "load_best_at_end": False},
        "logging": {"every": log_every, "tensorboard": "off", "progress": "off"},
        "early_stopping": {"patience": None},
        "data": {"limit": limit},
        "report": False,
        "seed": 0,
        **extra,
    }


def _train(tmp_path: Path, config: dict[str, Any]) -> Path:
    from trainwell.run import train

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the live doctor's DoctorWarnings are checked in test_doctor_live
        return train(config, run_dir=tmp_path / "run").run_dir


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The first train() in a process pays for imports and the sklearn digits load; keep that out of the timed tests.
    pytest.importorskip("sklearn")
    _train(tmp_path_factory.mktemp("warm"), _config(BASE_LR, epochs=1, limit=64))


def test_clean_run_is_healthy(tmp_path: Path) -> None:
    result = diagnose(_train(tmp_path, _config(BASE_LR)))
    assert result.history.source == "trainwell-run" and result.history.hints.num_classes == 10
    assert result.findings == [], [f.rule for f in result.findings]


def test_lr_times_100_diverges(tmp_path: Path) -> None:
    run = _train(tmp_path, _config(BASE_LR * 100))
    main = diagnose(run).main_finding
    assert main is not None and main.rule == "divergence"
    assert main.fix == "optimizer.lr: 0.3 → 0.03"
    live = json.loads((run / "findings.json").read_text(encoding="utf-8"))
    assert live[0]["rule"] == "divergence"


def test_lr_divided_by_1000_is_flat(tmp_path: Path) -> None:
    main = diagnose(_train(tmp_path, _config(BASE_LR / 1000))).main_finding
    assert main is not None and main.rule == "flat_loss"
    assert main.fix == "optimizer.lr: 3e-06 → 3e-05"


@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_training_set_with_many_epochs_overfits(tmp_path: Path, seed: int) -> None:
    # 64 examples (51 for training after the validation split), 40 epochs, a brisk LR: memorised by epoch 10.
    main = diagnose(_train(tmp_path, _config(1e-2, epochs=40, limit=64, log_every=2, seed=seed))).main_finding
    assert main is not None and main.rule == "overfitting"
    assert "early_stopping.patience: 3" in main.fix and "optimizer.weight_decay: 0.01 → 0.05" in main.fix


def test_live_doctor_stops_a_diverging_run(tmp_path: Path) -> None:
    run = _train(tmp_path, _config(BASE_LR * 100, doctor={"stop_on_divergence": True}))
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["stop_reason"].startswith("doctor: divergence")
    assert summary["steps"] < 100  # 10 epochs x 10 steps would be the full run
