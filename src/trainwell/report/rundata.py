"""Read a run folder (docs/ARCHITECTURE.md, "Run folder") into one plain object for the report.

Every file is optional except the folder itself: a run that crashed half way still has a config and some
metrics, and its report should show what is there and say what is missing rather than fail. Nothing here
imports torch or matplotlib.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainwell.config.paths import flatten, get_path
from trainwell.doctor.readers.trainwell_run import metrics_records
from trainwell.errors import DataError, Problem
from trainwell.findings import normalise

__all__ = ["RunData", "best_eval", "diagnosis", "finite", "flatten", "load_run", "read_json", "read_metrics"]


@dataclass
class RunData:
    """Everything the report shows about one run; absent files leave their field empty."""

    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    train: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, dict[str, Any]] = field(default_factory=dict)
    lr_find: dict[str, Any] | None = None
    diagnosis: dict[str, Any] | None = None  # findings.json: {"findings": [...], "notes": [...], "skipped": {...}}
    notes: list[str] = field(default_factory=list)  # what could not be read, shown at the foot of the page

    @property
    def metric(self) -> str:
        return str(self.summary.get("metric") or get_path(self.config, "evaluation.metric") or "val_loss")

    @property
    def mode(self) -> str:
        return str(self.summary.get("mode") or get_path(self.config, "evaluation.mode") or "min")

    @property
    def best_step(self) -> int | None:
        """The summary's best step, else the best evaluation in the log (a run that crashed has no summary)."""
        if isinstance(self.summary.get("best_step"), (int, float)):
            return int(self.summary["best_step"])
        best = best_eval(self.evals, self.metric, self.mode)
        return int(best["step"]) if best else None

    @property
    def last_step(self) -> int | None:
        steps = [int(r["step"]) for r in (*self.train, *self.evals) if isinstance(r.get("step"), (int, float))]
        return max(steps) if steps else None


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def best_eval(evals: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any] | None:
    """The evaluation row with the best finite ``metric`` (first one on ties, as early stopping counts)."""
    rows = [r for r in evals if finite(r.get(metric)) and finite(r.get("step"))]
    if not rows:
        return None
    pick = min if mode == "min" else max
    return pick(rows, key=lambda r: float(r[metric]))


def read_json(path: Path, notes: list[str]) -> Any:
    """A JSON file's content; None when it is absent, and when it cannot be read (with a note saying so)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name} could not be read ({exc.__class__.__name__}: {exc}); left out.")
        return None


def _read_config(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        notes.append("config.yaml is missing, so the config table is empty and the run cannot be reproduced from its folder.")
        return {}
    from trainwell.config.documents import read_document
    from trainwell.errors import DataError

    try:
        data = read_document(path, DataError)
    except DataError as exc:
        notes.append(f"config.yaml could not be read ({exc.problems[0].rule}); the config table is empty.")
        return {}
    return data if isinstance(data, dict) else {}


def read_metrics(path: Path, notes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """metrics.jsonl -> (train rows, eval rows). A torn last line (a killed run) is skipped with a note."""
    train: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    if not path.is_file():
        notes.append("metrics.jsonl is missing, so there are no curves.")
        return train, evals
    bad = 0
    for _, row in metrics_records(path):
        if row is None:
            bad += 1
        elif row.get("event") == "eval":
            evals.append(row)
        elif row.get("event") == "train":
            train.append(row)
    if bad:
        notes.append(f"metrics.jsonl: {bad} malformed line{'s' if bad != 1 else ''} skipped.")
    return train, evals


def _reasons(data: Any) -> dict[str, dict[str, Any]]:
    """reasons.json is a list of {"field", "value", "rule", "why", "source"}; key it by field."""
    if isinstance(data, dict):  # tolerate {"reasons": [...]} as well
        data = data.get("reasons", [])
    if not isinstance(data, list):
        return {}
    return {str(r["field"]): r for r in data if isinstance(r, dict) and r.get("field")}


def diagnosis(data: Any) -> dict[str, Any] | None:
    """A doctor Diagnosis.to_dict() (or a bare list of findings) normalised to findings/notes/skipped; each
    finding has today's keys (``trainwell.findings``), also one an older run folder wrote (``code``, ``critical``)."""
    if isinstance(data, list):
        data = {"findings": data}
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        return None
    findings = [normalise(f) if isinstance(f, dict) else {"message": str(f)} for f in data["findings"]]
    skipped = data.get("skipped")
    return {"findings": findings, "notes": list(data.get("notes") or []), "skipped": dict(skipped) if isinstance(skipped, dict) else {}}


# What makes a folder a run: a report of a folder with none of these would describe nothing.
RUN_FILES = ("config.yaml", "metrics.jsonl", "summary.json")


def load_run(run_dir: str | Path) -> RunData:
    """Read every file of a run folder that is there; a path that is not a folder is a DataError."""
    path = Path(run_dir)
    if not path.is_dir():
        raise DataError(problems=[Problem(str(path), "run folder must exist", str(path), "pass the folder `trainwell train` printed")])
    if not any((path / name).is_file() for name in RUN_FILES):
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    f"must be a run folder (holding {', '.join(RUN_FILES)})",
                    "a folder with none of them",
                    "pass the folder `trainwell train` printed",
                )
            ]
        )
    run = RunData(run_dir=path)
    notes = run.notes
    run.config = _read_config(path / "config.yaml", notes)
    run.environment = read_json(path / "environment.json", notes) or {}
    run.summary = read_json(path / "summary.json", notes) or {}
    if not run.summary:
        notes.append("summary.json is missing: the run did not finish, so the header is derived from the log.")
    run.train, run.evals = read_metrics(path / "metrics.jsonl", notes)
    run.reasons = _reasons(read_json(path / "reasons.json", notes))
    lr_find = read_json(path / "lr_find.json", notes)
    run.lr_find = lr_find if isinstance(lr_find, dict) else None
    run.diagnosis = diagnosis(read_json(path / "findings.json", notes))
    return run
