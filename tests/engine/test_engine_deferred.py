"""The deferred (sync-free) step path: on CUDA with fused Adam/AdamW the device skips a non-finite step
and the loop applies the NaN policy at its next sync point. On CPU the same path is forced (fused
AdamW honours found_inf on CPU too) so every guarantee is checked without a GPU; the gpu-marked
parametrisations run the real thing, where the loop picks the path itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from test_engine_nan_and_stop import PoisonAt, poisoned_task
from tw_engine_helpers import make_task, max_abs_diff, tiny_config, without_time

from trainwell.config import load_config
from trainwell.config.resolved import ResolvedConfig
from trainwell.engine.loop import Trainer
from trainwell.engine.precision import FP16Precision
from trainwell.engine.step import StepRunner
from trainwell.errors import TrainingError
from trainwell.tasks.base import Task

# -m gpu selects the CUDA cases; the skip keeps `-m "slow or not slow"` green on a machine without CUDA.
GPU = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
DEVICES = ["cpu", pytest.param("cuda", marks=GPU)]


def make_trainer(tmp: Path, device: str, poison: slice | None = None, defer: bool = True, callbacks: Any = (), **sections: Any) -> Trainer:
    training = {"device": device, **sections.pop("training", {})}
    cfg = tiny_config(optimizer={"name": "adamw", "lr": 1e-2, "fused": True}, training=training, **sections)
    cfg["checkpoint"] = {**cfg["checkpoint"], "load_best_at_end": False}
    config = load_config(cfg)
    task: Task = poisoned_task(config, poison) if poison is not None else make_task(config)
    tmp.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(ResolvedConfig.given(config), task, tmp, callbacks=callbacks(task) if callable(callbacks) else callbacks)
    r, t = trainer.runner, config.training
    if trainer.c.device.type == "cpu" and defer:  # the loop defers only on CUDA: force it here
        trainer.runner = StepRunner(
            r.model, r.loss_fn, r.optimizer, r.precision, r.max_grad_norm, r.device, True, t.nan_policy, t.max_nan_skips
        )
    assert trainer.runner.defer is defer
    return trainer


def adam_steps(trainer: Trainer) -> set[int]:
    """The fused optimizer's step counts: a step skipped on the device does not advance them."""
    return {int(state["step"]) for state in trainer.c.optimizer.state.values()}


def params_finite(trainer: Trainer) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in trainer.c.model.parameters())


def test_deferred_steps_equal_synced_steps_bit_for_bit_on_cpu(tmp_path: Path) -> None:
    torch.manual_seed(0)  # the same initial weights and dropout draws for both
    synced = make_trainer(tmp_path / "a", "cpu", defer=False)
    synced_stop = synced.fit()
    torch.manual_seed(0)
    deferred = make_trainer(tmp_path / "b", "cpu")
    assert deferred.fit() == synced_stop
    assert without_time(synced.state.history) == without_time(deferred.state.history)
    assert max_abs_diff(synced.c.model.state_dict(), deferred.c.model.state_dict()) == 0
    assert synced.c.schedule.state_dict() == deferred.c.schedule.state_dict()


@pytest.mark.parametrize("device", DEVICES)
def test_deferred_nan_stop_names_the_exact_step_and_keeps_the_weights(tmp_path: Path, device: str) -> None:
    trainer = make_trainer(tmp_path, device, poison=slice(0, 1), training={"nan_policy": "stop"}, logging={"every": 50})
    before = {k: v.clone() for k, v in trainer.c.model.state_dict().items()}
    first_bad = next(i for i, batch in enumerate(trainer.sampler) if 0 in batch) + 1
    with pytest.raises(TrainingError, match=f"non-finite loss \\(nan\\) at step {first_bad} "):
        trainer.fit()
    assert trainer.state.step == first_bad and params_finite(trainer)
    assert adam_steps(trainer) == {first_bad - 1}  # the bad step and every one after it were skipped on the device
    assert (max_abs_diff(before, trainer.c.model.state_dict()) == 0) == (first_bad == 1)


@pytest.mark.parametrize("device", DEVICES)
def test_deferred_nan_stop_leaves_the_last_good_checkpoint_intact(tmp_path: Path, device: str) -> None:
    trainer = make_trainer(
        tmp_path,
        device,
        callbacks=lambda task: [PoisonAt(task.train_data, 6)],  # NaN features once step 6 is logged
        training={"nan_policy": "stop"},
        checkpoint={"every": 2, "keep": 10},
        logging={"every": 2},  # step 7 is no sync point: the NaN is read at step 8 and named as step 7
    )
    with pytest.raises(TrainingError, match="at step 7 "):
        trainer.fit()
    root = tmp_path / "checkpoints"
    assert sorted(int(p.name.split("-")[1]) for p in root.iterdir()) == [2, 4, 6]
    assert params_finite(trainer)


@pytest.mark.parametrize("device", DEVICES)
def test_deferred_nan_skip_counts_like_the_synced_path(tmp_path: Path, device: str) -> None:
    sections: dict[str, Any] = {"training": {"nan_policy": "skip", "epochs": 2}}
    synced = make_trainer(tmp_path / "a", "cpu", poison=slice(0, 1), defer=False, **sections)
    deferred = make_trainer(tmp_path / "b", device, poison=slice(0, 1), **sections)
    assert synced.fit().status == deferred.fit().status == "completed"
    assert deferred.state.nan_skips == synced.state.nan_skips == 2
    assert deferred.state.samples == synced.state.samples
    assert deferred.c.schedule.scheduler.last_epoch == synced.c.schedule.scheduler.last_epoch == 26 - 2  # skipped steps undone
    assert params_finite(deferred) and adam_steps(deferred) == {26 - 2}


@pytest.mark.parametrize("device", DEVICES)
def test_deferred_nan_skip_stops_after_max_skips_in_a_row(tmp_path: Path, device: str) -> None:
    trainer = make_trainer(
        tmp_path, device, poison=slice(0, 100), training={"nan_policy": "skip", "max_nan_skips": 3}, logging={"every": 50}
    )
    before = {k: v.clone() for k, v in trainer.c.model.state_dict().items()}
    stop = trainer.fit()
    assert stop.status == "diverged" and trainer.state.step == 3 and "3 non-finite steps in a row" in stop.reason
    assert max_abs_diff(before, trainer.c.model.state_dict()) == 0  # every step was skipped on the device
    assert adam_steps(trainer) == {0}
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


@GPU[0]
@GPU[1]
def test_deferred_fp16_overflow_is_skipped_counted_and_unscheduled(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, "cuda", training={"precision": "fp16", "max_steps": 20})
    assert isinstance(trainer.c.precision, FP16Precision)
    trainer.c.precision.scaler = torch.amp.GradScaler("cuda", init_scale=2.0**100)  # the first steps overflow
    assert trainer.fit().status == "completed"
    s = trainer.state
    assert s.overflow_skips > 0 and s.nan_skips == 0 and params_finite(trainer)
    assert trainer.c.schedule.scheduler.last_epoch == 20 - s.overflow_skips


@pytest.mark.parametrize("defer", [False, True])
def test_fp16_overflow_is_skipped_counted_and_unscheduled_on_both_paths(tmp_path: Path, defer: bool) -> None:
    trainer = make_trainer(tmp_path, "cpu", defer=defer, training={"max_steps": 20})
    fp16 = FP16Precision(torch.device("cpu"))  # CPU autocast and GradScaler support fp16; the engine refuses it only by policy
    fp16.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**100)  # the first steps overflow and back off
    trainer.c.precision = trainer.runner.precision = fp16
    assert trainer.fit().status == "completed"
    s = trainer.state
    assert s.overflow_skips > 0 and s.nan_skips == 0 and params_finite(trainer)
    assert trainer.c.schedule.scheduler.last_epoch == 20 - s.overflow_skips == min(adam_steps(trainer))
