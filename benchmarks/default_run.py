"""Does the default `trainwell train` (digits, the recommended config) contradict its own doctor? (issue G item 6)

Trains the config `trainwell train` uses with no arguments over several seeds, as recommended and with each half
of the fix the doctor's overfitting check used to print ("early_stopping.patience: 3"; "weight_decay 0.05 ->
0.25"), and runs the doctor on every recommended run folder. Accuracy and val_loss are those of the returned
model (the best checkpoint, restored). Results: benchmarks/results/default_run.json, with the git revision and
the command.

    python benchmarks/default_run.py                 # 6 seeds x 3 variants, ~3 minutes on 1 thread
    python benchmarks/default_run.py --seeds 42 0    # fewer
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from trainwell.config import load_config
from trainwell.config.io import load_request
from trainwell.doctor import Severity, diagnose
from trainwell.engine.run_folder import git_revision
from trainwell.run import train

VARIANTS: dict[str, list[str]] = {
    "recommended": [],
    "doctor: weight_decay x5": ["optimizer.weight_decay=0.25"],
    "doctor: patience 3": ["early_stopping.patience=3"],
}
OUT = Path(__file__).parent / "results" / "default_run.json"


def run(seed: int, overrides: list[str], folder: Path) -> dict[str, Any]:
    # What `trainwell train KEY=VALUE...` does: the overrides are the user's, the rest is recommended for digits.
    request = load_request(None, [f"seed={seed}", "doctor.live=false", "report=false", "logging.progress=off", *overrides])
    result = train(request, run_dir=folder, recommend=True)
    config = load_config(folder / "config.yaml")
    final = result.summary["final"]
    warnings = [f.rule for f in diagnose(folder).findings if f.severity >= Severity.WARNING]
    return {
        "seed": seed,
        "val_accuracy": final["val_accuracy"],
        "val_loss": final["val_loss"],
        "steps": result.summary["steps"],
        "best_step": result.summary["best_step"],
        "stop_reason": result.summary["stop_reason"],
        "doctor_warnings": warnings,
        "lr": config.optimizer.lr,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1, 2, 3, 4])
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in VARIANTS.items():
            for seed in args.seeds:
                row = run(seed, overrides, Path(tmp) / f"{len(runs)}-{seed}-{len(runs.get(name, []))}")
                runs.setdefault(name, []).append(row)
                print(name, row, flush=True)
    base = {r["seed"]: r for r in runs["recommended"]}
    table = {}
    for name, rows in runs.items():
        deltas = [100 * (r["val_accuracy"] - base[r["seed"]]["val_accuracy"]) for r in rows]
        table[name] = {
            "accuracy_mean": 100 * statistics.mean(r["val_accuracy"] for r in rows),
            "val_loss_mean": statistics.mean(r["val_loss"] for r in rows),
            "accuracy_delta_vs_recommended_mean": statistics.mean(deltas),
            "better_worse_same_seeds": [sum(d > 1e-9 for d in deltas), sum(d < -1e-9 for d in deltas), sum(abs(d) <= 1e-9 for d in deltas)],
            "runs_with_doctor_warnings": sum(bool(r["doctor_warnings"]) for r in rows),
        }
    OUT.parent.mkdir(exist_ok=True)
    record = {"git_revision": git_revision(Path(__file__).parent), "command": "python " + " ".join(sys.argv), "runs": runs, "table": table}
    OUT.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
