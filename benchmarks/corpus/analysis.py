"""Reading the ledger: per setting, the sweep, the oracle, each method's 3-seed scores and the finder's picks.

Selection reads validation accuracy (the sweep-best LR, the oracle's config); what is reported is test
accuracy, in points (x100). A method's regret is the oracle's 3-seed test mean minus its own.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import methods
import plan
from settings import SETTINGS, Setting

PEER_NAMES = tuple(methods.PEERS)


@dataclass
class Scores:
    val: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)

    @property
    def val_mean(self) -> float:
        return statistics.fmean(self.val)

    @property
    def test_mean(self) -> float:
        return statistics.fmean(self.test)


def _identity(spec: dict[str, Any]) -> str:
    return json.dumps(spec.get("config") or spec["overrides"], sort_keys=True)


def interpolate(curve: dict[float, float], lr: float) -> float:
    """A sweep's mean accuracy at ``lr``, linear in log10 LR between grid points, flat past the ends."""
    lrs = sorted(curve)
    if lr <= lrs[0]:
        return curve[lrs[0]]
    if lr >= lrs[-1]:
        return curve[lrs[-1]]
    for a, b in itertools.pairwise(lrs):
        if a <= lr <= b:
            t = (math.log10(lr) - math.log10(a)) / (math.log10(b) - math.log10(a))
            return curve[a] + t * (curve[b] - curve[a])
    raise AssertionError("unreachable")


RECIPE_STAGES = ("peers", "trainwell", "trainwell_loo", "oracle")  # the stages a setting's extra seeds (methods.seeds) reach


def setting_report(
    s: Setting,
    book: dict[str, Any],
    finder_hash: str,
    extra: dict[str, list[plan.Item]] | None = None,
    seeds: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Everything the ledger says about one setting (``extra``: more method items, e.g. trainwell_loo). ``seeds``: the
    seeds the recipes and the oracle are scored on (default ``methods.seeds(s)``; ``methods.SEEDS`` gives the 3-seed
    protocol on every setting). The finder's figures always read its 3 seeds."""
    runs = book["runs"]
    facts = book["settings"][s.name]["facts"]
    wanted = seeds or methods.seeds(s)
    items, complete = plan.setting_items(s, facts, runs, finder_hash)
    items += (extra or {}).get(s.name, [])
    items = [i for i in items if i.stage not in RECIPE_STAGES or i.seed in wanted]
    done = [i for i in items if i.key in runs]
    out: dict[str, Any] = {
        "setting": s.name,
        "dataset": s.dataset,
        "facts": facts,
        "runs_done": len(done),
        "runs_named": len(items),
        "complete": complete and len(done) == len(items),
    }
    # Every trained config (sweep LR, random config, peer, recommendation) with its per-seed scores: the
    # oracle is the best of those trained on every seed scored (three, or five on a small test set).
    seeds_of: dict[str, dict[int, tuple[float, float]]] = {}
    labels: dict[str, set[str]] = {}
    for i in done:
        if i.spec["kind"] != "train" or i.stage == "find_train":
            continue
        e, ident = runs[i.key], _identity(i.spec)
        seeds_of.setdefault(ident, {})[i.seed] = (100 * e["val_acc"], 100 * e["test_acc"])
        labels.setdefault(ident, set()).add(i.method if i.stage in ("peers", "trainwell", "trainwell_loo") else f"{i.stage}:{i.method}")
    by_config = {k: Scores([v[0] for v in per.values()], [v[1] for v in per.values()]) for k, per in seeds_of.items()}
    sweep, swept = plan.sweep_items(s, runs)
    if swept:
        val_curve = plan.sweep_means(sweep, runs)
        test_curve = plan.sweep_means(sweep, runs, field="test_acc")
        best, vertex = plan.sweep_best(val_curve)
        out["sweep"] = {
            "val_mean": {f"{lr:.4g}": round(100 * v, 3) for lr, v in val_curve.items()},
            "test_mean": {f"{lr:.4g}": round(100 * v, 3) for lr, v in test_curve.items()},
            "best_lr": best,
            "vertex_lr": vertex,
        }
    candidates = {k: v for k, v in by_config.items() if len(v.test) == len(wanted)}
    oracle = None
    if out["complete"] and candidates:
        ident = max(candidates, key=lambda k: candidates[k].val_mean)
        oracle = candidates[ident]
        out["oracle"] = {
            "config": json.loads(ident),
            "found_by": sorted(labels.get(ident, set())),
            "val_mean": round(oracle.val_mean, 3),
            "test_mean": round(oracle.test_mean, 3),
            "candidates": len(candidates),
        }
    out["methods"] = {}
    for name in (*PEER_NAMES, "trainwell", "trainwell_loo"):
        mine = [i for i in done if i.method == name and i.stage in ("peers", "trainwell", "trainwell_loo")]
        if not mine:
            continue
        test = [100 * runs[i.key]["test_acc"] for i in mine]
        row: dict[str, Any] = {"seeds": len(test), "test": [round(t, 3) for t in test], "test_mean": round(statistics.fmean(test), 3)}
        row["lr"] = runs[mine[0].key].get("lr")
        row["failed"] = sum(runs[i.key].get("status", "ok") != "ok" for i in mine)
        if oracle is not None and len(test) == len(wanted):
            row["regret"] = round(oracle.test_mean - row["test_mean"], 3)
        out["methods"][name] = row
    finds = [i for i in done if i.stage == "find"]
    if finds:
        picks = []
        for i in sorted(finds, key=lambda i: i.seed):
            e = runs[i.key]
            pick: dict[str, Any] = {
                "seed": i.seed,
                "peak_lr": e.get("peak_lr"),
                "suggested_lr": e.get("suggested_lr"),
                "lr_min": e.get("lr_min"),
            }
            if "sweep" in out and e.get("peak_lr"):
                pick["ratio"] = e["peak_lr"] / out["sweep"]["vertex_lr"]
                pick["within_2x"] = 0.5 <= pick["ratio"] <= 2.0
            trained = [j for j in done if j.stage == "find_train" and j.seed == i.seed]
            if trained:
                pick["test"] = round(100 * runs[trained[0].key]["test_acc"], 3)
            picks.append(pick)
        out["finder"] = {"picks": picks}
        # the sweep-best LR's 3-seed mean (seeds 0, 1, 2, as the finder's picks), whatever seeds the recipes are scored on
        best_seeds = seeds_of.get(json.dumps({"optimizer.lr": out["sweep"]["best_lr"]}, sort_keys=True), {}) if "sweep" in out else {}
        best_cfg = Scores(
            [best_seeds[k][0] for k in methods.SEEDS if k in best_seeds], [best_seeds[k][1] for k in methods.SEEDS if k in best_seeds]
        )
        tested = [p["test"] for p in picks if "test" in p]
        if len(best_cfg.test) == len(methods.SEEDS) and len(tested) == len(methods.SEEDS):
            out["finder"]["sweep_best_test_mean"] = round(best_cfg.test_mean, 3)
            out["finder"]["test_mean"] = round(statistics.fmean(tested), 3)
            out["finder"]["regret_vs_sweep_best"] = round(best_cfg.test_mean - statistics.fmean(tested), 3)
            if oracle is not None:
                out["finder"]["regret_vs_oracle"] = round(oracle.test_mean - statistics.fmean(tested), 3)
    found = ablations(s, book, finder_hash)
    if found:
        out["ablations"] = found
    return out


def summary(reports: list[dict[str, Any]], trainwell: str = "trainwell_loo") -> dict[str, Any]:
    """Mean and worst regret per method over the settings with an oracle; how often trainwell beats every
    peer; the finder's within-2x share over settings x seeds and its mean regret."""
    with_oracle = [r for r in reports if "oracle" in r]
    out: dict[str, Any] = {"settings": len(reports), "settings_with_oracle": len(with_oracle), "methods": {}}
    for name in (*PEER_NAMES, "trainwell", "trainwell_loo"):
        regrets = [r["methods"][name]["regret"] for r in with_oracle if "regret" in r["methods"].get(name, {})]
        if regrets:
            worst = max(with_oracle, key=lambda r: r["methods"].get(name, {}).get("regret", -1e9))
            out["methods"][name] = {
                "settings": len(regrets),
                "mean_regret": round(statistics.fmean(regrets), 2),
                "median_regret": round(statistics.median(regrets), 2),
                "worst_regret": round(max(regrets), 2),
                "worst_setting": worst["setting"],
            }
    comparable = [
        r
        for r in with_oracle
        if "regret" in r["methods"].get(trainwell, {}) and all("regret" in r["methods"].get(p, {}) for p in PEER_NAMES)
    ]
    if comparable:
        wins = [r for r in comparable if all(r["methods"][trainwell]["test_mean"] > r["methods"][p]["test_mean"] for p in PEER_NAMES)]
        out["beats_every_peer"] = {
            "method": trainwell,
            "settings": len(comparable),
            "wins": len(wins),
            "share": round(len(wins) / len(comparable), 3),
        }
    picks = [p for r in reports for p in r.get("finder", {}).get("picks", []) if "ratio" in p]
    if picks:
        ratios = [p["ratio"] for p in picks]
        out["finder"] = {
            "picks": len(picks),
            "within_2x": sum(p["within_2x"] for p in picks),
            "within_2x_share": round(sum(p["within_2x"] for p in picks) / len(picks), 3),
            "below_half": sum(r < 0.5 for r in ratios),
            "above_2x": sum(r > 2.0 for r in ratios),
            "median_ratio": round(statistics.median(ratios), 3),
        }
        regrets = [r["finder"]["regret_vs_sweep_best"] for r in reports if "regret_vs_sweep_best" in r.get("finder", {})]
        if regrets:
            out["finder"].update(
                settings_trained=len(regrets),
                mean_regret_vs_sweep_best=round(statistics.fmean(regrets), 2),
                worst_regret_vs_sweep_best=round(max(regrets), 2),
            )
        vs_oracle = [r["finder"]["regret_vs_oracle"] for r in reports if "regret_vs_oracle" in r.get("finder", {})]
        if vs_oracle:
            out["finder"]["mean_regret_vs_oracle"] = round(statistics.fmean(vs_oracle), 2)
    return out


def all_reports(
    book: dict[str, Any], finder_hash: str, extra: dict[str, list[plan.Item]] | None = None, seeds: tuple[int, ...] | None = None
) -> list[dict[str, Any]]:
    return [setting_report(s, book, finder_hash, extra, seeds) for s in SETTINGS if s.name in book["settings"]]


def ablations(s: Setting, book: dict[str, Any], finder_hash: str) -> list[dict[str, Any]]:
    """Per recommended config ablated on this setting (``base``, newest recommender first) and rule: the test
    and validation accuracy with the rule off minus with it on, paired by seed, in points (> 0: the rule cost
    accuracy; for a rule the recommendation leaves off and the ablation switched on, ``switch`` is "on"). Every recommender revision's ablations are kept: a changed rule gives a new base.
    A config that measures its LR (plan.config_item) pairs with the run of the same finder sources, and is current
    only under ``finder_hash``."""
    runs = [e for e in book["runs"].values() if e.get("kind") == "train" and e.get("spec", {}).get("setting_key") == s.key()]
    by_config = {
        (e["spec"]["config_key"], e["spec"].get("finder"), e["seed"]): e
        for e in runs
        if "config_key" in e["spec"] and "ablation" not in e["spec"]
    }
    out: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for e in runs:
        spec = e["spec"]
        pair = (spec.get("base"), spec.get("finder"), e["seed"])
        if "ablation" not in spec or pair not in by_config:
            continue
        on = by_config[pair]
        row = out.setdefault(
            (spec["base"], spec.get("finder"), spec["ablation"]),
            {"base": spec["base"], "rule": spec["ablation"], "seeds": [], "test_delta": [], "val_delta": []},
        )
        if spec.get("finder"):
            row["finder"] = spec["finder"]
        # off minus on: the ablated run is the "off" side, unless the ablation switched the rule on
        sign = -1.0 if spec.get("switch") == "on" else 1.0
        row["switch"] = spec.get("switch", "off")
        row["seeds"].append(e["seed"])
        row["test_delta"].append(round(sign * 100 * (e["test_acc"] - on["test_acc"]), 3))
        row["val_delta"].append(round(sign * 100 * (e["val_acc"] - on["val_acc"]), 3))
    for row in out.values():
        row["test_delta_mean"] = round(statistics.fmean(row["test_delta"]), 3)
        row["val_delta_mean"] = round(statistics.fmean(row["val_delta"]), 3)
    current = plan.ablation_items(s, book["settings"][s.name]["facts"], finder_hash)
    now = (current[0].spec["base"], current[0].spec.get("finder")) if current else None
    for row in out.values():
        row["current"] = (row["base"], row.get("finder")) == now
    return sorted(out.values(), key=lambda r: (not r["current"], r["rule"]))


def ablation_delta(rows: list[dict[str, Any]], rule: str) -> float | None:
    """A setting's evidence about ``rule``: the mean paired test change (off minus on, points) of the current
    recommendation's ablation where both seeds are in, else the mean over the earlier recommenders' (the same rule
    switched off at a slightly different LR or stack: still evidence about the rule; all of them, not one picked by
    the ledger's key order); None where no ablation of it has both seeds."""
    done = [a for a in rows if a["rule"] == rule and len(a["seeds"]) == len(plan.ABLATE_SEEDS)]
    current = [a for a in done if a["current"]]
    chosen = current or done
    return round(statistics.fmean(a["test_delta_mean"] for a in chosen), 3) if chosen else None


def ablation_summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Per rule, over the settings where an ablation has both seeds (the current recommendation's first): how often
    switching the rule off helped (> +0.25 points), hurt (< -0.25) or made no difference, and the mean change,
    overall and per model family."""
    out: dict[str, Any] = {}
    for rule in methods.ABLATIONS:
        rows = [(r["facts"]["family"], d) for r in reports if (d := ablation_delta(r.get("ablations", []), rule)) is not None]
        if not rows:
            continue

        def count(deltas: list[float]) -> dict[str, Any]:
            return {
                "settings": len(deltas),
                "off_better": sum(d > ABLATION_NOISE for d in deltas),
                "off_worse": sum(d < -ABLATION_NOISE for d in deltas),
                "mean_test_delta": round(statistics.fmean(deltas), 2),
            }

        families = sorted({f for f, _ in rows})
        out[rule] = {**count([d for _, d in rows]), "by_family": {f: count([d for g, d in rows if g == f]) for f in families}}
    return out


ABLATION_NOISE = 0.25  # points: a paired 2-seed change smaller than this is counted as no difference
