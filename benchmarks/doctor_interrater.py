"""How reliably the doctor corpus's labels can be written: a second, blind labeller against the first.

The doctor is judged by agreement with one human label per log (``doctor_corpus.py``). That figure has a
ceiling: where two careful readers applying the same written rules disagree, no doctor can agree with both.
``benchmarks/doctor_corpus/second_labels.json`` holds a second labeller's labels for some logs, written from
the raw numbers by the manifest's label rules without seeing the first labels or any doctor output. This
script reports, per split:

- labeller agreement: exact label match, and Cohen's kappa (chance-corrected, scikit-learn);
- the doctor's main-finding agreement (``doctor_corpus.agrees``) with the first labels, with the second, with
  either, and on the logs where both labellers agree (the consensus subset);
- every pair of labels the labellers disagree on, with both readings.

    python benchmarks/doctor_interrater.py --split test6 --out benchmarks/results/doctor_interrater.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from doctor_corpus import DEFAULT_CACHE, MANIFEST, run_record, score, write_result

SECOND = MANIFEST.parent / "second_labels.json"


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def compare(entries: list[dict[str, Any]], second: dict[str, dict[str, Any]], cache: Path) -> dict[str, Any]:
    """Labeller against labeller, and the doctor against each, over the entries both labelled."""
    from sklearn.metrics import cohen_kappa_score  # scipy behind it: imported only when a split is compared

    both = [e for e in entries if e["id"] in second]
    firsts = [e["label"] for e in both]
    seconds = [second[e["id"]]["label"] for e in both]
    by_first = {r["id"]: r for r in score(both, cache)["logs"]}
    relabelled = [{**e, "label": second[e["id"]]["label"]} for e in both]
    by_second = {r["id"]: r for r in score(relabelled, cache)["logs"]}
    scored = [e for e in both if e["id"] in by_first]
    consensus = [e for e in scored if e["label"] == second[e["id"]]["label"]]
    disagreements = [
        {
            "id": e["id"],
            "first": e["label"],
            "second": second[e["id"]]["label"],
            "judgement": bool(second[e["id"]].get("judgement")),
            "doctor": by_first[e["id"]].get("main_finding") if e["id"] in by_first else None,
            "first_reading": e.get("reading", ""),
            "second_reading": second[e["id"]].get("reading", ""),
        }
        for e in both
        if e["label"] != second[e["id"]]["label"]
    ]
    return {
        "logs_labelled_twice": len(both),
        "logs_scored": len(scored),
        "labeller_agreement": _share(len(both) - len(disagreements), len(both)),
        "cohen_kappa": round(float(cohen_kappa_score(firsts, seconds)), 3) if both else None,
        "second_judgement_calls": sum(1 for e in both if second[e["id"]].get("judgement")),
        "doctor_vs_first": _share(sum(by_first[e["id"]]["agrees"] for e in scored), len(scored)),
        "doctor_vs_second": _share(sum(by_second[e["id"]]["agrees"] for e in scored), len(scored)),
        "doctor_vs_either": _share(sum(by_first[e["id"]]["agrees"] or by_second[e["id"]]["agrees"] for e in scored), len(scored)),
        "consensus_logs": len(consensus),
        "doctor_on_consensus": _share(sum(by_first[e["id"]]["agrees"] for e in consensus), len(consensus)),
        "label_pairs": {f"{a} / {b}": n for (a, b), n in Counter((d["first"], d["second"]) for d in disagreements).most_common()},
        "disagreements": disagreements,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test6", help="a +-joined list of splits the second labeller labelled")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder holding the logs (default ../cache/real-logs)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text())
    second = {row["id"]: row for row in json.loads(SECOND.read_text())["labels"]}
    result = run_record("doctor_interrater.py", argv)
    for split in args.split.split("+"):
        part = compare([e for e in manifest["logs"] if e["split"] == split], second, args.cache)
        result[split] = part
        print(
            f"{split}: {part['logs_labelled_twice']} labelled twice; labellers agree {part['labeller_agreement']} "
            f"(kappa {part['cohen_kappa']}); doctor vs first {part['doctor_vs_first']}, vs second {part['doctor_vs_second']}, "
            f"vs either {part['doctor_vs_either']}, on the {part['consensus_logs']} consensus logs {part['doctor_on_consensus']}"
        )
        for pair, n in part["label_pairs"].items():
            print(f"  {n} x {pair}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
