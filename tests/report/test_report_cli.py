"""`trainwell report RUN_DIR`: writes the page, tells a study folder from a run folder, and fails without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainwell.cli.main import main
from trainwell.cli.report_cmd import is_study

pytest.importorskip("matplotlib")


def test_report_verb_writes_the_page_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("task: digits\n", encoding="utf-8")
    assert main(["report", str(run_dir), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "run" and Path(out["report"]) == run_dir / "report.html" and out["seconds"] >= 0
    assert (run_dir / "report.html").is_file()


def test_report_verb_on_a_missing_folder_exits_2_with_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "run folder must exist" in err and "Traceback" not in err


def test_study_folders_are_told_from_run_folders(tmp_path: Path) -> None:
    (tmp_path / "trials.json").write_text("[]", encoding="utf-8")
    assert is_study(tmp_path)
    (tmp_path / "metrics.jsonl").write_text("", encoding="utf-8")
    assert not is_study(tmp_path)  # a run folder that happens to hold a trials table stays a run


def test_report_verb_on_a_study_folder_writes_the_study_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"number": i, "state": "COMPLETE", "value": 1.0 / (i + 1), "params": {"lr": 10.0 ** -(i + 2)}} for i in range(3)]
    (tmp_path / "trials.json").write_text(json.dumps({"direction": "minimize", "metric": "val_loss", "trials": rows}), encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "trainwell study" in (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow  # a fresh interpreter importing matplotlib
def test_report_generation_never_imports_torch(run_dir: Path) -> None:
    code = (
        "import sys; from trainwell.report import write_report; "
        f"write_report({str(run_dir)!r}); "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_open_hands_the_file_uri_to_the_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda uri: opened.append(uri) or True)
    (tmp_path / "config.yaml").write_text("task: digits\n", encoding="utf-8")
    assert main(["report", str(tmp_path), "--open"]) == 0
    assert opened == [(tmp_path / "report.html").resolve().as_uri()]
