"""Ctrl-C, SIGTERM and SIGKILL at a random step, then --resume: the run ends bit-identical to an
uninterrupted one (issue H, item 8). SIGINT/SIGTERM checkpoint the current step and print the resume
command; the library's signal handlers are gone afterwards.

The signalled runs are forked from the test process (no second torch import, so each test stays well
under 2 s) and driven through the CLI, as a person would; a signal comes from the parent once
metrics.jsonl has a random number of records.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from tw_engine_helpers import max_abs_diff, patient, python_env, read_jsonl, tiny_config, without_time

from trainwell.cli.main import main
from trainwell.engine.callbacks import Callback
from trainwell.engine.checkpoint import latest_checkpoint, load_model_weights
from trainwell.errors import TrainingInterrupted
from trainwell.run import train

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

# 13 batches of 8 per epoch (the last one short), accumulation 2: 7 steps per epoch with a short last window.
CFG = tiny_config(
    training={"epochs": 12},
    batch={"size": 8, "accumulation": 2},
    logging={"every": 1},
    evaluation={"every": 10},
    checkpoint={"every": 25, "keep": 2, "load_best_at_end": False},
)
TOTAL = 12 * 7


class SendSignal(Callback):
    """Sends a real signal to this process at a given step, from inside the loop."""

    def __init__(self, at_step: int, signum: int) -> None:
        self.at_step, self.signum = at_step, signum

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        if state.step == self.at_step:
            os.kill(os.getpid(), self.signum)
        return None


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """The uninterrupted run every interrupted one is compared with."""
    path = tmp_path_factory.mktemp("interrupts") / "full"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as conftest does for each test; a module fixture runs before that
    try:
        result = train(CFG, run_dir=path)
    finally:
        torch.set_num_threads(threads)
    return path, {k: v.detach().clone() for k, v in result.model.state_dict().items()}


def _same_run(full: tuple[Path, dict[str, torch.Tensor]], cut: Path, weights: dict[str, torch.Tensor]) -> None:
    assert max_abs_diff(full[1], weights) == 0.0
    assert without_time(read_jsonl(full[0] / "metrics.jsonl")) == without_time(read_jsonl(cut / "metrics.jsonl"))
    a, b = (json.loads((p / "summary.json").read_text()) for p in (full[0], cut))
    for key in ("status", "best_metric", "best_step", "steps", "samples", "final"):
        assert a[key] == b[key], key


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_the_current_step_and_resume_is_bit_identical(
    tmp_path: Path, full: tuple[Path, dict[str, torch.Tensor]], signum: int
) -> None:
    at = random.randrange(1, TOTAL - 1)  # any step must do; the message below names the one drawn
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(TrainingInterrupted) as err:
        train(CFG, run_dir=tmp_path / "cut", callbacks=[SendSignal(at, signum)])
    assert {s: signal.getsignal(s) for s in handlers} == handlers, "train() left its signal handlers installed"
    assert err.value.step == at and err.value.exit_code == 128 + signum
    assert f"continue with: trainwell train --resume {tmp_path / 'cut'}" in str(err.value)
    assert latest_checkpoint(tmp_path / "cut" / "checkpoints").step == at, f"no checkpoint at the interrupted step {at}"  # type: ignore[union-attr]
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == at
    resumed = train(resume=tmp_path / "cut")
    assert resumed.summary["resumed_from_step"] == at
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    _same_run(full, tmp_path / "cut", resumed.model.state_dict())


def _fork_cli(argv: list[str], out: Path) -> int:
    """Run `trainwell ARGV` in a forked child (its stdout and stderr go to OUT.*); returns the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: never return into pytest
        torch.set_num_threads(1)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(f"{out}.{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
        from trainwell.engine import loop

        log_train = loop.Trainer._log_train

        def slowed(self: Any) -> str | None:  # ~1 ms a step: the parent's poll sees the run mid-way, even on a busy machine
            time.sleep(0.001)
            return log_train(self)

        loop.Trainer._log_train = slowed  # type: ignore[method-assign]
        code = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _signal_when(pid: int, metrics: Path, records: int, signum: int) -> int:
    """Send ``signum`` once metrics.jsonl holds ``records`` lines; returns the child's wait status."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if metrics.exists() and metrics.read_bytes().count(b"\n") >= records:
            os.kill(pid, signum)
            break
        time.sleep(0.001)
    return os.waitpid(pid, 0)[1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_cli_killed_at_a_random_step_resumes_bit_identically(
    tmp_path: Path, full: tuple[Path, dict[str, torch.Tensor]], signum: int, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    # The full run's own config.yaml sets every field, so the CLI recommends none and trains the same run.
    config.write_text((full[0] / "config.yaml").read_text())
    cut = tmp_path / "cut"
    records = random.randrange(5, TOTAL // 2)
    pid = _fork_cli(["train", str(config), "--run-dir", str(cut)], tmp_path / "child")
    status = _signal_when(pid, cut / "metrics.jsonl", records, signum)
    err = (tmp_path / "child.stderr").read_text()
    if signum == signal.SIGKILL:
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"the child ended before the kill at record {records}"
    else:  # exits as a shell reports Ctrl-C, after checkpointing the step it was on
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130, (status, err)
        assert f"continue with: trainwell train --resume {cut}" in err and "Traceback" not in err
        step = json.loads((cut / "summary.json").read_text())["steps"]
        assert latest_checkpoint(cut / "checkpoints").step == step  # type: ignore[union-attr]
    assert main(["train", "--resume", str(cut)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    done = latest_checkpoint(cut / "checkpoints")
    assert done is not None and done.step == TOTAL
    _same_run(full, cut, load_model_weights(done.path))


def test_resuming_a_run_with_no_checkpoint_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tiny_config(training={"max_steps": 6}, checkpoint={"every": 6, "load_best_at_end": False}, evaluation={"every": 6})
    with pytest.raises(TrainingInterrupted):
        train(cfg, run_dir=tmp_path / "cut", callbacks=[SendSignal(2, signal.SIGINT)], resume=None)
    for child in (tmp_path / "cut" / "checkpoints").iterdir():  # as if killed before its first checkpoint
        child.rename(tmp_path / child.name)
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    assert "no checkpoint" in capsys.readouterr().out
    assert "no checkpoint" in json.loads((tmp_path / "cut" / "summary.json").read_text())["resume_note"]


@pytest.mark.slow
@pytest.mark.timeout(patient(300))
def test_sigint_to_a_fresh_trainwell_process_then_resume_is_bit_identical(
    tmp_path: Path, full: tuple[Path, dict[str, torch.Tensor]]
) -> None:
    """The same as the forked CLI test, in a fresh interpreter (`python -m trainwell.cli.main`), both legs."""
    import subprocess

    config = tmp_path / "c.yaml"
    config.write_text((full[0] / "config.yaml").read_text())  # every field set: the CLI recommends none
    cut, records = tmp_path / "cut", random.randrange(5, TOTAL // 2)
    cmd = [sys.executable, "-m", "trainwell.cli.main", "train"]
    proc = subprocess.Popen([*cmd, str(config), "--run-dir", str(cut)], env=python_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + patient(120)
    while proc.poll() is None and time.monotonic() < deadline:
        if (cut / "metrics.jsonl").exists() and (cut / "metrics.jsonl").read_bytes().count(b"\n") >= records:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.001)
    _, err = proc.communicate(timeout=patient(120))
    assert proc.returncode == 130, f"the child ended before the signal at record {records}: {err}"
    assert f"continue with: trainwell train --resume {cut}" in err and "Traceback" not in err
    resumed = subprocess.run([*cmd, "--resume", str(cut)], env=python_env(), capture_output=True, text=True, timeout=patient(120))
    assert resumed.returncode == 0, resumed.stderr
    done = latest_checkpoint(cut / "checkpoints")
    assert done is not None and done.step == TOTAL
    _same_run(full, cut, load_model_weights(done.path))
