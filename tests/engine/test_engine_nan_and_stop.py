"""NaN/Inf policy, early stopping decisions, the scaler-skip rule for the scheduler, and run length."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
from tw_engine_helpers import make_task, tiny_config

from trainwell.config import Config, load_config
from trainwell.config.resolved import ResolvedConfig
from trainwell.engine import checkpoint as ckpt
from trainwell.engine.early_stopping import EarlyStopping
from trainwell.engine.loop import Trainer
from trainwell.engine.precision import PrecisionStrategy
from trainwell.errors import ConfigError, TrainingError
from trainwell.run import train
from trainwell.tasks.base import Task


def poisoned_task(config: Config, bad: slice) -> Task:
    """The tiny task with NaN features on items ``bad``: any batch holding one has a NaN loss."""
    task = make_task(config)
    x, y = task.train_data.tensors  # type: ignore[attr-defined]
    x = x.clone()
    x[bad] = float("nan")
    task.train_data = torch.utils.data.TensorDataset(x, y)
    return task


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.iterdir()))).hexdigest()


def test_nan_policy_stop_names_the_step_and_applies_no_bad_update(tmp_path: Path) -> None:
    config = load_config(tiny_config(training={"nan_policy": "stop"}, checkpoint={"load_best_at_end": False}))
    trainer = Trainer(ResolvedConfig.given(config), poisoned_task(config, slice(0, 1)), tmp_path)
    with pytest.raises(TrainingError) as info:
        trainer.fit()
    first_bad = next(i for i, batch in enumerate(trainer.sampler) if 0 in batch) + 1  # epoch 0, 1 batch per step
    assert trainer.state.step == first_bad
    assert f"non-finite loss (nan) at step {first_bad} " in str(info.value)
    assert "training.nan_policy" in str(info.value)
    assert all(torch.isfinite(p).all() for p in trainer.c.model.parameters())  # the bad update was never applied


class PoisonAt:
    """Turns every training feature into NaN once ``step`` has been logged (before its checkpoint)."""

    def __init__(self, data: torch.utils.data.TensorDataset, step: int) -> None:
        self.data, self.step = data, step

    def on_train_start(self, state: Any) -> None:
        return None

    def on_log(self, state: Any, record: dict[str, Any]) -> None:
        if state.step == self.step:
            self.data.tensors[0].fill_(float("nan"))

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> None:
        return None

    def on_train_end(self, state: Any, summary: dict[str, Any]) -> None:
        return None


def test_a_nan_stop_leaves_the_last_good_checkpoint_intact(tmp_path: Path) -> None:
    config = load_config(tiny_config(training={"nan_policy": "stop"}, checkpoint={"every": 2, "keep": 10, "load_best_at_end": False}))
    task = make_task(config)
    trainer = Trainer(ResolvedConfig.given(config), task, tmp_path, callbacks=[PoisonAt(task.train_data, 6)])  # type: ignore[list-item]
    with pytest.raises(TrainingError, match="at step 7 ") as info:
        trainer.fit()
    root = tmp_path / "checkpoints"
    assert sorted(int(p.name.split("-")[1]) for p in root.iterdir()) == [2, 4, 6]
    assert str(root / "step-6") in str(info.value)
    digest = _digest(root / "step-6")
    weights, state = ckpt.load_checkpoint(root / "step-6")
    assert state["counters"]["step"] == 6 and all(torch.isfinite(w).all() for w in weights.values())
    assert _digest(root / "step-6") == digest


def test_nan_policy_skip_skips_counts_and_continues(tmp_path: Path) -> None:
    config = load_config(tiny_config(training={"nan_policy": "skip", "epochs": 2}, checkpoint={"load_best_at_end": False}))
    trainer = Trainer(ResolvedConfig.given(config), poisoned_task(config, slice(0, 1)), tmp_path)
    stop = trainer.fit()
    assert stop.status == "completed"
    assert trainer.state.nan_skips == 2  # one poisoned batch per epoch
    lost = 0
    for epoch in range(2):
        trainer.sampler.set_position(epoch)
        lost += len(next(b for b in trainer.sampler if 0 in b))
    assert trainer.state.samples == 200 - lost
    assert all(torch.isfinite(p).all() for p in trainer.c.model.parameters())


def test_nan_policy_skip_stops_after_max_skips_in_a_row(tmp_path: Path) -> None:
    config = load_config(tiny_config(training={"nan_policy": "skip", "max_nan_skips": 3}, checkpoint={"load_best_at_end": False}))
    trainer = Trainer(ResolvedConfig.given(config), poisoned_task(config, slice(0, 100)), tmp_path)
    stop = trainer.fit()
    assert stop.status == "diverged" and trainer.state.step == 3
    assert "3 non-finite steps in a row" in stop.reason


def test_early_stopping_decisions_carry_reasons() -> None:
    es = EarlyStopping("val_loss", "min", patience=2, threshold=0.1)
    first = es.update(1.0, 10)
    assert first.improved and not first.stop and "first evaluation" in first.reason
    assert not es.update(0.95, 20).improved  # better, but not by more than the threshold
    final = es.update(0.99, 30)
    assert final.stop and "patience 2" in final.reason and "best 1 at step 10" in final.reason
    up = EarlyStopping("val_accuracy", "max", patience=None)
    up.update(0.5, 1)
    assert up.update(0.6, 2).improved
    assert not up.update(float("nan"), 3).improved
    assert not any(up.update(0.1, s).stop for s in range(4, 50))  # patience None never stops


def test_training_stops_early_with_the_reason_in_the_summary(tmp_path: Path) -> None:
    cfg = tiny_config(training={"epochs": 50}, optimizer={"lr": 0.3}, early_stopping={"patience": 2, "threshold": 0.5})
    result = train(cfg, run_dir=tmp_path)
    assert result.summary["status"] == "stopped"
    assert "early stopping" in result.summary["stop_reason"]
    assert result.summary["steps"] < 50 * 13


class SkipsEveryOther(PrecisionStrategy):
    """Fakes a loss scaler that skips every second step (as fp16 does on overflow)."""

    calls = 0

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        self.calls += 1
        if self.calls % 2 == 0:
            return False
        optimizer.step()
        return True


def test_scheduler_does_not_step_when_the_scaler_skipped(tmp_path: Path) -> None:
    # CPU: the synced path, where precision.step reports the skip (CUDA defers; see test_engine_deferred.py)
    config = load_config(tiny_config(training={"max_steps": 10, "device": "cpu"}, schedule={"name": "linear", "warmup": 4}))
    trainer = Trainer(ResolvedConfig.given(config), make_task(config), tmp_path)
    fake = SkipsEveryOther(torch.device("cpu"))
    trainer.c.precision = trainer.runner.precision = fake
    trainer.fit()
    assert trainer.state.overflow_skips == 5
    assert trainer.c.schedule.scheduler.last_epoch == 5  # advanced only on the 5 real updates


def test_max_steps_overrides_epochs_and_epochs_bound_the_run(tmp_path: Path) -> None:
    capped = train(tiny_config(training={"epochs": 100, "max_steps": 7}), run_dir=tmp_path / "a")
    assert capped.summary["steps"] == 7 and "max_steps (7)" in capped.summary["stop_reason"]
    bounded = train(tiny_config(training={"epochs": 2}), run_dir=tmp_path / "b")
    assert bounded.summary["steps"] == 2 * 13 and bounded.summary["epochs"] == 2.0
    assert "epochs (2)" in bounded.summary["stop_reason"]


def test_config_is_validated_again_with_the_real_total_steps(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        train(tiny_config(training={"epochs": 1}, schedule={"warmup": 50}), run_dir=tmp_path / "run")
    assert info.value.problems[0].where == "schedule.warmup"
    assert "13 total steps" in info.value.problems[0].rule
    assert not (tmp_path / "run").exists()  # no half-made run folder
