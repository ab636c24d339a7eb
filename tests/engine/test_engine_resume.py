"""Exact resume: an interrupted-and-resumed run ends bit-identical to an uninterrupted one on CPU."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from tw_engine_helpers import max_abs_diff, patient, python_env, read_jsonl, tiny_config, without_time

from trainwell.engine.callbacks import Callback
from trainwell.engine.checkpoint import latest_checkpoint
from trainwell.run import train


class Crash(Callback):
    """Stands in for a kill: raises out of the loop at a given step (after that step's checkpoint, if any)."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        if state.step >= self.at_step:
            raise KeyboardInterrupt
        return None


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("crash_at", [6, 14])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path: Path, crash_at: int) -> None:
    # Accumulation 2 over 13 batches leaves a short window at each epoch end; dropout exercises the RNG.
    cfg = tiny_config(batch={"size": 8, "accumulation": 2}, checkpoint={"every": 4, "load_best_at_end": False})
    full = train(cfg, run_dir=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir=tmp_path / "cut", callbacks=[Crash(crash_at)])
    assert latest_checkpoint(tmp_path / "cut" / "checkpoints") is not None
    interrupted = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert interrupted["status"] == "interrupted" and "--resume" in interrupted["stop_reason"]
    resumed = train(resume=tmp_path / "cut")
    assert resumed.summary["resumed_from_step"] is not None
    assert max_abs_diff(_state(full.model), _state(resumed.model)) == 0.0
    assert without_time(full.history) == without_time(resumed.history)
    assert without_time(read_jsonl(tmp_path / "full" / "metrics.jsonl")) == without_time(read_jsonl(tmp_path / "cut" / "metrics.jsonl"))
    for key in ("best_metric", "best_step", "steps", "samples", "final"):
        assert full.summary[key] == resumed.summary[key]


def test_resume_without_any_checkpoint_starts_over(tmp_path: Path) -> None:
    cfg = tiny_config(training={"max_steps": 6}, checkpoint={"every": 6, "load_best_at_end": False}, evaluation={"every": 6})
    full = train(cfg, run_dir=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir=tmp_path / "cut", callbacks=[Crash(2)])
    resumed = train(resume=tmp_path / "cut")
    assert resumed.summary["resumed_from_step"] == 0
    assert max_abs_diff(_state(full.model), _state(resumed.model)) == 0.0


_CHILD = """
import sys
from trainwell.run import train
from tw_engine_helpers import tiny_config, BASE
cfg = tiny_config(training={"epochs": 20}, logging={"every": 1}, checkpoint={"every": 3, "load_best_at_end": False},
                  evaluation={"every": 6})
run_dir = sys.argv[1]
result = train(resume=run_dir) if sys.argv[2] == "resume" else train(cfg, run_dir=run_dir)
torch.save(result.model.state_dict(), run_dir + "/final.pt")
"""


def _spawn(run_dir: Path, mode: str) -> subprocess.Popen[str]:
    prelude = "import torch; torch.set_num_threads(1)\n"
    return subprocess.Popen(
        [sys.executable, "-c", prelude + _CHILD, str(run_dir), mode],
        env=python_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_after(proc: subprocess.Popen[str], metrics: Path, lines: int) -> None:
    """SIGKILL the child once metrics.jsonl has at least ``lines`` records (a random point mid-training)."""
    deadline = time.monotonic() + patient(60)
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and sum(1 for _ in metrics.open()) >= lines:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=patient(60))


@pytest.mark.slow
@pytest.mark.timeout(patient(600))
def test_sigkill_at_random_steps_then_resume_is_bit_identical(tmp_path: Path) -> None:
    full = _spawn(tmp_path / "full", "fresh")
    assert full.wait(timeout=patient(120)) == 0, full.stderr.read() if full.stderr else ""
    total = len(read_jsonl(tmp_path / "full" / "metrics.jsonl"))
    rng = random.Random(1234)
    cut = tmp_path / "cut"
    kills = sorted(rng.sample(range(10, total - 20), 3))
    for i, at in enumerate(kills):
        proc = _spawn(cut, "fresh" if i == 0 else "resume")
        _kill_after(proc, cut / "metrics.jsonl", at)
        assert proc.returncode == -signal.SIGKILL, f"the child finished before the kill at record {at}"
    last = _spawn(cut, "resume")
    assert last.wait(timeout=patient(120)) == 0, last.stderr.read() if last.stderr else ""
    a = torch.load(tmp_path / "full" / "final.pt", weights_only=True)
    b = torch.load(cut / "final.pt", weights_only=True)
    assert max_abs_diff(a, b) == 0.0
    assert without_time(read_jsonl(tmp_path / "full" / "metrics.jsonl")) == without_time(read_jsonl(cut / "metrics.jsonl"))
