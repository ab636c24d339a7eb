"""A paired probe of one change to trainwell's recommendation, on a few corpus settings: evidence for a rule not
yet in the recommender, measured before anyone writes it.

    python benchmarks/corpus/probe.py --variant linear-warmup --settings sst2-minilm-finetune-short,sms-minilm-finetune-short

The setting's in-sample recommendation (methods.trainwell_config, the config the ``trainwell`` runs train) with
the variant's values set on top, trained on the setting's seeds (methods.seeds) through run.execute and recorded in
the ledger like any corpus run (its spec says ``probe``), then paired by seed with the ``trainwell`` runs: the
change's effect is the mean paired test difference (variant minus recommendation, points) with its standard error.
Results: benchmarks/results/corpus_probe_<variant>.json, with the git revision and the command. A probe changes
nothing in the recommender and is not part of a setting's plan.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ledger
import methods
import plan
from settings import BY_NAME, Setting
from trainwell.config.paths import set_path

# name -> (the values set on top of the recommendation, why this variant)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "linear-warmup": (
        {"schedule.name": "linear", "schedule.warmup": 0.2},
        "HF Trainer's and BERT's fine-tuning schedule, linear decay after warmup (Devlin et al. 2019: 10 % warmup), with "
        "the 20 % warmup the two MiniLM fine-tunes' best random configs used (0.14 on SMS, 0.20 on SST-2); the "
        "recommendation decays by cosine after 6 %",
    ),
    # the optimizer block of PyTorch's SGD peer on top of trainwell's recommendation (its evaluation cadence, best
    # epoch restored, early stopping, dropout and loss kept): optimizer.py's arm B (PREREG_optimizer.md)
    "sgd-mlp": (
        dict(methods.PEERS["torch_sgd"]),
        "the optimizer of torchvision's classification recipe (SGD 0.1, momentum 0.9, weight decay 1e-4, cosine, no warmup, "
        "no clipping), which beat the held-out AdamW recommendation on three MLPs by more than 2 standard errors",
    ),
}


def variant_config(config: dict[str, Any], name: str) -> dict[str, Any]:
    """``config`` with the variant's values set on top (a copy)."""
    changed = copy.deepcopy(config)
    for path, value in VARIANTS[name][0].items():
        set_path(changed, path, value)
    return changed


def items(s: Setting, facts: dict[str, Any], name: str, finder_hash: str) -> tuple[list[plan.Item], list[plan.Item]]:
    """(the variant's runs, the ``trainwell`` runs they pair with), one per seed of the setting."""
    config, why = methods.trainwell_config(s, facts)
    if config is None:
        raise SystemExit(f"{s.name}: the recommender failed: {why}")
    probe = variant_config(config, name)
    seeds = methods.seeds(s)
    return (
        [plan.config_item(s, "probe", f"probe:{name}", seed, probe, finder_hash, probe=name) for seed in seeds],
        [plan.config_item(s, "trainwell", "trainwell", seed, config, finder_hash) for seed in seeds],
    )


def paired(book: dict[str, Any], mine: list[plan.Item], base: list[plan.Item]) -> dict[str, Any]:
    runs = book["runs"]
    pairs = [(100 * runs[m.key]["test_acc"], 100 * runs[b.key]["test_acc"]) for m, b in zip(mine, base, strict=True)]
    deltas = [m - b for m, b in pairs]
    se = statistics.stdev(deltas) / math.sqrt(len(deltas)) if len(deltas) > 1 else None
    return {
        "seeds": [i.seed for i in mine],
        "variant_test": [round(m, 3) for m, _ in pairs],
        "recommended_test": [round(b, 3) for _, b in pairs],
        "mean_delta": round(statistics.fmean(deltas), 3),
        "se": None if se is None else round(se, 3),
        "better_worse_same": [sum(d > 0 for d in deltas), sum(d < 0 for d in deltas), sum(d == 0 for d in deltas)],
    }


def train_missing(s: Setting, facts: dict[str, Any], todo: list[plan.Item], book: dict[str, Any]) -> None:
    """Train, one after another in this process, every run of ``todo`` the ledger does not hold, recording each."""
    import os

    import torch

    import run  # the harness's execute: only for training

    torch.set_num_threads(1)  # as run.py's workers: one CPU thread per run
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for item in todo:
        if item.key not in book["runs"]:
            entry = run.execute(s, item.spec, facts)
            entry["spec"] = item.spec
            entry.setdefault("rev", run.REVISION)
            ledger.record(item.key, entry)
            print(f"{s.name} {item.method} seed {item.seed}: {entry['test_acc']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    parser.add_argument("--settings", required=True, help="comma-separated setting names")
    args = parser.parse_args()
    finder_hash = ledger.finder_sources_hash()
    chosen = [BY_NAME[n] for n in args.settings.split(",") if n]
    book = ledger.load()
    out: dict[str, Any] = {}
    for s in chosen:
        facts = book["settings"][s.name]["facts"]
        mine, base = items(s, facts, args.variant, finder_hash)
        train_missing(s, facts, [*mine, *base], book)
        book = ledger.load()
        out[s.name] = paired(book, mine, base)
    result = {
        "git_revision": ledger.git_revision(),
        "trainwell_revision": ledger.trainwell_revision(),
        "command": f"python benchmarks/corpus/probe.py --variant {args.variant} --settings {args.settings}",
        "variant": {"values": VARIANTS[args.variant][0], "why": VARIANTS[args.variant][1]},
        "settings": out,
    }
    path = ledger.ROOT / "benchmarks" / "results" / f"corpus_probe_{args.variant}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
