"""`tune` runs each trial as one process on one device: asked for many (--nproc, a config whose batch was
split over N processes, a start under torchrun) it says so and how to get them, and starts no study."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("optuna")

from trainwell.cli.main import main


def test_tune_says_it_runs_trials_in_one_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "study"
    assert main(["tune", "--nproc", "2", "--trials", "1", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "each trial as one process on one device" in err and "trainwell train CONFIG --nproc N" in err
    # a batch chosen for 2 processes (`recommend --gpus 2`) would train at half that batch in a trial
    assert main(["tune", "distributed.processes=2", "batch.size=16", "--trials", "1", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "16 x 1 x 2 = 32 needs 2 processes" in err and "batch.size 32" in err and "Traceback" not in err
    monkeypatch.setenv("WORLD_SIZE", "2")  # started by torchrun: every rank would run its own study
    assert main(["tune", "--trials", "1", "--run-dir", str(run)]) == 2
    assert "was started by torchrun" in capsys.readouterr().err and not run.exists()
