"""Checkpoints: atomic writes (a kill mid-write leaves the latest loadable), rotation, load_best_at_end."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from tw_engine_helpers import make_task, max_abs_diff, run_script, tiny_config

from trainwell.config import Config, load_config
from trainwell.config.resolved import ResolvedConfig
from trainwell.engine import checkpoint as ckpt
from trainwell.engine.finish import summarize
from trainwell.engine.loop import Trainer
from trainwell.run import train
from trainwell.tasks.base import Task


def _fake(root: Path, step: int) -> None:
    ckpt.save_checkpoint(root, step, {"w": torch.tensor([float(step)])}, {"step": step}, {"best_step": None})


def test_rotation_keeps_newest_and_never_deletes_best_or_latest(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4, 5, 6):
        _fake(tmp_path, step)
    deleted = ckpt.rotate(tmp_path, keep=2, best_step=2)
    assert deleted == [1, 3, 4]
    assert [c.step for c in ckpt.list_checkpoints(tmp_path)] == [2, 5, 6]
    ckpt.rotate(tmp_path, keep=1, best_step=2)
    assert [c.step for c in ckpt.list_checkpoints(tmp_path)] == [2, 6]  # keep=1: only best + latest


def test_saving_the_same_step_twice_replaces_it(tmp_path: Path) -> None:
    _fake(tmp_path, 3)
    ckpt.save_checkpoint(tmp_path, 3, {"w": torch.tensor([9.0])}, {}, {})
    model_state, _ = ckpt.load_checkpoint(tmp_path / "step-3")
    assert model_state["w"].item() == 9.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-3"]


def test_a_crash_mid_write_leaves_the_previous_checkpoint_as_latest(tmp_path: Path) -> None:
    _fake(tmp_path, 4)

    def dies_on_trainer_file(obj: Any, path: Path) -> None:
        if path.name == "trainer.pt":
            path.write_bytes(b"half a fil")  # what a kill leaves behind
            raise SystemExit("killed")
        torch.save(obj, path)

    with pytest.raises(SystemExit):
        ckpt.save_checkpoint(tmp_path, 8, {"w": torch.tensor([8.0])}, {"step": 8}, {}, save=dies_on_trainer_file)
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest is not None and latest.step == 4
    model_state, trainer_state = ckpt.load_checkpoint(latest.path)
    assert model_state["w"].item() == 4.0 and trainer_state == {"step": 4}
    # An exception inside the process (here SystemExit; a full disk) removes the unfinished folder itself;
    # a kill -9 cannot, and clean_partial removes what it leaves (the subprocess test below).
    assert not ckpt.clean_partial(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step-4"]


_KILL_DURING_WRITE = """
import os, signal, sys
from trainwell.engine import checkpoint
from trainwell.run import train
from trainwell.engine.finish import summarize
from trainwell.engine.loop import Trainer
from tw_engine_helpers import tiny_config
real = checkpoint._fsync_file
calls = []
def fsync_then_die(path):
    calls.append(path)
    if len(calls) == 5:  # second checkpoint: model.pt fsynced, trainer.pt not yet
        os.kill(os.getpid(), signal.SIGKILL)
    real(path)
checkpoint._fsync_file = fsync_then_die
train(tiny_config(checkpoint={"every": 4, "load_best_at_end": False}, evaluation={"every": 4}), run_dir=sys.argv[1])
"""


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_leaves_a_loadable_latest(tmp_path: Path) -> None:
    out = run_script(_KILL_DURING_WRITE, str(tmp_path / "run"), check=False)
    assert out.returncode == -signal.SIGKILL, out.stderr
    root = tmp_path / "run" / "checkpoints"
    assert any(p.name.startswith(".tmp-") for p in root.iterdir())  # the write really was cut
    latest = ckpt.latest_checkpoint(root)
    assert latest is not None and latest.step == 4
    ckpt.load_checkpoint(latest.path)
    full = train(tiny_config(checkpoint={"every": 4, "load_best_at_end": False}, evaluation={"every": 4}), run_dir=tmp_path / "full")
    resumed = train(resume=tmp_path / "run")
    assert max_abs_diff(full.model.state_dict(), resumed.model.state_dict()) == 0.0


def _scripted_task(config: Config, scores: list[float]) -> Task:
    """The tiny task with a validation 'score' that follows a script, so the best evaluation is known."""
    task = make_task(config)
    it = iter(scores)
    task.metrics = lambda logits, targets: {"score": next(it)}
    return task


def test_load_best_at_end_restores_the_best_weights(tmp_path: Path) -> None:
    scores = [0.2, 0.9, 0.5, 0.4, 0.3, 0.1, 0.0, 0.0]  # 8 evaluations; the best is the 2nd (step 8)
    config = load_config(
        tiny_config(
            training={"max_steps": 32},
            evaluation={"every": 4, "metric": "val_score", "mode": "max"},
            checkpoint={"every": 12, "keep": 1, "load_best_at_end": True},
        )
    )
    trainer = Trainer(ResolvedConfig.given(config), _scripted_task(config, scores), tmp_path)
    stop = trainer.fit()
    final_weights = {k: v.clone() for k, v in trainer.c.model.state_dict().items()}
    summary = summarize(trainer, stop)
    trainer.log.close()
    assert summary["best_step"] == 8 and summary["best_metric"] == 0.9 and summary["loaded_best"]
    assert summary["final"]["val_score"] == 0.9
    best_weights, _ = ckpt.load_checkpoint(tmp_path / "checkpoints" / "step-8")
    assert max_abs_diff(trainer.c.model.state_dict(), best_weights) == 0.0
    assert max_abs_diff(final_weights, best_weights) > 0.0
    kept = [c.step for c in ckpt.list_checkpoints(tmp_path / "checkpoints")]
    assert kept == [8, 32]  # keep=1 still spares the best and the latest
    meta = json.loads((tmp_path / "checkpoints" / "step-32" / "meta.json").read_text())
    assert meta["best_step"] == 8


def test_a_checkpoint_holds_everything_resume_needs(tmp_path: Path) -> None:
    train(
        tiny_config(training={"max_steps": 4}, checkpoint={"every": 4, "load_best_at_end": False}, evaluation={"every": 4}),
        run_dir=tmp_path,
    )
    _, state = ckpt.load_checkpoint(tmp_path / "checkpoints" / "step-4")
    assert {"optimizer", "schedule", "precision", "early_stopping", "log_window", "counters", "rng"} <= state.keys()
    assert {"python", "numpy", "torch"} <= state["rng"].keys()
    assert state["counters"]["step"] == 4 and state["counters"]["epoch_index"] == 0 and state["counters"]["batch_index"] == 4
