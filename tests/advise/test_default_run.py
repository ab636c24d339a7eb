"""The flagship run end to end: `trainwell train` with no arguments (digits, recommended config) ends without a
doctor warning against its own recommendation (issue G item 6). ~10 s on a CPU core: slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_default_train_ends_without_its_own_doctor_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trainwell.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--run-dir", "run", "--format", "json", "report=false"]) == 0
    findings = json.loads((tmp_path / "run" / "findings.json").read_text())
    assert [f["rule"] for f in findings if f["severity"] in ("warning", "error")] == []
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"]["val_accuracy"] > 0.95
