"""Summarise the corpus ledger: benchmarks/results/corpus.json and the README's markdown tables.

    python benchmarks/corpus/report.py [--markdown]

Per setting: the sweep, the oracle (the best validation 3-seed mean among every config trained on 3 seeds:
the two best sweep LRs, the three best random-search configs, the peers and trainwell; 5 seeds on a setting with
a small test set, methods.seeds, with the 3-seed figures kept beside in ``summary_3_seeds``), each method's
test accuracy and regret (oracle minus method, test accuracy points), and the finder's picks. The summary
counts only settings whose runs are all in; a partial corpus says how far it got.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import analysis
import decisions
import finder
import fit
import ledger
import methods
from settings import BY_NAME, SETTINGS

LABELS = {
    "trainwell_loo": "trainwell (law and corpus decisions made without the dataset)",
    "trainwell": "trainwell (law and decisions from all data)",
    "hf_trainer": "HF Trainer defaults (AdamW 5e-5, linear)",
    "keras": "Keras (Adam 1e-3, constant)",
    "fastai": "fastai fit_one_cycle (1e-3)",
    "torch_sgd": "PyTorch SGD 0.1, momentum 0.9, cosine",
    "seed000": "seed 000 stack (AdamW 3e-5, cosine, warmup 10 %)",
}


def build(book: dict[str, Any], curves: str = "") -> dict[str, Any]:
    """``curves``: the finder sources whose recorded range tests the held-out decisions and the finder's picks read
    (run.py --curves; default: the current sources)."""
    finder_hash = curves or ledger.finder_sources_hash()
    frozen = book.get(fit.loo_key(book), {})  # only the tables the runs were trained with
    loo = [i for i in fit.loo_items(book, SETTINGS, finder_hash)[0] if BY_NAME[i.setting].dataset in frozen]
    extra: dict[str, list[Any]] = {}
    for item in loo:
        extra.setdefault(item.setting, []).append(item)
    reports = analysis.all_reports(book, finder_hash, extra)
    # the protocol before session 9: every setting scored on seeds 0, 1, 2 (methods.seeds adds two on small test sets)
    three = analysis.summary(analysis.all_reports(book, finder_hash, extra, seeds=methods.SEEDS))
    decided, _ = decisions.frozen_or_made(book, finder_hash)
    done = sum(r["runs_done"] for r in reports)
    named = sum(r["runs_named"] for r in reports)
    return {
        "progress": {
            "settings": len(SETTINGS),
            "settings_complete": sum(r["complete"] for r in reports),
            "runs_in_ledger": len(book["runs"]),
            "runs_done_of_named": [done, named],
            "note": "runs_named grows as stages finish (random search and oracle re-runs are named once the sweep / search is in)",
        },
        "summary": analysis.summary(reports),
        "summary_3_seeds": {"note": "every setting scored on seeds 0, 1, 2 only (the protocol before session 9)", **three},
        "seeds": {"extra": list(methods.EXTRA_SEEDS), "settings": {n: rows for n, rows in methods.TEST_ROWS.items() if n in BY_NAME}},
        "ablations": analysis.ablation_summary(reports),
        # the corpus-made rule and rule-or-measure decisions, on all data (shipped) and remade per held-out dataset
        # (decisions.py): the trainwell_loo runs use the held-out ones
        "decisions": {"key": decisions.key(finder_hash), **decided},
        # the finder's pick rule held out by dataset (finder.py; every pick in benchmarks/results/corpus_finder.json)
        "finder": {k: v for k, v in finder.scores(book, finder_hash).items() if k != "per_pick"},
        "settings": reports,
    }


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    p = result["progress"]
    lines = [
        f"Corpus: {p['settings_complete']} of {p['settings']} settings complete ({p['runs_in_ledger']} runs in the ledger); "
        f"regret = oracle's test accuracy (mean over the setting's seeds) minus the method's, in points, over the {s['settings_with_oracle']} settings with an oracle.",
        "",
        "| recipe | settings | mean regret | median | worst (setting) |",
        "|---|---|---|---|---|",
    ]
    for name in ("trainwell_loo", "trainwell", *analysis.PEER_NAMES):
        m = s["methods"].get(name)
        if m:
            lines.append(
                f"| {LABELS[name]} | {m['settings']} | {m['mean_regret']:.2f} | {m['median_regret']:.2f} | {m['worst_regret']:.2f} ({m['worst_setting']}) |"
            )
    if "beats_every_peer" in s:
        b = s["beats_every_peer"]
        lines += [
            "",
            f"trainwell (leave-one-dataset-out) beats every peer on {b['wins']} of {b['settings']} settings ({100 * b['share']:.0f} %).",
        ]
    three = result.get("summary_3_seeds", {})
    if three.get("methods"):
        small = ", ".join(f"{n} ({rows})" for n, rows in result["seeds"]["settings"].items())
        lines += [
            "",
            f"Seeds: 3 per recipe and oracle candidate, 5 on the settings whose test split has under 300 rows: {small}. On 3 seeds everywhere:",
            "",
        ]
        lines += ["| recipe (seeds 0, 1, 2 only) | mean regret | median | worst (setting) | beats every peer |", "|---|---|---|---|---|"]
        for name in ("trainwell_loo", "trainwell"):
            m = three["methods"].get(name)
            if m:
                wins = three.get("beats_every_peer", {}) if name == "trainwell_loo" else {}
                won = f"{wins['wins']} of {wins['settings']}" if wins else ""
                lines.append(
                    f"| {LABELS[name]} | {m['mean_regret']:.2f} | {m['median_regret']:.2f} | {m['worst_regret']:.2f} ({m['worst_setting']}) | {won} |"
                )
    lines += ["", *decision_lines(result["decisions"])]
    f = s.get("finder")
    if f:
        lines += [
            "",
            "| finder | value |",
            "|---|---|",
            f"| picks within 2x of the sweep-best LR | {f['within_2x']} of {f['picks']} ({100 * f['within_2x_share']:.0f} %) |",
            f"| below half / above 2x | {f['below_half']} / {f['above_2x']} |",
            f"| median pick / sweep-best | {f['median_ratio']:.2f} |",
        ]
        if "mean_regret_vs_sweep_best" in f:
            lines.append(
                f"| regret of training at the pick vs the sweep-best LR (mean / worst, {f['settings_trained']} settings) | "
                f"{f['mean_regret_vs_sweep_best']:.2f} / {f['worst_regret_vs_sweep_best']:.2f} points |"
            )
    if result.get("finder", {}).get("picks"):
        lines += ["", *finder.markdown(result["finder"])]
    if result.get("ablations"):
        lines += [
            "",
            "| rule switched off (seeds 0, 1, paired; label smoothing, focal loss: switched on, sign kept off minus on) | settings | off better / worse (> 0.25 points) | mean test change | per family (settings: mean) |",
            "|---|---:|---|---:|---|",
        ]
        for rule, a in result["ablations"].items():
            fams = ", ".join(f"{f} ({v['settings']}: {v['mean_test_delta']:+.2f})" for f, v in a["by_family"].items())
            lines.append(f"| {rule} | {a['settings']} | {a['off_better']} / {a['off_worse']} | {a['mean_test_delta']:+.2f} | {fams} |")
    done = [r for r in result["settings"] if "oracle" in r]
    if done:
        lines += [
            "",
            "| setting (complete) | oracle test % | trainwell (LOO) | best peer | finder picks / sweep-best |",
            "|---|---:|---:|---|---|",
        ]
        for r in done:
            m = r["methods"]
            peers = [(p, m[p]["regret"]) for p in analysis.PEER_NAMES if "regret" in m.get(p, {})]
            best = min(peers, key=lambda t: t[1]) if peers else None
            tw = m.get("trainwell_loo", {}).get("regret")
            ratios = ", ".join(f"{p['ratio']:.2g}x" for p in r.get("finder", {}).get("picks", []) if "ratio" in p)
            lines.append(
                f"| {r['setting']} | {r['oracle']['test_mean']:.1f} | {'' if tw is None else f'{tw:+.2f}'} | "
                f"{'' if best is None else f'{best[0]} {best[1]:+.2f}'} | {ratios} |"
            )
    return "\n".join(lines)


def decision_lines(decided: dict[str, Any]) -> list[str]:
    """The held-out decisions that differ from the shipped ones (what the trainwell_loo runs were trained with)."""
    shipped = {d.rule: d.shipped for d in decisions.DECISIONS}
    lines = [
        "| held-out dataset | rule or LR decision remade without it (decisions.py) | evidence (mean off minus on, settings) |",
        "|---|---|---|",
    ]
    all_measure = set(decided["all"]["measure"])
    for dataset, mine in decided["held_out"].items():
        for rule, row in mine["rules"].items():
            if row["side"] != shipped[rule]:
                mean = row.get("mean_off_minus_on")
                lines.append(
                    f"| {dataset} | {rule}: {row['side']} (shipped {shipped[rule]}) | {mean if mean is not None else '-'} ({row['settings']}; {row['why']}) |"
                )
        for family in sorted(all_measure - set(mine["measure"])):
            lines.append(f"| {dataset} | {family} LR: the law (shipped: the range test) | fit.rule_or_measure without {dataset} |")
        for family in sorted(set(mine["measure"]) - all_measure):
            lines.append(f"| {dataset} | {family} LR: the range test (shipped: the law) | fit.rule_or_measure without {dataset} |")
    measured = ", ".join(decided["all"]["measure"]) or "none"
    # what lr_law.json ships is what the last ``fit.py --write`` decided, which may predate the corpus's latest settings
    return [f"All data (decisions.py): the range test sets the LR for {measured}; every other family uses the law.", "", *lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the README tables")
    parser.add_argument("--curves", default="", help="read the range tests recorded under these finder sources (run.py --curves)")
    args = parser.parse_args()
    book = ledger.load()
    result = {
        "git_revision": ledger.git_revision(),
        "trainwell_revision": ledger.trainwell_revision(),  # the recommender and finder the plan was read with
        "command": "python benchmarks/corpus/report.py" + (f" --curves {args.curves}" if args.curves else ""),
        "current_finder_sources": ledger.finder_sources_hash(),
        **build(book, args.curves),
    }
    out = ledger.ROOT / "benchmarks" / "results" / "corpus.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result) if args.markdown else json.dumps({"progress": result["progress"], "summary": result["summary"]}, indent=1))


if __name__ == "__main__":
    main()
