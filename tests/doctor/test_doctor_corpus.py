"""The labelled real-log corpus: its manifest is complete and its scoring script scores what it says.

The logs themselves live outside the repository (../cache/real-logs); these tests read only the manifest
and score synthetic histories, so they run everywhere.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from trainwell.doctor import History, Series
from trainwell.doctor.checks import diagnose

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "benchmarks" / "doctor_corpus" / "manifest.json"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("doctor_corpus", ROOT / "benchmarks" / "doctor_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_manifest_has_sixty_sourced_labelled_logs_split_by_hash() -> None:
    logs = json.loads(MANIFEST.read_text())["logs"]
    first = [e for e in logs if e["split"] in ("dev", "test")]
    script = _script()
    known = set(script.FAMILIES) | {"healthy", "too-short"}
    substantive = [e for e in first if e["label"] != "too-short"]
    assert len(substantive) >= 60
    assert len({e["id"] for e in logs}) == len(logs)
    assert len({e["sha256"] for e in logs}) == len(logs)  # no byte-identical duplicates
    for e in logs:
        assert {"id", "repo", "commit", "path", "licence", "format", "label", "reading", "split"} <= e.keys()
        assert len(e["commit"]) == 40 and e["label"] in known and e["reading"]
    for e in first:
        assert e["split"] == ("dev" if int(hashlib.sha256(e["id"].encode()).hexdigest(), 16) % 2 == 0 else "test")
    # test2 to test7 are fresh held-out sets, each gathered after the earlier splits had been scored: at least 30 logs
    # each, none from a repository an earlier split already used.
    earlier = {e["repo"] for e in first}
    for split in ("test2", "test3", "test4", "test5", "test6", "test7"):
        fresh = [e for e in logs if e["split"] == split]
        assert len(fresh) >= 30
        assert not {e["repo"] for e in fresh} & earlier
        earlier |= {e["repo"] for e in fresh}
    assert {e["split"] for e in logs} == set(script.SPLITS)


def test_agreement_follows_the_label_families() -> None:
    script = _script()
    steps = [float(i) for i in range(1, 11)]
    falling = History(
        "keras",
        x_unit="epoch",
        train_loss=Series(steps, [1.0 / s for s in steps]),
        eval={"val_loss": Series(steps, [1.2 / s for s in steps])},
    )
    rising = History(
        "keras",
        x_unit="epoch",
        train_loss=Series(steps, [1.0 / s for s in steps]),
        eval={"val_loss": Series(steps, [0.5 + abs(s - 3) * 0.1 for s in steps])},
    )
    assert script.agrees("healthy", diagnose(falling))
    assert script.agrees("overfitting", diagnose(rising))
    assert not script.agrees("healthy", diagnose(rising))
    assert script.agrees("too-short", None) and not script.agrees("healthy", None)


def test_absent_logs_are_skipped_and_said(tmp_path: Path) -> None:
    entry = {"id": "x.json", "sha256": "0" * 64, "label": "healthy", "format": "keras-history"}
    result = _script().score([entry], tmp_path)
    assert result["logs_scored"] == 0 and result["skipped"] == [f"x.json: not in {tmp_path}"]


def test_check_mode_says_which_logs_are_absent_or_altered_without_running_the_doctor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(b"{}")
    bad.write_bytes(b"[]")
    entry = {"id": "good.json", "sha256": hashlib.sha256(b"{}").hexdigest()}
    assert script.unreadable(entry, tmp_path) is None
    assert script.unreadable({"id": "bad.json", "sha256": entry["sha256"]}, tmp_path) == "bad.json: sha256 differs from the manifest"
    assert script.unreadable({"id": "gone.json", "sha256": entry["sha256"]}, tmp_path) == f"gone.json: not in {tmp_path}"
    # On an empty cache every log of the split is reported missing and the exit status says so.
    assert script.main(["--split", "test5", "--check", "--cache", str(tmp_path)]) == 1
    out = capsys.readouterr()
    total = sum(1 for e in json.loads(MANIFEST.read_text())["logs"] if e["split"] == "test5")
    assert f"test5: 0 of {total} logs in {tmp_path}" in out.out
    assert out.err.count("not in") == total
