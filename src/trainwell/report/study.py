"""Read a tuning study into plain data: trials (number, state, value, params), the direction and the
parameter importances.

Two sources, tried in order: a trials table the tuner writes into the study folder (trials.jsonl,
trials.json or trials.csv: one row per trial with ``number``, ``state``, ``value`` and the parameters
either under ``params`` or as ``params_<name>`` columns, Optuna's ``trials_dataframe`` layout), or an
Optuna SQLite storage (``*.db``) in the folder. Importances come from Optuna (fANOVA) on a study rebuilt
from the trials, so both sources get them the same way.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainwell.errors import DataError, Problem
from trainwell.report.rundata import read_json

TABLES = ("trials.jsonl", "trials.json", "trials.csv")


@dataclass
class Trial:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING
    value: float | None
    params: dict[str, Any] = field(default_factory=dict)
    run_dir: str | None = None
    stage: str = ""  # the staged strategy's stage (lr, regularisation, ...), when the tuner records one


@dataclass
class StudyData:
    study_dir: Path
    trials: list[Trial]
    direction: str = "minimize"
    name: str = ""
    metric: str = "objective"
    source: str = ""
    notes: list[str] = field(default_factory=list)
    finalists: list[dict[str, Any]] = field(default_factory=list)  # finalists.json: {"trial", "params", "seeds", "values", "mean", "std"}
    reasons: list[dict[str, Any]] = field(default_factory=list)  # reasons.json of the winning configuration

    @property
    def complete(self) -> list[Trial]:
        return [t for t in self.trials if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value)]

    @property
    def best(self) -> Trial | None:
        done = self.complete
        if not done:
            return None
        pick = min if self.direction.startswith("min") else max
        return pick(done, key=lambda t: float(t.value or 0.0))

    def lr_param(self) -> str | None:
        """The learning-rate parameter's name (optimizer.lr preferred), if the search had one."""
        names = {k for t in self.trials for k in t.params}
        for name in ("optimizer.lr", "lr", "learning_rate"):
            if name in names:
                return name
        return next((n for n in sorted(names) if n.endswith("lr")), None)


def _number(value: Any) -> Any:
    """CSV cells are strings: turn numeric ones back into numbers."""
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return {"True": True, "False": False}.get(value, value)


def trial_from_row(row: dict[str, Any]) -> Trial:
    params = dict(row.get("params") or {})
    params.update({k[len("params_") :]: _number(v) for k, v in row.items() if k.startswith("params_") and v not in ("", None)})
    value = _number(row.get("value"))
    state = str(row.get("state") or "COMPLETE").upper().replace("TRIALSTATE.", "")
    return Trial(
        number=int(_number(row.get("number", 0))),
        state=state,
        value=float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
        params=params,
        run_dir=row.get("run_dir") or row.get("user_attrs_run_dir") or None,
        stage=str(row.get("stage") or ""),
    )


def _read_table(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows, study-level fields) of a trials table."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return list(csv.DictReader(text.splitlines())), {}
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()], {}
    data = json.loads(text)
    if isinstance(data, dict):
        return list(data.get("trials", [])), {k: v for k, v in data.items() if k != "trials"}
    return list(data), {}


def _from_table(study_dir: Path) -> StudyData | None:
    for name in TABLES:
        path = study_dir / name
        if path.is_file():
            try:
                rows, meta = _read_table(path)
            except (OSError, ValueError) as exc:
                raise DataError(
                    problems=[Problem(str(path), "trials table must be valid JSON/CSV", str(exc), "re-run `trainwell tune`")]
                ) from None
            meta.update(_study_json(study_dir))
            study = StudyData(study_dir, [trial_from_row(r) for r in rows], source=name)
            study.direction = str(meta.get("direction", "minimize")).lower()
            study.name, study.metric = str(meta.get("study_name", meta.get("name", ""))), str(meta.get("metric", "objective"))
            return study
    return None


def _study_json(study_dir: Path) -> dict[str, Any]:
    path = study_dir / "study.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _from_storage(study_dir: Path) -> StudyData | None:
    dbs = sorted(study_dir.glob("*.db"))
    if not dbs:
        return None
    from trainwell.errors import require

    optuna = require("optuna", "tune", "reading an Optuna study")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{dbs[0]}"
    summaries = optuna.get_all_study_summaries(storage=storage)
    if not summaries:
        return None
    study = optuna.load_study(study_name=summaries[-1].study_name, storage=storage)
    trials = [
        Trial(t.number, t.state.name, t.value if t.values and len(t.values) == 1 else None, dict(t.params), t.user_attrs.get("run_dir"))
        for t in study.trials
    ]
    meta = _study_json(study_dir)
    data = StudyData(study_dir, trials, direction=study.direction.name.lower(), name=study.study_name, source=dbs[0].name)
    data.metric = str(meta.get("metric", study.user_attrs.get("metric", "objective")))
    return data


def load_study(study_dir: str | Path) -> StudyData:
    path = Path(study_dir)
    if not path.is_dir():
        raise DataError(problems=[Problem(str(path), "study folder must exist", str(path), "pass the folder `trainwell tune` printed")])
    study = _from_table(path) or _from_storage(path)
    if study is None:
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    "a study folder holds trials.jsonl, trials.json, trials.csv or an Optuna *.db",
                    sorted(p.name for p in path.iterdir()),
                    "pass the folder `trainwell tune` wrote",
                )
            ]
        )
    study.finalists = [f for f in _json_list(path / "finalists.json", study.notes) if isinstance(f, dict)]
    study.reasons = [r for r in _json_list(path / "reasons.json", study.notes) if isinstance(r, dict) and r.get("field")]
    return study


def _json_list(path: Path, notes: list[str]) -> list[Any]:
    data = read_json(path, notes)
    return data if isinstance(data, list) else []


def importances(study: StudyData) -> tuple[dict[str, float], str]:
    """fANOVA importances over the complete trials, or ({}, why not)."""
    done = study.complete
    varying = sorted({k for t in done for k in t.params if len({repr(u.params.get(k)) for u in done}) > 1})
    if len(done) < 4 or not varying:
        return {}, "importances need at least 4 complete trials with a parameter that varies"
    try:
        import optuna
    except ImportError:
        return {}, "importances need optuna (pip install 'trainwell[tune]')"
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line; restored below
    try:
        rebuilt = optuna.create_study(direction="maximize" if study.direction.startswith("max") else "minimize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    dists = {k: _distribution(optuna, [t.params.get(k) for t in done if k in t.params]) for k in varying}
    for t in done:
        params = {k: t.params[k] for k in varying if k in t.params}
        rebuilt.add_trial(optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params}, value=t.value))
    # 16 shallow trees instead of Optuna's 64 deep ones: a third of the time on a few hundred trials, and the
    # ranking (all a reader takes from the bars) was the same on the studies we tried.
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=16, max_depth=8, seed=0)
    found = optuna.importance.get_param_importances(rebuilt, evaluator=evaluator)
    return {k: float(v) for k, v in found.items()}, "fANOVA (Optuna, 16 trees), over complete trials"


def _distribution(optuna: Any, values: list[Any]) -> Any:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) == len(values):
        lo, hi = min(nums), max(nums)
        if all(isinstance(v, int) for v in nums):
            return optuna.distributions.IntDistribution(int(lo), int(hi))
        return optuna.distributions.FloatDistribution(lo, hi, log=lo > 0 and hi / lo > 100)
    return optuna.distributions.CategoricalDistribution(sorted({repr(v): v for v in values}.values(), key=repr))
