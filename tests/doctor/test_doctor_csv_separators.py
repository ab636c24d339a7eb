"""A CSV log written with another separator (Keras' CSVLogger(separator=';'), a tab-separated export) is read as the
same log written with commas: the same series and the same findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainwell.doctor import diagnose, read_history

ROWS = [
    ("epoch", "accuracy", "loss", "val_accuracy", "val_loss"),
    *[
        (str(e), f"{0.5 + 0.04 * e:.3f}", f"{1.6 * 0.8**e:.4f}", f"{0.55 + 0.03 * e:.3f}", f"{1.5 * 0.85**e + 0.02 * e:.4f}")
        for e in range(12)
    ],
]


def _write(path: Path, separator: str) -> Path:
    path.write_text("\r\n".join(separator.join(row) for row in ROWS) + "\r\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("separator", [";", "\t"])
def test_another_separator_reads_as_commas(tmp_path: Path, separator: str) -> None:
    commas = _write(tmp_path / "commas.csv", ",")
    other = _write(tmp_path / "other.csv", separator)
    expected, got = read_history(commas), read_history(other)
    assert got.source == expected.source
    assert got.train_loss == expected.train_loss and got.eval == expected.eval and got.train_metrics == expected.train_metrics
    assert got.x_unit == expected.x_unit == "epoch" and len(expected.eval["val_loss"].values) == 12
    assert [(f.rule, f.severity) for f in diagnose(other).findings] == [(f.rule, f.severity) for f in diagnose(commas).findings]
