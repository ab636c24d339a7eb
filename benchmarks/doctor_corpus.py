"""Score ``trainwell doctor`` against the labelled real-log corpus (benchmarks/doctor_corpus/manifest.json).

Each manifest entry is a real training log from a public repository with a one-line human label written
before the doctor was run on it. The files themselves are not committed: they are read from
``--cache`` (default ``../cache/real-logs``, beside the repository), checked against the manifest's
sha256, and skipped with a note when absent.

Scored per split (``--split dev`` while working; ``test`` and ``test2`` only at the end; a ``+``-joined list such
as ``dev+test+test2`` writes each split under its own key). ``test2`` is a fresh held-out set gathered from new
repositories after dev and test had been scored; ``test3`` likewise after dev, test and test2 had been scored and
used for development (its labels committed before the doctor ran on it); ``test4`` likewise after all four had been
scored and used for development, with TensorBoard event files and Keras CSVLogger logs added; ``test5`` likewise after
all five had been scored and used for development (labels committed before the doctor ran on it, to be scored once);
``test6`` likewise after all six, walked at paths no earlier split used, its labels following the explicit rules written
in the manifest's "about" (to be scored once, after the doctor's last change); ``test7`` likewise after all seven, at
further new paths, labelled by those rules applied literally (scored once, at the end of the session):
- main-finding agreement: the doctor's verdict matches the label under ``AGREES`` below;
- error-severity findings on logs labelled healthy (must be none);
- crashes: any exception other than trainwell's own clean ``TrainwellError`` refusal;
- per-check precision/recall: for each label with a check family, "a finding of that family is present";
- seconds per log, wall and CPU (the doctor must answer in < 0.3 s).

    python benchmarks/doctor_corpus.py --split dev+test+test2+test3+test4 --out benchmarks/results/doctor.json

``--check`` runs no doctor: it only says which of a split's logs are missing from the cache or differ from the
manifest's sha256 (exit 1 if any), so a held-out split's files can be checked without looking at its scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainwell.doctor import Diagnosis, Severity, diagnose
from trainwell.errors import TrainwellError

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "benchmarks" / "doctor_corpus" / "manifest.json"
DEFAULT_CACHE = ROOT.parent / "cache" / "real-logs"

# Which finding codes stand for each label's main finding. A label agrees when the doctor's main finding
# is in its family, or (for the labels that are not a problem) when no finding is a warning or worse.
FAMILIES: dict[str, frozenset[str]] = {
    "overfitting": frozenset({"overfitting"}),
    "loss-metric-disagree": frozenset({"loss_metric_disagree"}),
    "underfitting": frozenset({"underfitting", "no_progress"}),
    "plateau": frozenset({"flat_loss", "chance_plateau", "no_progress", "underfitting", "saturating"}),
    "still-improving": frozenset({"still_improving"}),
    "diverging": frozenset({"divergence", "no_progress"}),
    "degenerate-zero-loss": frozenset({"zero_loss"}),
    "nan": frozenset({"nan_inf"}),
    "spikes": frozenset({"spikes", "val_spikes"}),
    "too-few-evals": frozenset({"few_evals"}),
}
SPLITS = ("dev", "test", "test2", "test3", "test4", "test5", "test6", "test7")
CALM_LABELS = frozenset({"healthy", "still-improving", "too-few-evals", "too-short", "loss-metric-disagree"})


def _calm(diagnosis: Diagnosis) -> bool:
    """No finding of warning severity or worse: the doctor raises nothing that asks for a change."""
    return all(f.severity < Severity.WARNING for f in diagnosis.findings)


def agrees(label: str, diagnosis: Diagnosis | None) -> bool:
    """Whether the doctor's verdict matches the human label (a clean refusal counts only for too-short)."""
    if diagnosis is None:
        return label == "too-short"
    main = diagnosis.main_finding
    if label in ("healthy", "too-short"):
        return _calm(diagnosis)
    family = FAMILIES[label]
    if main is not None and main.rule in family:
        return True
    # An informational label is also met when the doctor is calm and names it among its findings.
    return label in CALM_LABELS and _calm(diagnosis) and any(f.rule in family for f in diagnosis.findings)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()


def run_record(script: str, argv: list[str] | None) -> dict[str, Any]:
    """What every doctor-corpus results file opens with: the revision, whether the tree was dirty, the exact command."""
    return {
        "git_revision": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "command": " ".join(["python", f"benchmarks/{script}", *(argv if argv is not None else sys.argv[1:])]),
    }


def write_result(out: Path | None, result: dict[str, Any]) -> None:
    """Write a results file when ``--out`` names one."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")


def unreadable(entry: dict[str, Any], cache: Path) -> str | None:
    """Why an entry's log cannot be scored from ``cache`` (absent, or not the manifest's bytes), or None when it can."""
    path = cache / entry["id"]
    if not path.is_file():
        return f"{entry['id']}: not in {cache}"
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        return f"{entry['id']}: sha256 differs from the manifest"
    return None


def score(entries: list[dict[str, Any]], cache: Path, timer: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for entry in entries:
        problem = unreadable(entry, cache)
        if problem is not None:
            skipped.append(problem)
            continue
        path = cache / entry["id"]
        row: dict[str, Any] = {"id": entry["id"], "label": entry["label"], "format": entry["format"]}
        start, cpu_start = timer(), time.process_time()
        diagnosis: Diagnosis | None = None
        try:
            diagnosis = diagnose(path)
        except TrainwellError as exc:  # a clean refusal with trainwell's message, not a crash
            row["refused"] = str(exc).splitlines()[0][:200]
        except Exception as exc:  # the benchmark counts every other exception as a crash
            row["crash"] = f"{type(exc).__name__}: {exc}"[:300]
        row["seconds"] = round(timer() - start, 4)
        # CPU seconds too: on a shared machine wall time also counts the time other processes held the cores.
        row["cpu_seconds"] = round(time.process_time() - cpu_start, 4)
        if diagnosis is not None:
            row["main_finding"] = diagnosis.main_finding.rule if diagnosis.main_finding else None
            row["findings"] = [f"{f.rule}:{f.severity.name.lower()}" for f in diagnosis.findings]
        row["agrees"] = "crash" not in row and agrees(entry["label"], diagnosis)
        row["error_on_healthy"] = (
            entry["label"] == "healthy" and diagnosis is not None and any(f.severity >= Severity.ERROR for f in diagnosis.findings)
        )
        rows.append(row)
        row["_diagnosis"] = diagnosis
    per_check: dict[str, dict[str, Any]] = {}
    for label, family in FAMILIES.items():
        flagged = [r for r in rows if r["_diagnosis"] is not None and any(f.rule in family for f in r["_diagnosis"].findings)]
        truth = [r for r in rows if r["label"] == label]
        tp = sum(1 for r in flagged if r["label"] == label)
        per_check[label] = {
            "codes": sorted(family),
            "labelled": len(truth),
            "flagged": len(flagged),
            "true_positives": tp,
            "precision": round(tp / len(flagged), 3) if flagged else None,
            "recall": round(tp / len(truth), 3) if truth else None,
        }
    for r in rows:
        del r["_diagnosis"]
    n = len(rows)
    return {
        "logs_scored": n,
        "main_finding_agreement": round(sum(r["agrees"] for r in rows) / n, 3) if n else None,
        "agreeing": sum(r["agrees"] for r in rows),
        "crashes": sum(1 for r in rows if "crash" in r),
        "refusals": sum(1 for r in rows if "refused" in r),
        "error_on_healthy": sum(r["error_on_healthy"] for r in rows),
        "max_seconds_per_log": max((r["seconds"] for r in rows), default=None),
        "max_cpu_seconds_per_log": max((r["cpu_seconds"] for r in rows), default=None),
        "per_check": per_check,
        "skipped": skipped,
        "logs": rows,
    }


def _print(split: str, result: dict[str, Any]) -> None:
    for line in result["skipped"]:
        print(f"skipped {line}", file=sys.stderr)
    for r in result["logs"]:
        mark = "ok " if r["agrees"] else "MISS"
        got = r.get("crash") or r.get("refused") or r.get("main_finding")
        print(f"{mark} {r['label']:<22} {got!s:<24} {r['id']}")
    print(
        f"{split}: {result['agreeing']}/{result['logs_scored']} agree ({result['main_finding_agreement']}), "
        f"crashes {result['crashes']}, errors on healthy {result['error_on_healthy']}, "
        f"max {result['max_seconds_per_log']} s/log ({result['max_cpu_seconds_per_log']} CPU s), skipped {len(result['skipped'])}"
    )


def _splits(text: str) -> str:
    """argparse type: 'all', one split, or a +-joined list of splits."""
    unknown = [part for part in text.split("+") if part not in (*SPLITS, "all")]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown split(s) {', '.join(unknown)}: choose from {', '.join(SPLITS)} or all")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--split",
        type=_splits,
        default="dev",
        help=f"one of {', '.join(SPLITS)} or all; a +-joined list (dev+test+test2) scores each split separately",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder holding the logs (default ../cache/real-logs)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    parser.add_argument("--check", action="store_true", help="run no doctor: only check the split's logs are in the cache, byte-exact")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text())
    if args.check:
        chosen = [e for e in manifest["logs"] if any(part in ("all", e["split"]) for part in args.split.split("+"))]
        problems = [p for p in (unreadable(e, args.cache) for e in chosen) if p is not None]
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{args.split}: {len(chosen) - len(problems)} of {len(chosen)} logs in {args.cache} with the manifest's sha256")
        return 1 if problems else 0
    result: dict[str, Any] = {
        **run_record("doctor_corpus.py", argv),
        "split": args.split,
        "manifest_logs": len(manifest["logs"]),
    }
    splits = args.split.split("+")
    for split in splits:
        entries = [e for e in manifest["logs"] if split == "all" or e["split"] == split]
        scored = score(entries, args.cache)
        _print(split, scored)
        if len(splits) == 1:
            result.update(scored)
        else:
            result[split] = scored
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
