"""Progress off a terminal: plain periodic lines (step, loss, throughput, ETA) on stderr instead of
nothing; the bar on a terminal; silent when asked (issue H, item 9)."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from tw_engine_helpers import tiny_config

from trainwell.cli.main import main
from trainwell.engine import progress
from trainwell.run import train

CFG = tiny_config(training={"max_steps": 30}, evaluation={"every": 10}, checkpoint={"every": 30})


def test_off_a_terminal_train_prints_plain_progress_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "LINES_EVERY_S", 0.0)  # a line at every step, so the test sees several
    train(tiny_config(**{**CFG, "logging": {**CFG["logging"], "progress": "auto"}}), run_dir=tmp_path / "run")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train: step")]
    assert len(lines) == 31  # one per step and the closing one
    assert re.fullmatch(
        r"train: step 11/30 \(37%\), loss [\d.e-]+, lr [\d.e-]+, val_loss [\d.e-]+, [\d,]+ samples/s, elapsed 0:\d\d, ETA 0:\d\d", lines[10]
    ), lines[10]  # after step 11: the eval of step 10 is the latest
    assert lines[-1].startswith("train: step 30/30 (100%)") and "ETA" not in lines[-1]


def test_progress_off_is_silent_and_json_output_stays_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "LINES_EVERY_S", 0.0)
    train(CFG, run_dir=tmp_path / "quiet")  # logging.progress: off
    assert "train: step" not in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config(**{**CFG, "logging": {**CFG["logging"], "progress": "auto"}})))
    assert main(["train", str(config), "--run-dir", str(tmp_path / "json"), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["summary"]["steps"] == 30  # progress went to stderr
    assert "train: step 30/30" in out.err


def test_the_bar_on_a_terminal_lines_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.delenv("CI", raising=False)
    assert progress.progress_enabled("auto") == "bar"
    monkeypatch.setenv("CI", "true")
    assert progress.progress_enabled("auto") == "lines"
    assert progress.progress_enabled("off") == "off" and progress.progress_enabled("on") == "bar"


def test_the_rate_and_eta_start_at_the_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lr-find`'s bar starts before the task and model are built: the first line forecast 21 hours from one
    step that had waited 25 s for them. Throughput and ETA now count from the first step; elapsed keeps all."""
    clock = iter([0.0, 25.0, 35.0, 45.0])  # bar created; step 1 after the build; step 101; the end
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    lines = progress.PlainLines(total=1001, start=0, label="lr-find", final=True, every=0.0, stream=out)
    lines.set(1, "")
    lines.set(101, "")
    lines.close()
    first, later, last = out.getvalue().splitlines()
    assert first == "lr-find: step 1/1001 (0%), elapsed 0:25"  # one step: no rate to forecast from
    assert later == "lr-find: step 101/1001 (10%), 10.0 steps/s, elapsed 0:35, ETA 1:30"
    assert last == "lr-find: step 101/1001 (10%), 5.0 steps/s, elapsed 0:45"
