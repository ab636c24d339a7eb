"""Does the recommended config train better than the usual defaults? For each built-in task that runs here,
train three configs with trainwell's engine over 3 seeds and compare validation accuracy:

  recommended   recommend(Profile.from_task(task, dataset_size=<the train size used>, epochs=<budget>))
  hf-defaults   HF Trainer's defaults: AdamW 5e-5, linear decay, no warmup, weight decay 0, batch 8, clip 1.0
  adamw-1e-3    a fixed "AdamW 1e-3, constant LR" (torch's AdamW weight decay 0.01, batch 32, no clipping)

All three share everything else: the task, the epoch budget, evaluation cadence, early stopping and the
restore of the best checkpoint (so only the hyperparameters the recommender chooses differ). The baselines
use the task's own model defaults (dropout); the recommender may change dropout, which is part of what it
recommends. CPU budget: fashion-mnist, tabular and text use data.limit (and text a validation subset and 64
tokens) so the whole benchmark takes a few minutes on 1 thread; the table says which limits were used.

    python benchmarks/recommend.py [--tasks digits tabular fashion-mnist text-classification] [--seeds 3]

Prints a markdown table (mean ± std of the final val accuracy in %, and the recommended config's paired difference
to each baseline: 'ties' when it is within 2 standard errors) and writes benchmarks/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "recommend.json"

# task -> (data section, epoch budget or None for the recommender's own, note for the table)
SETUPS: dict[str, tuple[dict[str, Any], int | None, str]] = {
    "digits": ({}, None, "full (1437 train / 360 val), recommender's epochs"),
    "tabular": ({"path": str(SHARED / "adult" / "adult.data"), "limit": 4000}, 5, "adult, 4000 train rows / 6513 val, 5 epochs"),
    "fashion-mnist": (
        {"path": str(SHARED / "fashion-mnist"), "limit": 2000, "val_fraction": 0.05, "options": {"validation": "split"}},
        4,
        "2000 train / 3000 held-out train images, 4 epochs",
    ),
    "text-classification": (
        {"path": str(SHARED / "sst2-glue" / "train.tsv"), "limit": 400, "options": {"val_limit": 300, "max_length": 48}},
        2,
        "SST-2, 400 train / 300 dev sentences, 2 epochs",
    ),
}

HF_DEFAULTS = {
    "optimizer": {"name": "adamw", "lr": 5e-5, "weight_decay": 0.0},
    "schedule": {"name": "linear", "warmup": 0.0},
    "batch": {"size": 8, "accumulation": 1},
    "training": {"max_grad_norm": 1.0},
    "model": {},
}
ADAMW_CONSTANT = {
    "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01},
    "schedule": {"name": "constant", "warmup": 0.0},
    "batch": {"size": 32, "accumulation": 1},
    "training": {"max_grad_norm": None},
    "model": {},
}


def _merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and value and isinstance(out.get(key), dict) else value
    return out


def _train_size(task: str, data: dict[str, Any]) -> int:
    """The number of training examples the run will see, so the recommender's profile matches it."""
    from trainwell.config import load_config
    from trainwell.tasks.catalog import build_task

    task_obj = build_task(load_config({"task": task, "data": data}))
    return len(task_obj.train_data)  # type: ignore[arg-type]


def configs_for(task: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The three configs (as dicts) for one task, and the recommended reasons for the record."""
    from trainwell.advise.recommender import Profile, recommend
    from trainwell.config import to_dict

    data, epochs, _ = SETUPS[task]
    profile = Profile.from_task(task, dataset_size=_train_size(task, data), epochs=epochs)
    rec = recommend(profile)
    base = _merge(to_dict(rec.config), {"data": data, "report": False, "doctor": {"live": False}, "training": {"threads": 1}})
    configs = {"recommended": base, "hf-defaults": _merge(base, HF_DEFAULTS), "adamw-1e-3": _merge(base, ADAMW_CONSTANT)}
    return configs, {"profile": profile.__dict__, "reasons": [r.to_dict() for r in rec.reasons]}


def run_one(config: dict[str, Any], seed: int, out_dir: str) -> dict[str, Any]:
    from trainwell.config import load_config
    from trainwell.run import train

    cfg = load_config(_merge(config, {"seed": seed, "output_dir": out_dir}))
    start = time.perf_counter()
    result = train(cfg)
    return {
        "seed": seed,
        "val_accuracy": float(result.summary["final"]["val_accuracy"]),
        "steps": result.summary["steps"],
        "epochs": result.summary["epochs"],
        "stop_reason": result.summary["stop_reason"],
        "seconds": round(time.perf_counter() - start, 1),
    }


def _cell(values: list[float]) -> str:
    mean = statistics.mean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def verdict(recommended: list[float], baseline: list[float]) -> tuple[float, str]:
    """Paired by seed (same split and initialisation): 'beats', 'ties' (within 2 standard errors) or 'loses'."""
    diffs = [r - b for r, b in zip(recommended, baseline)]
    mean = statistics.mean(diffs)
    se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
    if abs(mean) <= 2 * se or abs(mean) < 1e-9:
        return mean, "ties"
    return mean, "beats" if mean > 0 else "loses"


def table(results: dict[str, Any]) -> str:
    names = ("recommended", "hf-defaults", "adamw-1e-3")
    lines = [
        "| task (setup) | recommended | HF defaults | AdamW 1e-3 constant | vs HF (paired Δ) | vs AdamW 1e-3 (paired Δ) |",
        "|---|---|---|---|---|---|",
    ]
    for task, entry in results["tasks"].items():
        accs = {n: [r["val_accuracy"] for r in entry["runs"][n]] for n in names}
        cells = [_cell(accs[n]) for n in names]
        for other in names[1:]:
            delta, word = verdict(accs["recommended"], accs[other])
            cells.append(f"{word} ({100 * delta:+.2f})")
        lines.append(f"| {task} ({entry['setup']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # text-classification costs minutes per run on 2 shared CPU cores: opt in with --tasks text-classification.
    parser.add_argument("--tasks", nargs="*", default=["digits", "tabular", "fashion-mnist"], choices=list(SETUPS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--append", action="store_true", help="add these tasks to the tasks already in --output")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from trainwell.engine.run_folder import git_revision

    results: dict[str, Any] = {"seeds": args.seeds, "threads": 1, "torch": torch.__version__, "tasks": {}}
    if args.append and Path(args.output).is_file():
        results = json.loads(Path(args.output).read_text(encoding="utf-8"))
    # The revision and command of this invocation: at the top (the newest) and in each task it runs, so that an
    # --append run does not claim the tasks it kept from an earlier revision.
    run = {"git_revision": git_revision(Path(__file__).parent), "command": f"nice -n {os.nice(0)} python " + " ".join(sys.argv)}
    results.update(run)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            if task != "digits" and not SHARED.is_dir():
                print(f"skip {task}: {SHARED} is absent", file=sys.stderr)
                continue
            configs, record = configs_for(task)
            runs: dict[str, list[dict[str, Any]]] = {}
            for name, config in configs.items():
                runs[name] = [run_one(config, seed, tmp) for seed in range(args.seeds)]
                print(
                    f"{task:>20} {name:<12} "
                    + " ".join(f"{r['val_accuracy']:.4f}" for r in runs[name])
                    + f"  ({sum(r['seconds'] for r in runs[name]):.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            results["tasks"][task] = {
                "setup": SETUPS[task][2],
                "run": run,
                "runs": runs,
                **record,
                "configs": {n: {k: c[k] for k in ("optimizer", "schedule", "batch", "training", "model")} for n, c in configs.items()},
            }
    # Training time summed over every run kept in the file (an --append run replaces a task's runs).
    results["train_seconds"] = round(sum(r["seconds"] for e in results["tasks"].values() for runs in e["runs"].values() for r in runs), 1)
    results.pop("wall_time_s", None)
    results["table"] = table(results)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(results["table"])
    print(
        f"\nthis invocation {time.perf_counter() - start:.0f} s; training time of all runs in the file "
        f"{results['train_seconds']:.0f} s on 1 thread; wrote {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
