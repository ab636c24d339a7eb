"""The LR finder on the calibration corpus: fit find/peak.py's warmup-and-decay rule on the stored range tests and
score its picks leave-one-dataset-out, against the sweep-best LR and by training at the pick.

    python benchmarks/corpus/finder.py            # benchmarks/results/corpus_finder.json

The rule (find/peak.py): the run's average LR = AT_UNIT x stop_lr ** WEIGHT, where stop_lr is the last LR the
range test ran (where the loss blew up, or max_lr), and the peak = average / the schedule's mean multiplier.
Fit: least squares of log10(sweep-best LR x mean) on log10(stop_lr) over the scratch and frozen range tests of
the current finder sources (the ledger's ``finder`` hash; every seed counts); fine-tuning is one setting in the
corpus and keeps its own rule (scored as shipped, never fitted). The target is plan.sweep_best's vertex (the
best half-decade LR of the 2-seed validation means, refined by a parabola through its neighbours).

Leave-one-dataset-out: for each dataset, AT_UNIT and WEIGHT are fitted on the other datasets' range tests and
give the held-out settings' picks from their own stored curves; ``loo_items`` names a training run at each held-out
pick (stage ``find_loo``, 3 seeds: finder seed k trains at seed k), so the regret at the pick is measured, not
only read off the sweep's curve. "shipped" = the picks the finder made with the all-data constants (in-sample).

Scores: the pick / sweep-best ratio (within 2x: the issue's headline), the accuracy the setting's sweep curve
gives at the pick (``fit.curve_regret``: 2-seed test means interpolated in log LR) and, where the runs are in,
the 3-seed test mean of training at the pick against the sweep-best LR's 3-seed test mean. ``noise`` says how
far the ground truth itself moves: the vertex of seed 0's sweep against seed 1's.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import fit
import ledger
import methods
import plan
from settings import BY_NAME, Setting


def range_tests(book: dict[str, Any], finder_hash: str) -> list[dict[str, Any]]:
    """One row per (setting, seed) range test of ``finder_hash`` on a setting whose sweep is complete."""
    by_setting = {r["setting"].name: r for r in fit.rows(book)}
    out = []
    for e in book["runs"].values():
        if e.get("kind") != "find" or e.get("finder") != finder_hash or e["setting"] not in by_setting:
            continue
        row = by_setting[e["setting"]]
        if e["spec"]["setting_key"] != row["setting"].key() or not e.get("stop_lr"):
            continue
        out.append(
            {
                **e["shape"],
                "setting": e["setting"],
                "dataset": row["setting"].dataset,
                "family": row["setting"].family,
                "seed": e["seed"],
                "stop_lr": e["stop_lr"],
                "lr_min": e.get("lr_min"),
                "peak_lr": e.get("peak_lr"),
                "row": row,
            }
        )
    return sorted(out, key=lambda r: (r["setting"], r["seed"]))


def fit_rule(tests: list[dict[str, Any]]) -> tuple[float, float]:
    """(AT_UNIT, WEIGHT): least squares of log10(sweep-best x mean) on log10(stop_lr), fine-tuning left out."""
    used = [t for t in tests if t["mode"] != "finetune"]
    x = np.array([[1.0, math.log10(t["stop_lr"])] for t in used])
    y = np.array([math.log10(t["row"]["vertex"] * t["mean"]) for t in used])
    a, b = np.linalg.lstsq(x, y, rcond=None)[0]
    return float(10**a), float(b)


def rule_peak(t: dict[str, Any], at_unit: float, weight: float) -> float:
    """find/peak.py's warmup-and-decay pick under other constants (the corpus's runs all warm up and decay)."""
    if t["mode"] == "finetune":
        return float(t["peak_lr"])  # fine-tuning's own rule, as the finder ran it
    return min(at_unit * t["stop_lr"] ** weight / t["mean"], t["stop_lr"])


def complete(book: dict[str, Any], finder_hash: str) -> bool:
    """Every swept setting has its 3 range tests under ``finder_hash``: only then are the LOO constants final."""
    tests = range_tests(book, finder_hash)
    return len(tests) == len(methods.SEEDS) * len(fit.rows(book))


def loo_picks(book: dict[str, Any], finder_hash: str) -> list[dict[str, Any]]:
    """Per range test: the constants fitted without its dataset and the pick they give, beside the shipped one."""
    tests = range_tests(book, finder_hash)
    out = []
    for d in sorted({t["dataset"] for t in tests}):
        at_unit, weight = fit_rule([t for t in tests if t["dataset"] != d])
        for t in (t for t in tests if t["dataset"] == d):
            pick = rule_peak(t, at_unit, weight)
            vertex = t["row"]["vertex"]
            out.append(
                {
                    "setting": t["setting"],
                    "dataset": d,
                    "family": t["family"],
                    "mode": t["mode"],
                    "seed": t["seed"],
                    "stop_lr": t["stop_lr"],
                    "at_unit": round(at_unit, 6),
                    "weight": round(weight, 4),
                    "sweep_vertex_lr": round(vertex, 6),
                    "loo_peak": pick,
                    "loo_ratio": round(pick / vertex, 3),
                    "loo_curve_regret": round(fit.curve_regret(t, pick), 3),
                    "shipped_peak": t["peak_lr"],
                    "shipped_ratio": round(t["peak_lr"] / vertex, 3),
                    "shipped_curve_regret": round(fit.curve_regret(t, t["peak_lr"]), 3),
                }
            )
    return out


def loo_items(book: dict[str, Any], settings: list[Setting], finder_hash: str) -> list[plan.Item]:
    """A training run at each held-out pick (the sweep's stack at that LR, the finder's seed), once every range test
    of ``finder_hash`` is in (before that the constants of a fold could still move)."""
    if not complete(book, finder_hash):
        return []
    names = {s.name for s in settings}
    return [
        plan._item(BY_NAME[p["setting"]], "find_loo", "finder_loo", p["seed"], "train", {"optimizer.lr": methods.lr_round(p["loo_peak"])})
        for p in loo_picks(book, finder_hash)
        if p["setting"] in names
    ]


def _sweep_best_test(book: dict[str, Any], s: Setting, best: float) -> float | None:
    """The sweep-best LR's 3-seed test mean (seeds 0, 1 from the sweep, 2 from the oracle stage), or None."""
    tests = []
    for seed in methods.SEEDS:
        stage = "sweep" if seed in methods.SWEEP_SEEDS else "oracle"
        key = plan._item(s, stage, f"lr={best:g}", seed, "train", {"optimizer.lr": best}).key
        if key not in book["runs"]:
            return None
        tests.append(100 * book["runs"][key]["test_acc"])
    return statistics.fmean(tests)


def trained(book: dict[str, Any], picks: list[dict[str, Any]], key: str, stage: str) -> dict[str, dict[str, float]]:
    """setting -> the 3-seed test mean of training at its ``key`` picks and its regret against the sweep-best LR."""
    out = {}
    for name in sorted({p["setting"] for p in picks}):
        s = BY_NAME[name]
        mine = [p for p in picks if p["setting"] == name]
        keys = [plan._item(s, stage, "", p["seed"], "train", {"optimizer.lr": methods.lr_round(p[key])}).key for p in mine]
        row = next(r for r in fit.rows(book) if r["setting"].name == name)
        best = _sweep_best_test(book, s, row["best"])
        if len(keys) != len(methods.SEEDS) or best is None or any(k not in book["runs"] for k in keys):
            continue
        test = statistics.fmean(100 * book["runs"][k]["test_acc"] for k in keys)
        out[name] = {"test_mean": round(test, 3), "sweep_best_test_mean": round(best, 3), "regret": round(best - test, 3)}
    return out


def aggregate(picks: list[dict[str, Any]], key: str, runs: dict[str, dict[str, float]]) -> dict[str, Any]:
    ratios = [p[f"{key}_ratio"] for p in picks]
    regrets = [p[f"{key}_curve_regret"] for p in picks]
    out: dict[str, Any] = {
        "picks": len(picks),
        "within_2x": sum(0.5 <= x <= 2 for x in ratios),
        "share_within_2x": round(sum(0.5 <= x <= 2 for x in ratios) / len(ratios), 3),
        "below_half": sum(x < 0.5 for x in ratios),
        "above_2x": sum(x > 2 for x in ratios),
        "median_ratio": round(statistics.median(ratios), 3),
        "mean_curve_regret": round(statistics.fmean(regrets), 2),
        "worst_curve_regret": round(max(regrets), 2),
    }
    mine = [runs[n]["regret"] for n in sorted({p["setting"] for p in picks}) if n in runs]
    if mine:
        worst = max((n for n in runs if any(p["setting"] == n for p in picks)), key=lambda n: runs[n]["regret"])
        out.update(
            settings_trained=len(mine), mean_regret=round(statistics.fmean(mine), 2), worst_regret=round(max(mine), 2), worst_setting=worst
        )
    return out


def noise(book: dict[str, Any]) -> dict[str, Any]:
    """How far the ground truth moves with the seed: seed 0's sweep vertex against seed 1's, per setting."""
    ratios = []
    for r in fit.rows(book):
        sweep, _ = plan.sweep_items(r["setting"], book["runs"])
        v0 = plan.sweep_best(plan.sweep_means(sweep, book["runs"], seeds=(0,)))[1]
        v1 = plan.sweep_best(plan.sweep_means(sweep, book["runs"], seeds=(1,)))[1]
        ratios.append(v0 / v1)
    return {
        "settings": len(ratios),
        "seed0_vs_seed1_vertex_within_2x": sum(0.5 <= x <= 2 for x in ratios),
        "median_abs_log10_ratio": round(statistics.median(abs(math.log10(x)) for x in ratios), 3) if ratios else None,
    }


def scores(book: dict[str, Any], finder_hash: str | None = None) -> dict[str, Any]:
    """The all-data constants, the held-out and shipped scores overall and per family, and every pick."""
    finder_hash = finder_hash or ledger.finder_sources_hash()
    tests = range_tests(book, finder_hash)
    if not tests:
        return {"finder": finder_hash, "picks": 0}
    picks = loo_picks(book, finder_hash)
    at_unit, weight = fit_rule(tests)
    loo_runs, shipped_runs = trained(book, picks, "loo_peak", "find_loo"), trained(book, picks, "shipped_peak", "find_train")
    families = sorted({p["family"] for p in picks})
    return {
        "finder": finder_hash,
        "complete": complete(book, finder_hash),
        "picks": len(picks),
        "settings": len({p["setting"] for p in picks}),
        "all_data_fit": {"at_unit": round(at_unit, 6), "weight": round(weight, 4)},
        "loo": aggregate(picks, "loo", loo_runs),
        "shipped": aggregate(picks, "shipped", shipped_runs),
        "loo_by_family": {f: aggregate([p for p in picks if p["family"] == f], "loo", loo_runs) for f in families},
        "noise": noise(book),
        "trained": {"loo": loo_runs, "shipped": shipped_runs},
        "per_pick": picks,
    }


def markdown(f: dict[str, Any]) -> list[str]:
    """The README's finder table: held-out (LOO) and shipped, per family, losses included."""
    if not f.get("picks"):
        return []

    def regret(a: dict[str, Any]) -> str:
        if "mean_regret" not in a:
            return "not trained yet"
        return f"{a['mean_regret']:.2f} / {a['worst_regret']:.2f} ({a['worst_setting']}, {a['settings_trained']} settings)"

    lines = [
        "| finder (sources " + f["finder"] + ") | within 2x of the sweep-best | below half / above 2x | median pick / sweep-best | "
        "curve regret mean / worst | trained regret mean / worst (setting) |",
        "|---|---|---|---:|---|---|",
    ]
    rows = [("held out (LOO), all", f["loo"]), ("shipped constants (in-sample)", f["shipped"])]
    rows += [(f"held out, {fam}", a) for fam, a in f["loo_by_family"].items()]
    for label, a in rows:
        lines.append(
            f"| {label} | {a['within_2x']} of {a['picks']} ({100 * a['share_within_2x']:.0f} %) | {a['below_half']} / {a['above_2x']} | "
            f"{a['median_ratio']:.2f} | {a['mean_curve_regret']:.2f} / {a['worst_curve_regret']:.2f} | {regret(a)} |"
        )
    n = f["noise"]
    lines += [
        "",
        f"Ground truth's own noise: seed 0's sweep-best LR is within 2x of seed 1's on {n['seed0_vs_seed1_vertex_within_2x']} "
        f"of {n['settings']} settings. All-data constants: AT_UNIT {f['all_data_fit']['at_unit']:.4g}, WEIGHT {f['all_data_fit']['weight']:.3g}.",
    ]
    return lines


def main() -> None:
    book = ledger.load()
    found = scores(book)
    result = {
        "git_revision": ledger.git_revision(),
        "trainwell_revision": ledger.trainwell_revision(),
        "command": "python benchmarks/corpus/finder.py",
        # issue item 4's evidence: per family, the held-out picks against the LR law's held-out LRs on the sweep curves
        "rule_or_measure": fit.rule_or_measure(fit.law_scores(book), found),
        **found,
    }
    out = ledger.ROOT / "benchmarks" / "results" / "corpus_finder.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("per_pick", "trained", "loo_by_family")}, indent=1))
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    main()
