"""SGD or AdamW for MLPs from scratch, predicted from the setting's facts: the pre-registered leave-one-dataset-out
test of benchmarks/corpus/PREREG_optimizer.md.

    python benchmarks/corpus/optimizer.py [--train]

Arm A is the held-out recommendation as trained (the ``trainwell_loo`` runs); arm B is the same config per seed with
the PyTorch SGD peer's optimizer block on top (probe.py's ``sgd-mlp`` variant), trained on every MLP setting's seeds
with ``--train`` (recorded in the ledger, spec ``probe: sgd-mlp``). Per held-out dataset a one-fact threshold rule
(or "never switch") is chosen on the other datasets' MLP settings by their validation gain (B minus A), applied to
the held-out dataset's MLPs, and the corpus is scored with report.py's definitions before and after (B's runs in
place of the ``trainwell_loo`` runs where the rule switches). Writes benchmarks/results/corpus_optimizer.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import analysis
import decisions
import fit
import ledger
import methods
import plan
import probe
from settings import BY_NAME, SETTINGS

VARIANT = "sgd-mlp"
FACTS = ("steps", "width", "depth", "n_train", "batch", "num_classes")  # the candidate facts, in tie-break order
MARGIN = decisions.NOISE  # points: a rule must gain more than this per switched setting on its training settings
FAMILY = "mlp"


@dataclass(frozen=True)
class Rule:
    """Switch to SGD where ``fact`` <= ``threshold`` (``op`` "<=") or >= it; ``fact`` None: never switch."""

    fact: str | None = None
    op: str = "<="
    threshold: float = 0.0

    def switches(self, facts: dict[str, Any]) -> bool:
        if self.fact is None:
            return False
        value = float(facts[self.fact])
        return value <= self.threshold if self.op == "<=" else value >= self.threshold

    def text(self) -> str:
        return "never switch" if self.fact is None else f"SGD where {self.fact} {self.op} {self.threshold:g}"


def loo_items(book: dict[str, Any], finder_hash: str) -> dict[str, list[plan.Item]]:
    """setting -> its ``trainwell_loo`` items (the tables and decisions frozen in the ledger), as report.build names them."""
    frozen = book.get(fit.loo_key(book), {})
    out: dict[str, list[plan.Item]] = {}
    for i in fit.loo_items(book, SETTINGS, finder_hash)[0]:
        if BY_NAME[i.setting].dataset in frozen:
            out.setdefault(i.setting, []).append(i)
    return out


def sgd_items(loo: dict[str, list[plan.Item]], finder_hash: str) -> dict[str, list[plan.Item]]:
    """setting -> arm B's items: each MLP's held-out config per seed with the SGD variant on top."""
    out = {}
    for name, items in loo.items():
        s = BY_NAME[name]
        if s.family != FAMILY:
            continue
        out[name] = [
            plan.config_item(
                s, "probe", f"probe:{VARIANT}", i.seed, probe.variant_config(i.spec["config"], VARIANT), finder_hash, probe=VARIANT
            )
            for i in items
        ]
    return out


def val_mean(book: dict[str, Any], items: list[plan.Item]) -> float:
    return statistics.fmean(100 * book["runs"][i.key]["val_acc"] for i in items)


def candidates(rows: list[dict[str, Any]]) -> list[Rule]:
    """Never switching, and every one-fact threshold at a value the training settings take, both directions."""
    out = [Rule()]
    for fact in FACTS:
        for op in ("<=", ">="):
            out += [Rule(fact, op, t) for t in sorted({float(r["facts"][fact]) for r in rows})]
    return out


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The pre-registered choice on ``rows`` (the training settings: facts and validation gain B minus A)."""
    best: tuple[tuple[float, int, int], Rule, list[dict[str, Any]]] | None = None
    for k, rule in enumerate(candidates(rows)[1:]):
        switched = [r for r in rows if rule.switches(r["facts"])]
        if not switched or statistics.fmean(r["gain"] for r in switched) <= MARGIN:
            continue
        # the largest summed gain; ties: fewer switched settings, then the candidates' order (fact, "<=" first, threshold)
        rank = (-sum(r["gain"] for r in switched), len(switched), k)
        if best is None or rank < best[0]:
            best = (rank, rule, switched)
    rule, switched = (best[1], best[2]) if best is not None else (Rule(), [])
    total = sum(r["gain"] for r in switched)
    return {
        "rule": rule,
        "text": rule.text(),
        "training_settings": len(rows),
        "switched_training": sorted(r["setting"] for r in switched),
        "training_gain_sum": round(total, 3),
        "training_gain_mean_switched": round(statistics.fmean(r["gain"] for r in switched), 3) if switched else None,
    }


def scored(book: dict[str, Any], finder_hash: str, extra: dict[str, list[plan.Item]]) -> dict[str, Any]:
    reports = analysis.all_reports(book, finder_hash, extra)
    three = analysis.all_reports(book, finder_hash, extra, seeds=methods.SEEDS)
    return {"summary": analysis.summary(reports), "summary_3_seeds": analysis.summary(three), "reports": {r["setting"]: r for r in reports}}


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    m, b = summary["methods"]["trainwell_loo"], summary["beats_every_peer"]
    return {
        "wins": b["wins"],
        "settings": b["settings"],
        "mean": m["mean_regret"],
        "median": m["median_regret"],
        "worst": m["worst_regret"],
        "worst_setting": m["worst_setting"],
    }


def as_loo(items: list[plan.Item]) -> list[plan.Item]:
    """Arm B's runs standing in for the held-out recommendation's (the report scores the ``trainwell_loo`` method)."""
    return [plan.Item(i.setting, "trainwell_loo", "trainwell_loo", i.seed, i.spec, i.key) for i in items]


def evaluate(book: dict[str, Any], finder_hash: str) -> dict[str, Any]:
    loo = loo_items(book, finder_hash)
    sgd = sgd_items(loo, finder_hash)
    missing = [i for items in sgd.values() for i in items if i.key not in book["runs"]]
    if missing:
        raise SystemExit(f"{len(missing)} runs of arm B are not in the ledger: run with --train first")
    rows = []
    for name, items in sgd.items():
        s = BY_NAME[name]
        a, b = val_mean(book, loo[name]), val_mean(book, items)
        facts = book["settings"][name]["facts"]
        rows.append(
            {
                "setting": name,
                "dataset": s.dataset,
                "facts": {f: facts[f] for f in FACTS},
                "val_a": round(a, 3),
                "val_b": round(b, 3),
                "gain": b - a,
            }
        )
    folds = {}
    after = dict(loo)
    for d in sorted({r["dataset"] for r in rows}):
        chosen = choose([r for r in rows if r["dataset"] != d])
        held = [r for r in rows if r["dataset"] == d]
        switched = [r["setting"] for r in held if chosen["rule"].switches(r["facts"])]
        for name in switched:
            after[name] = as_loo(sgd[name])
        folds[d] = {**{k: v for k, v in chosen.items() if k != "rule"}, "held_out": [r["setting"] for r in held], "switched": switched}
    all_data = choose(rows)
    before, now = scored(book, finder_hash, loo), scored(book, finder_hash, after)
    per_setting = []
    for r in rows:
        name = r["setting"]
        b_reg, a_reg = before["reports"][name]["methods"]["trainwell_loo"], now["reports"][name]["methods"]["trainwell_loo"]
        sgd_test = statistics.fmean(100 * book["runs"][i.key]["test_acc"] for i in sgd[name])
        per_setting.append(
            {
                **{k: (round(v, 3) if k == "gain" else v) for k, v in r.items()},
                "switched_held_out": name in folds[r["dataset"]]["switched"],
                "test_a": b_reg["test_mean"],
                "test_b": round(sgd_test, 3),
                "regret_before": b_reg.get("regret"),
                "regret_after": a_reg.get("regret"),
                "oracle_before": before["reports"][name]["oracle"]["test_mean"],
                "oracle_after": now["reports"][name]["oracle"]["test_mean"],
                "best_peer_test": max(before["reports"][name]["methods"][p]["test_mean"] for p in analysis.PEER_NAMES),
            }
        )
    h0, h1 = headline(before["summary"]), headline(now["summary"])
    ship = h1["wins"] > h0["wins"] and h1["mean"] <= h0["mean"] and h1["worst"] <= h0["worst"]
    return {
        "prereg": "benchmarks/corpus/PREREG_optimizer.md",
        "variant": {"values": probe.VARIANTS[VARIANT][0], "why": probe.VARIANTS[VARIANT][1]},
        "margin": MARGIN,
        "held_out": {
            "before": h0,
            "after": h1,
            "before_3_seeds": headline(before["summary_3_seeds"]),
            "after_3_seeds": headline(now["summary_3_seeds"]),
        },
        "decision": "ship" if ship else "do not ship",
        "folds": folds,
        "all_data_rule": {k: v for k, v in all_data.items() if k != "rule"},
        "per_setting": per_setting,
        "runs": sum(len(v) for v in sgd.values()),
        "wall_s": round(sum(book["runs"][i.key].get("wall_s", 0.0) for items in sgd.values() for i in items), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train arm B's runs the ledger does not hold (one process, one thread)")
    args = parser.parse_args()
    finder_hash = ledger.finder_sources_hash()
    book = ledger.load()
    if args.train:
        for name, items in sgd_items(loo_items(book, finder_hash), finder_hash).items():
            probe.train_missing(BY_NAME[name], book["settings"][name]["facts"], items, book)
        book = ledger.load()
    result = {
        "git_revision": ledger.git_revision(),
        "trainwell_revision": ledger.trainwell_revision(),
        "command": "python benchmarks/corpus/optimizer.py" + (" --train" if args.train else ""),
        **evaluate(book, finder_hash),
    }
    out = ledger.ROOT / "benchmarks" / "results" / "corpus_optimizer.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("held_out", "decision", "all_data_rule", "runs", "wall_s")}, indent=1))


if __name__ == "__main__":
    main()
