"""`trainwell doctor`: text and JSON output, --plot, --fail-on, errors, and no torch import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainwell.cli.main import main

OVERFIT = {"loss": [1.0, 0.8, 0.6, 0.5, 0.4, 0.3], "val_loss": [1.0, 0.8, 0.7, 0.8, 0.9, 1.0]}


def _log(tmp_path: Path, data: dict[str, list[float]] = OVERFIT, name: str = "h.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_text_output_ranks_findings_with_evidence_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(_log(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "main finding: overfitting (warning)" in out
    # A Keras History: the fix in Keras' names.
    assert "evidence: val_loss @ epoch 3 = 0.7" in out and "fix:      keras.callbacks.EarlyStopping(monitor='val_loss'" in out


def test_json_output_for_several_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    healthy = _log(tmp_path, {"loss": [1.0, 0.5, 0.4, 0.35, 0.3, 0.29], "val_loss": [1.0, 0.6, 0.5, 0.47, 0.46, 0.46]}, "ok.json")
    assert main(["doctor", "--format", "json", str(_log(tmp_path)), str(healthy)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["main_finding"] for d in data] == ["overfitting", None]
    assert data[0]["findings"][0]["evidence"][0] == {"series": "val_loss", "step": 3.0, "value": 0.7, "label": "best (turn)"}


def test_plot_writes_a_png_per_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    assert main(["doctor", str(_log(tmp_path)), str(_log(tmp_path, name="b.json")), "--plot", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and (tmp_path / "curves-2.png").is_file()


def test_fail_on_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(_log(tmp_path)), "--fail-on", "warning"]) == 1
    assert main(["doctor", str(_log(tmp_path)), "--fail-on", "error"]) == 0
    assert main(["doctor", str(_log(tmp_path)), "--fail-on", "critical"]) == 0  # the old name of error, still accepted


def test_every_bad_path_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("nothing", encoding="utf-8")
    assert main(["doctor", str(tmp_path / "missing"), str(junk)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "must exist" in err and "supported training log" in err and "Traceback" not in err


def test_doctor_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom trainwell.cli.main import main\n"
        f"rc = main(['doctor', '--format', 'json', {str(_log(tmp_path))!r}])\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'tensorboard', 'transformers') if m in sys.modules]\n"
        "assert rc == 0 and not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_plot_without_matplotlib_exits_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["doctor", str(_log(tmp_path)), "--plot", str(tmp_path / "x.png")]) == 3
    assert "trainwell[plot]" in capsys.readouterr().err
