"""`doctor --rename OLD=NEW`: a CSV whose loss column has a name the reader does not know is read with that column
named for it, without editing the file (the refusal said to rename the header)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trainwell.cli.main import main
from trainwell.doctor import read_history
from trainwell.doctor.readers.base import csv_header


def _log(tmp_path: Path) -> Path:
    path = tmp_path / "h.csv"
    rows = [f"{e},{2.3 * math.exp(-e / 8) + 0.1:.4f},{min(0.95, 0.3 + e * 0.03):.3f}" for e in range(30)]
    path.write_text("epoch,cost,score\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_refusal_names_the_option_and_the_option_reads_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    before = log.read_bytes()
    assert main(["doctor", str(log)]) == 2
    err = capsys.readouterr().err
    assert f"Fix: name them for the doctor without editing the file, `trainwell doctor {log} --rename COLUMN=NAME` (repeatable)" in err
    assert main(["doctor", str(log), "--rename", "cost=loss", "--rename", "score=val_accuracy", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["source"] == "csv"  # not keras-csv: a renamed header is not as a logger wrote it
    history = read_history(log, {"cost": "loss", "score": "val_accuracy"})
    assert len(history.train_loss) == 30 and len(history.eval["val_accuracy"]) == 30 and history.x_unit == "epoch"
    assert log.read_bytes() == before
    assert csv_header(log) == ["epoch", "cost", "score"]  # the renames end with the read


def test_a_rename_that_names_no_column_and_a_malformed_one_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    assert main(["doctor", str(log), "--rename", "cots=loss"]) == 2
    err = capsys.readouterr().err
    assert "2 problems found" in err and f"  - {log}: must name its loss or a held-out metric" in err  # cost is still unnamed
    assert (
        f"  - {log}: a renamed column must be one of the log's CSV columns, but got 'cots=loss'. Fix: its columns: cost, epoch, score"
    ) in err
    assert main(["doctor", str(log), "--rename", "cost=loss", "--rename", "scor=val_accuracy"]) == 2  # read, but a typo is not silent
    assert "1 problem found" in capsys.readouterr().err
    assert main(["doctor", str(log), "--rename", "cost", "--rename", "=loss", "--rename", "score=a", "--rename", "score=b"]) == 2
    err = capsys.readouterr().err
    assert "3 problems found" in err and "Traceback" not in err
    assert (
        "  - --rename: must be OLD=NEW (a column of the CSV and the name to read it as), but got 'cost'. Fix: e.g. --rename cost=loss"
        in err
    )
    assert "  - --rename: must rename each column once, but got 'score=b'" in err
