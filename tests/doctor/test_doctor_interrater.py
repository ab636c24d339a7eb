"""The inter-rater study (benchmarks/doctor_interrater.py): the second labels name manifest logs, and the
comparison counts labeller and doctor agreement over the logs labelled twice."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture
def interrater(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("doctor_interrater")
    yield module
    for name in ("doctor_interrater", "doctor_corpus"):
        sys.modules.pop(name, None)


def test_second_labels_name_manifest_logs_with_known_labels(interrater: ModuleType) -> None:
    manifest = {e["id"]: e for e in json.loads(interrater.MANIFEST.read_text())["logs"]}
    known = set(sys.modules["doctor_corpus"].FAMILIES) | {"healthy", "too-short"}
    rows = json.loads(interrater.SECOND.read_text())["labels"]
    assert rows
    for row in rows:
        assert manifest[row["id"]]["split"] == row["split"]
        assert row["label"] in known and row["reading"]


def _state(losses: list[float], evals: list[float]) -> bytes:
    history = [{"step": 10 * (i + 1), "epoch": i + 1, "loss": v} for i, v in enumerate(losses)]
    history += [{"step": 10 * (i + 1), "epoch": i + 1, "eval_loss": v} for i, v in enumerate(evals)]
    return json.dumps({"log_history": history, "global_step": 10 * len(losses)}).encode()


def test_compare_counts_labellers_and_doctor(interrater: ModuleType, tmp_path: Path) -> None:
    converged = [2.0, 1.0, 0.6, 0.45, 0.41, 0.40, 0.40, 0.40, 0.40, 0.40]
    logs = {"a": _state(converged, converged), "b": _state(converged, converged)}
    entries = []
    for name, data in logs.items():
        (tmp_path / name).write_bytes(data)
        entries.append({"id": name, "label": "healthy", "format": "hf-trainer-state", "sha256": hashlib.sha256(data).hexdigest()})
    second = {"a": {"label": "healthy", "reading": "r"}, "b": {"label": "overfitting", "reading": "r", "judgement": True}}
    result = interrater.compare(entries, second, tmp_path)
    assert result["logs_labelled_twice"] == 2 and result["labeller_agreement"] == 0.5
    assert result["consensus_logs"] == 1 and result["second_judgement_calls"] == 1
    assert result["label_pairs"] == {"healthy / overfitting": 1}
    # The doctor reads both converged runs the same way, so it can agree with at most one label of "b".
    assert result["doctor_vs_first"] == 1.0 and result["doctor_vs_second"] == 0.5 and result["doctor_vs_either"] == 1.0
