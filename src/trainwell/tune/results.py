"""What a finished study leaves behind: finalists re-run over seeds, the winner as a ready-to-train config
with a reason per tuned value, the trials table and plots.

The winner is chosen by the mean over seeds of the top three configurations, not by the single best
trial: one lucky seed can put a mediocre configuration on top of a study (the usual winner's curse of
picking a maximum among noisy estimates).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainwell.files import write_text_atomic
from trainwell.tune.spec import SearchSpace
from trainwell.tune.staged import stage_of


@dataclass
class Finalist:
    number: int
    params: dict[str, Any]
    values: list[float] = field(default_factory=list)  # one per seed; the first is the trial itself
    seeds: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        return statistics.pstdev(self.values) if len(self.values) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"trial": self.number, "params": self.params, "seeds": self.seeds, "values": self.values, "mean": self.mean, "std": self.std}


def top_trials(trials: Sequence[Any], maximize: bool, k: int = 3) -> list[Any]:
    """The k best complete trials with distinct parameters."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)]
    done.sort(key=lambda t: -t.value if maximize else t.value)
    out: list[Any] = []
    seen: set[str] = set()
    for t in done:
        key = json.dumps(t.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(t)
        if len(out) == k:
            break
    return out


def pick_winner(finalists: list[Finalist], maximize: bool) -> Finalist:
    """Best mean over seeds; a tie goes to the steadier one (smaller spread)."""
    return sorted(finalists, key=lambda f: ((-f.mean if maximize else f.mean), f.std))[0]


def run_finalists(top: Sequence[Any], seeds: int, base_seed: int, evaluate: Callable[[Any, int], float]) -> list[Finalist]:
    """Re-run each top trial with ``seeds - 1`` further seeds (its own run is the first seed)."""
    finalists = []
    for t in top:
        f = Finalist(t.number, dict(t.params), [float(t.value)], [base_seed])
        for k in range(1, seeds):
            f.seeds.append(base_seed + k)
            f.values.append(float(evaluate(t, base_seed + k)))
        finalists.append(f)
    return finalists


def trial_rows(trials: Sequence[Any]) -> list[dict[str, Any]]:
    """One plain row per trial, in the layout trainwell.report.study reads."""
    rows = []
    for t in trials:
        tag = str(t.user_attrs.get("tag", ""))
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": dict(t.params),
                "stage": stage_of(tag),
                "tag": tag,
                "why": t.user_attrs.get("why", ""),
                "cost": t.user_attrs.get("cost"),
                "epochs": t.user_attrs.get("epochs"),
                "retry_of": t.system_attrs.get("failed_trial"),
                "error": t.user_attrs.get("error"),
                "run_dir": t.user_attrs.get("run_dir"),
                "duration_s": t.duration.total_seconds() if t.duration is not None else None,
            }
        )
    return rows


def write_tables(run_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    write_text_atomic(run_dir / "trials.json", json.dumps({**meta, "trials": rows}, indent=2, default=str) + "\n")
    names = sorted({k for r in rows for k in r["params"]})
    columns = ["number", "state", "value", "stage", "cost", "epochs", "retry_of", "duration_s", *(f"params_{n}" for n in names), "why"]
    with open(run_dir / "trials.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, **{f"params_{n}": r["params"].get(n, "") for n in names}})


def tuned_reasons(
    space: SearchSpace, start: dict[str, Any], winner: Finalist, rows: list[dict[str, Any]], maximize: bool, metric: str
) -> list[dict[str, Any]]:
    """reasons.json entries for every searched and fixed value of the winning configuration."""
    out: list[dict[str, Any]] = []
    for spec in space.params:
        value = winner.params.get(spec.name)
        tried = sorted({json.dumps(r["params"].get(spec.name), default=str) for r in rows if r["state"] == "COMPLETE"})
        changed = json.dumps(value, default=str) != json.dumps(start.get(spec.name), default=str)
        why = (
            f"{'changed from' if changed else 'kept at'} the start value {start.get(spec.name)!r}: the winning configuration "
            f"(trial {winner.number}, mean {metric} {winner.mean:.4g} over {len(winner.values)} seed(s), "
            f"{'higher' if maximize else 'lower'} is better) among {len(tried)} tried value(s) of {spec.name}"
        )
        out.append({"field": spec.path, "value": value, "rule": f"tune.{spec.category}", "why": why, "source": spec.source})
    for path, value in space.fixed.items():
        out.append({"field": path, "value": value, "rule": "tune.space", "why": "fixed by tune.space in the config", "source": "config"})
    return out


def best_config_text(config_yaml: str, reasons: list[dict[str, Any]], study_name: str) -> str:
    """The winning config as YAML, headed by one comment line per tuned value."""
    head = [f"# trainwell tune: best configuration of study '{study_name}' (train it with `trainwell train best_config.yaml`)"]
    head += [f"#   {r['field']} = {r['value']!r}: {r['why']}" for r in reasons]
    return "\n".join(head) + "\n" + config_yaml


def write_study_report(run_dir: Path) -> str | None:
    """report.html (trainwell.report's study page) and the same plots as RUN_DIR/plots/*.png (history,
    importances, lr_response); a note when they cannot be written."""
    from trainwell.errors import TrainwellError
    from trainwell.report import write_study_report as write

    try:
        write(run_dir, plots_dir=run_dir / "plots")
    except TrainwellError as exc:  # e.g. matplotlib is missing (pip install 'trainwell[plot]')
        return f"report.html and plots skipped: {exc}"
    return None
