"""Fit trainwell's LR law (advise/lr_law.py) and the finder's peak rule (find/peak.py) on the corpus,
judged leave-one-dataset-out.

    python benchmarks/corpus/fit.py [--write]

LR law. The target of each setting is log(sweep-best LR): the vertex of a parabola (in log LR) through
the best grid LR of the 2-seed validation means and its neighbours (plan.sweep_best). The features are
``lr_law.lr_features`` (imported, never re-implemented) for AdamW, the setting's family and mode, the
width trainwell reads from the model, the optimizer-step horizon and the batch. The constants are a ridge
fit toward the shipped prior: minimise |y - X b|^2 + LAMBDA |b - b_prior|^2, so a coefficient the corpus
cannot identify (one group seen in one dataset, a slope with no spread) stays at the guides' value
instead of being made up. Leave-one-dataset-out: for each dataset, fit on the others and predict its
settings; scored by the ratio predicted / sweep-best and by the test accuracy the sweep's curve gives at
the predicted LR (interpolated between grid points; the ``trainwell_loo`` runs train it for real).
``--write`` rewrites src/trainwell/advise/lr_law.json with the all-data fit, the git revision and command.

Peak rule: fitted and scored leave-one-dataset-out in finder.py (benchmarks/results/corpus_finder.json);
``rule_or_measure`` here compares its held-out picks with the law's, per family.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import analysis
import ledger
import methods
import plan
from settings import RECOMMENDER_FAMILY, SETTINGS, Setting

LAMBDA = 1.0  # prior strength: one pseudo-observation per coefficient, in (log LR)^2 units
TABLE_PATH = ledger.ROOT / "src" / "trainwell" / "advise" / "lr_law.json"


def rows(book: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per setting whose sweep is complete: its facts, sweep-best LR and sweep curves."""
    out = []
    for s in SETTINGS:
        if s.name not in book["settings"]:
            continue
        sweep, swept = plan.sweep_items(s, book["runs"])
        if not swept:
            continue
        val = plan.sweep_means(sweep, book["runs"])
        test = plan.sweep_means(sweep, book["runs"], field="test_acc")
        best, vertex = plan.sweep_best(val)
        out.append({"setting": s, "facts": book["settings"][s.name]["facts"], "best": best, "vertex": vertex, "val": val, "test": test})
    return out


def features(row: dict[str, Any], table: Any) -> dict[str, float]:
    from trainwell.advise.lr_law import lr_features

    f = row["facts"]
    return lr_features(f["recommender_family"], f["mode"], "adamw", width=f["width"], steps=f["steps"], batch=f["batch"], table=table)


def prior_table() -> dict[str, Any]:
    """The guides' constants every fit is pulled toward. Once ``--write`` has shipped a fitted table, its
    ``prior_coefficients`` keep them: a leave-one-dataset-out fit pulled toward the all-data fit would have
    seen the held-out dataset."""
    data = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    if "prior_coefficients" in data:
        data = {**data, "status": "prior", "coefficients": data["prior_coefficients"]}
    # where to measure instead is a corpus decision, not a prior: decided held out in decisions.py, on all data in write_table
    return {**data, "measure": {}}


def loo_key(book: dict[str, Any]) -> str:
    """Where the ledger freezes the leave-one-dataset-out tables: named by the prior they were fitted from
    (coefficients, anchors, caps, form) and by the corpus they are fitted on (its settings and the facts read
    from their models, the law's features), so a changed prior, a setting added to the corpus or a corrected
    fact freezes new tables and the trainwell_loo runs made with the old ones stay apart."""
    prior = prior_table()
    shape = {k: prior.get(k) for k in ("coefficients", "anchors", "caps", "form")}
    measured = book.get("settings", {})
    shape["corpus"] = sorted((s.key(), measured.get(s.name, {}).get("facts")) for s in SETTINGS if s.name in measured)
    return "loo_tables@" + hashlib.sha1(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:8]


def fit(train_rows: list[dict[str, Any]], prior: dict[str, Any]) -> dict[str, float]:
    """Ridge toward the prior's coefficients; coefficients no row touches keep their prior value."""
    from trainwell.advise.lr_law import LawTable

    table = LawTable.from_dict(prior)
    feats = [features(r, table) for r in train_rows]
    names = sorted({k for f in feats for k, v in f.items() if v != 0.0})
    b0 = np.array([prior["coefficients"].get(n, 0.0) for n in names])
    x = np.array([[f.get(n, 0.0) for n in names] for f in feats])
    y = np.array([math.log(r["vertex"]) for r in train_rows])
    a = x.T @ x + LAMBDA * np.eye(len(names))
    b = np.linalg.solve(a, x.T @ y + LAMBDA * b0)
    coefficients = dict(prior["coefficients"])
    coefficients.update({n: round(float(v), 6) for n, v in zip(names, b)})
    return coefficients


def table_with(prior: dict[str, Any], coefficients: dict[str, float]) -> dict[str, Any]:
    return {**prior, "coefficients": coefficients}


def predict(row: dict[str, Any], table_dict: dict[str, Any]) -> tuple[float, float]:
    """(capped, raw) LR the law gives this setting under ``table_dict``."""
    from trainwell.advise.lr_law import LawTable, predict

    f = row["facts"]
    law = predict(
        f["recommender_family"],
        f["mode"],
        "adamw",
        width=f["width"],
        steps=f["steps"],
        batch=f["batch"],
        table=LawTable.from_dict(table_dict),
    )
    return law.lr, law.raw


def loo_tables(book: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """dataset -> the law table fitted on every other dataset's complete sweep (for scoring the law)."""
    prior = prior_table()
    rs = rows(book)
    return {
        d: table_with(prior, fit([r for r in rs if r["setting"].dataset != d], prior)) for d in sorted({r["setting"].dataset for r in rs})
    }


def law_scores(book: dict[str, Any]) -> dict[str, Any]:
    prior = prior_table()
    rs = rows(book)
    tables = loo_tables(book)
    per = []
    for r in rs:
        loo_lr, loo_raw = predict(r, tables[r["setting"].dataset])
        prior_lr, _ = predict(r, prior)
        best_test = r["test"][r["best"]]
        per.append(
            {
                "setting": r["setting"].name,
                "dataset": r["setting"].dataset,
                "family": r["setting"].family,
                "sweep_best_lr": r["best"],
                "sweep_vertex_lr": round(r["vertex"], 6),
                "loo_lr": loo_lr,
                "loo_lr_uncapped": loo_raw,
                "loo_ratio": round(loo_lr / r["vertex"], 3),
                "prior_lr": prior_lr,
                "prior_ratio": round(prior_lr / r["vertex"], 3),
                # accuracy points the sweep's curve loses at the predicted LR (vs its best grid LR), 2-seed test means
                "loo_curve_regret": round(100 * (best_test - analysis.interpolate(r["test"], loo_lr)), 3),
                "prior_curve_regret": round(100 * (best_test - analysis.interpolate(r["test"], prior_lr)), 3),
            }
        )

    def agg(key: str) -> dict[str, Any]:
        ratios = [p[f"{key}_ratio"] for p in per]
        regrets = [p[f"{key}_curve_regret"] for p in per]
        return {
            "within_2x": sum(0.5 <= x <= 2 for x in ratios),
            "within_3x": sum(1 / 3 <= x <= 3 for x in ratios),
            "median_abs_log10_ratio": round(statistics.median(abs(math.log10(x)) for x in ratios), 3),
            "mean_curve_regret": round(statistics.fmean(regrets), 2),
            "worst_curve_regret": round(max(regrets), 2),
        }

    return {
        "settings": len(per),
        "lambda": LAMBDA,
        "loo": agg("loo") if per else {},
        "prior": agg("prior") if per else {},
        "per_setting": per,
    }


CAP_GRID = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)  # the high Adam cap for scratch and frozen runs


def _with_cap(table: dict[str, Any], cap: float) -> dict[str, Any]:
    caps = {**table["caps"], **{k: [table["caps"][k][0], cap] for k in ("adam:scratch", "adam:frozen")}}
    return {**table, "caps": caps}


def _law_regret(row: dict[str, Any], table: dict[str, Any]) -> float:
    lr, _ = predict(row, table)
    return 100 * (row["test"][row["best"]] - analysis.interpolate(row["test"], lr))


def cap_scores(book: dict[str, Any]) -> dict[str, Any]:
    """The Adam cap (scratch and frozen) chosen leave-one-dataset-out: per held-out dataset, the cap whose
    law (fitted without that dataset) loses least on the other datasets' sweep curves, scored on the
    held-out one; beside it the shipped cap with the same fold tables."""
    rs = [r for r in rows(book) if r["setting"].mode != "finetune"]
    tables = loo_tables(book)
    shipped = prior_table()["caps"]["adam:scratch"][1]
    per = []
    for d in sorted({r["setting"].dataset for r in rs}):
        train, held = [r for r in rs if r["setting"].dataset != d], [r for r in rs if r["setting"].dataset == d]
        cap = min(CAP_GRID, key=lambda c: statistics.fmean(_law_regret(r, _with_cap(tables[d], c)) for r in train))
        for r in held:
            per.append(
                {
                    "setting": r["setting"].name,
                    "family": r["setting"].family,
                    "cap": cap,
                    "loo_curve_regret": round(_law_regret(r, _with_cap(tables[d], cap)), 3),
                    "old_cap_curve_regret": round(_law_regret(r, _with_cap(tables[d], 0.005)), 3),
                    "shipped_cap_curve_regret": round(_law_regret(r, _with_cap(tables[d], shipped)), 3),
                }
            )
    if not per:
        return {}
    all_data = min(CAP_GRID, key=lambda c: statistics.fmean(_law_regret(r, _with_cap(tables[r["setting"].dataset], c)) for r in rs))
    return {
        "settings": len(per),
        "shipped_cap": shipped,
        "all_data_choice": all_data,
        "loo_mean_curve_regret": round(statistics.fmean(p["loo_curve_regret"] for p in per), 2),
        "old_cap_mean_curve_regret": round(statistics.fmean(p["old_cap_curve_regret"] for p in per), 2),
        "loo_worst": round(max(p["loo_curve_regret"] for p in per), 2),
        "per_setting": per,
    }


# ---- the finder's peak rule ------------------------------------------------------------------------------


def curve_regret(r: dict[str, Any], lr: float) -> float:
    """Accuracy points the setting's sweep curve loses at ``lr`` against its best grid LR (2-seed test means)."""
    return 100 * (r["row"]["test"][r["row"]["best"]] - analysis.interpolate(r["row"]["test"], lr))


MEASURE_MARGIN = 0.25  # points: the range test must beat the law by more than this (2-seed curves' noise) to replace it


def rule_or_measure(law: dict[str, Any], peak: dict[str, Any], exclude: str | None = None) -> dict[str, Any]:
    """Per model family (the corpus's, e.g. lstm and transformer apart): is the LR law or the range test
    closer to the sweep-best, both leave-one-dataset-out, by the accuracy the setting's sweep curve gives at
    the LR (the same stack for both, so only the LR differs). Decided only for families whose every corpus
    setting has its sweep and 3 finder picks in; the others are listed as undecided. ``exclude``: a dataset
    whose settings are left out (the decision a held-out dataset's recommendation is scored with); a family
    with no setting left is decided for the law (no evidence against it)."""
    out: dict[str, Any] = {}
    for family in sorted({s.family for s in SETTINGS}):
        names = [s.name for s in SETTINGS if s.family == family and s.dataset != exclude]
        if not names:
            out[family] = {"settings": 0, "decision": "rule (the LR law)"}
            continue
        laws = [p for p in law.get("per_setting", []) if p["family"] == family and p["setting"] in names]
        picks = [p for p in peak.get("per_pick", []) if p["setting"] in names]
        seen = {p["setting"] for p in picks if sum(q["setting"] == p["setting"] for q in picks) == 3}
        row: dict[str, Any] = {"settings": len(names), "swept": len(laws), "with_3_picks": len(seen)}
        if laws:
            row["law_mean_curve_regret"] = round(statistics.fmean(p["loo_curve_regret"] for p in laws), 2)
            row["law_within_2x"] = sum(0.5 <= p["loo_ratio"] <= 2 for p in laws)
        if picks:
            row["finder_mean_curve_regret"] = round(statistics.fmean(p["loo_curve_regret"] for p in picks), 2)
            row["finder_within_2x"] = f"{sum(0.5 <= p['loo_ratio'] <= 2 for p in picks)}/{len(picks)}"
        complete = len(laws) == len(names) and len(seen) == len(names)
        if not complete:
            row["decision"] = "undecided (settings incomplete)"
        elif row["finder_mean_curve_regret"] < row["law_mean_curve_regret"] - MEASURE_MARGIN:
            row["decision"] = "measure (optimizer.lr: find, the law as fallback)"
        else:
            row["decision"] = "rule (the LR law)"
        out[family] = row
    return out


def measure_groups(decided: dict[str, Any]) -> dict[str, dict[str, str]]:
    """lr_law.json's ``measure``: the law's group (family/mode/kind) of every corpus family ``rule_or_measure``
    decides to measure on all data, with the evidence and the held-out regrets."""
    from trainwell.advise.lr_law import LawTable, group_of

    table = LawTable.from_dict(prior_table())
    out = {}
    for family, row in decided.items():
        if not row["decision"].startswith("measure"):
            continue
        s = next(s for s in SETTINGS if s.family == family)
        group = group_of(RECOMMENDER_FAMILY[family], s.mode, "adamw", table)
        out[group] = {
            "evidence": f"benchmarks/results/corpus_lr_law.json rule_or_measure.{family} (benchmarks/corpus/fit.py)",
            "why": (
                f"on the {row['settings']} {family} corpus settings, both held out by dataset, the range test's picks lost "
                f"{row['finder_mean_curve_regret']:.2f} points on the sweep's curve, the law's LR {row['law_mean_curve_regret']:.2f}"
            ),
        }
    return out


def write_table(book: dict[str, Any], command: str, measure: dict[str, dict[str, str]]) -> dict[str, Any]:
    prior = prior_table()
    rs = rows(book)
    coefficients = fit(rs, prior)
    fitted = {
        **prior,
        "measure": measure,
        "prior_coefficients": prior["coefficients"],
        "status": "fitted",
        "coefficients": coefficients,
        "git_revision": ledger.git_revision(),
        "command": command,
        "fitted_on": sorted(r["setting"].name for r in rs),
        "note": (
            f"ridge fit (lambda {LAMBDA}) toward the prior constants on the sweep-best LRs of {len(rs)} corpus settings "
            "(benchmarks/corpus/fit.py); coefficients no setting informs keep their prior values; leave-one-dataset-out "
            "scores in benchmarks/results/corpus_lr_law.json"
        ),
    }
    TABLE_PATH.write_text(json.dumps(fitted, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    return fitted


READY = 10  # settings whose sweeps must be in before a leave-one-dataset-out law is fitted


def sweeps_complete(book: dict[str, Any], rs: list[dict[str, Any]] | None = None) -> bool:
    """Every setting of the corpus is measured and its sweep complete (``rs``: ``rows(book)`` if already read).
    What is frozen from the sweeps (the held-out law tables, the finder's held-out constants and the decisions
    read from them) waits for this: a setting added to the corpus is evidence for every other dataset's fold,
    and a table frozen while its sweep still trains would never see it."""
    return len(rows(book) if rs is None else rs) >= max(READY, len(SETTINGS))


def loo_table_for(book: dict[str, Any], dataset: str) -> dict[str, Any] | None:
    """The law fitted without ``dataset``: frozen in the ledger the first time it is asked for (so the
    runs trained with it keep their meaning as later sweeps arrive), or None until every setting's sweep is in."""
    frozen = book.get(loo_key(book), {}).get(dataset)
    if frozen is not None:
        return frozen
    rs = rows(book)
    if not sweeps_complete(book, rs):
        return None
    prior = prior_table()
    train = [r for r in rs if r["setting"].dataset != dataset]
    return {**table_with(prior, fit(train, prior)), "fitted_on": sorted(r["setting"].name for r in train)}


def loo_items(book: dict[str, Any], settings: list[Setting], finder_hash: str) -> tuple[list[plan.Item], dict[str, dict[str, Any]]]:
    """trainwell's recommendation for each setting with the law fitted without its dataset and the corpus-made
    decisions remade without it (decisions.py), 3 seeds each, and what is newly made for that: ledger key -> the
    entries the caller freezes there (the law's tables under ``loo_key(book)``, the decisions under ``decisions.key``)."""
    import decisions

    out: list[plan.Item] = []
    tables: dict[str, dict[str, Any]] = {}
    if loo_key(book) not in book and not sweeps_complete(book):
        return out, {}  # no table is made before every sweep is in (loo_table_for): nothing to name or freeze
    # a run trained with decisions still being made (a rule ablation or range test still training) would be trained
    # again once they freeze: name the runs only then (the tables freeze as soon as every sweep is in)
    frozen = decisions.key(finder_hash) in book
    settled = frozen or decisions.final(book, finder_hash)
    decided = decisions.frozen_or_made(book, finder_hash)[0] if settled else None
    for s in settings:
        table = tables.get(s.dataset) or loo_table_for(book, s.dataset)
        if table is None:
            continue
        if s.dataset not in book.get(loo_key(book), {}):
            tables[s.dataset] = table
        if decided is None:
            continue
        facts = book["settings"][s.name]["facts"]
        config = recommended_with(s, facts, table)
        if config is not None:
            out += [
                plan.config_item(s, "trainwell_loo", "trainwell_loo", seed, c, finder_hash)
                for seed, c in zip(methods.seeds(s), decisions.configs(s, facts, config, decided), strict=True)
            ]
    new = {loo_key(book): tables} if tables else {}
    if decided is not None and not frozen:
        new[decisions.key(finder_hash)] = decided
    return out, new


def recommended_with(s: Setting, facts: dict[str, Any], table_dict: dict[str, Any]) -> dict[str, Any] | None:
    """The recommender's config with ``table_dict`` in place of the shipped law table."""
    from unittest import mock

    import methods
    from trainwell.advise import lr_law

    table = lr_law.LawTable.from_dict(table_dict)
    with mock.patch.object(lr_law, "_shipped", lambda: table):
        config, _ = methods.trainwell_config(s, facts)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the all-data fit into src/trainwell/advise/lr_law.json")
    parser.add_argument("--curves", default="", help="the range tests recorded under these finder sources (run.py --curves)")
    args = parser.parse_args()
    book = ledger.load()
    law = law_scores(book)
    import finder  # finder.py reads this module's rows: imported here, not at the top

    peak = finder.scores(book, args.curves or None)
    command = "python benchmarks/corpus/fit.py" + (" --write" if args.write else "") + (f" --curves {args.curves}" if args.curves else "")
    result = {
        "git_revision": ledger.git_revision(),
        "trainwell_revision": ledger.trainwell_revision(),
        "command": command,
        "lr_law": law,
        "peak_rule": peak,
        "rule_or_measure": rule_or_measure(law, peak),
        "cap": cap_scores(book),
    }
    out = ledger.ROOT / "benchmarks" / "results" / "corpus_lr_law.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    if args.write:
        write_table(book, command, measure_groups(result["rule_or_measure"]))
    print(
        json.dumps(
            {
                "lr_law": {k: v for k, v in law.items() if k != "per_setting"},
                "peak_rule": {k: v for k, v in peak.items() if k != "per_pick"},
                "rule_or_measure": result["rule_or_measure"],
                "cap": {k: v for k, v in result["cap"].items() if k != "per_setting"},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
