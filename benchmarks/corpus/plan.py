"""Which runs the corpus needs, given what the ledger already holds.

Per setting, in this order (later stages read earlier results, so they appear once those are in):
  sweep     7 half-decade LRs x seeds 0, 1 on trainwell's default stack (AdamW, wd 0.01, cosine, 10 %
            warmup, clip 1.0), extended by up to two half-decades past an edge that wins;
  peers     each peer recipe x seeds 0, 1, 2;  trainwell: the recommender's config x seeds 0, 1, 2 (and 3, 4
            on a setting with a small test set: methods.seeds, here and in the oracle stage);
  find      trainwell's LR finder (the sweep's stack with optimizer.lr: find) x finder seeds 0, 1, 2, and
            a training run at each seed's peak LR (find_train);
  random    16 configs around the sweep-best LR, seed 0;
  oracle    the two best sweep LRs and the three best random configs (by validation accuracy) completed to
            seeds 0, 1, 2;
  ablate    trainwell's recommendation with one rule switched off (methods.ABLATIONS) x seeds 0, 1, for
            every rule the recommendation uses, or switched on (methods.SWITCH_ON: label smoothing, focal
            loss) where it leaves them off; not on the fine-tuned MiniLM (~80 s a run). Planned apart
            (ablation_items) so a setting is complete without them, and run after the other stages.
  refine    the quarter-decade LRs either side of the sweep's best grid LR x seeds 0, 1 (refine_items):
            the half-decade grid puts its points 3.2x apart, coarser than the finder's 2x target, so
            finder.py scores the finder against this refined curve too (beside the issue's sweep-best).
            Planned apart like the ablations; the sweep-best, the LR law's target and the oracle never read it.
  truth     the sweep's LRs x seeds 2, 3 (truth_items): a 4-seed sweep-best, finder.py's second reference beside
            the issue's 2-seed one; trained only with run.py --stages truth.
Every selection reads validation accuracy; test accuracy is only reported.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import methods
from ledger import spec_key
from settings import Setting

MAX_EXTEND = 2


@dataclass
class Item:
    setting: str
    stage: str
    method: str
    seed: int
    spec: dict[str, Any]
    key: str


def _item(s: Setting, stage: str, method: str, seed: int, kind: str, overrides: dict[str, Any] | None = None, **extra: Any) -> Item:
    spec = {"setting": s.name, "setting_key": s.key(), "kind": kind, "seed": seed, "overrides": overrides or {}, **extra}
    return Item(s.name, stage, method, seed, spec, spec_key(spec))


def config_item(s: Setting, stage: str, method: str, seed: int, config: dict[str, Any], finder_hash: str, **extra: Any) -> Item:
    """A run of a whole config (trainwell's recommendation, an ablation of it). A config with ``optimizer.lr: find``
    runs the range test inside ``train``: its outcome depends on the finder's sources as much as on the config, so
    its spec names them (``finder``), like a range test's, and a changed finder trains it again instead of reusing
    the run the old finder picked the LR for."""
    pinned = {"finder": finder_hash} if config.get("optimizer", {}).get("lr") == "find" else {}
    return _item(s, stage, method, seed, "train", config=config, **pinned, **extra)


def sweep_items(s: Setting, runs: dict[str, Any]) -> tuple[list[Item], bool]:
    """The sweep's runs and whether it is complete (every LR, both seeds, no edge left to extend)."""
    lrs = methods.grid(s)
    extended = {"low": 0, "high": 0}
    while True:
        items = [_item(s, "sweep", f"lr={lr:g}", seed, "train", {"optimizer.lr": lr}) for lr in lrs for seed in methods.SWEEP_SEEDS]
        if any(i.key not in runs for i in items):
            return items, False
        means = {lr: statistics.fmean(runs[i.key]["val_acc"] for i in items if i.spec["overrides"]["optimizer.lr"] == lr) for lr in lrs}
        best = max(lrs, key=lambda lr: (means[lr], -lr))
        step = 10**0.5
        if best == lrs[0] and extended["low"] < MAX_EXTEND and lrs[0] / step >= 1e-7:
            lrs.insert(0, round(lrs[0] / step, 10))
            extended["low"] += 1
        elif best == lrs[-1] and extended["high"] < MAX_EXTEND and lrs[-1] * step <= 3.0:
            lrs.append(round(lrs[-1] * step, 10))
            extended["high"] += 1
        else:
            return items, True


def sweep_means(
    items: list[Item], runs: dict[str, Any], seeds: tuple[int, ...] = methods.SWEEP_SEEDS, field: str = "val_acc"
) -> dict[float, float]:
    out: dict[float, list[float]] = {}
    for i in items:
        if i.seed in seeds and i.key in runs:
            out.setdefault(i.spec["overrides"]["optimizer.lr"], []).append(runs[i.key][field])
    return {lr: statistics.fmean(v) for lr, v in sorted(out.items()) if len(v) == len(seeds)}


def sweep_best(means: dict[float, float]) -> tuple[float, float]:
    """(the best grid LR, the vertex of a parabola in log10 LR through it and its two neighbours, kept
    within half a step of the grid point): the second is the LR the law and the finder are scored against."""
    lrs = sorted(means)
    i = max(range(len(lrs)), key=lambda k: (means[lrs[k]], -lrs[k]))
    best = lrs[i]
    if 0 < i < len(lrs) - 1:
        x = [math.log10(lrs[i - 1]), math.log10(lrs[i]), math.log10(lrs[i + 1])]
        y = [means[lrs[i - 1]], means[lrs[i]], means[lrs[i + 1]]]
        denom = (x[0] - x[1]) * (x[0] - x[2]) * (x[1] - x[2])
        a = (x[2] * (y[1] - y[0]) + x[1] * (y[0] - y[2]) + x[0] * (y[2] - y[1])) / denom
        b = (x[2] ** 2 * (y[0] - y[1]) + x[1] ** 2 * (y[2] - y[0]) + x[0] ** 2 * (y[1] - y[2])) / denom
        if a < 0:
            half = (x[2] - x[0]) / 4
            vertex = min(max(-b / (2 * a), x[1] - half), x[1] + half)
            return best, 10**vertex
    return best, best


_RECOMMENDED: dict[str, tuple[dict[str, Any] | None, str]] = {}


def _recommended(s: Setting, facts: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """trainwell's config for the setting, asked once per process (the recommender is code: it only
    changes when the worker restarts)."""
    if s.name not in _RECOMMENDED:
        _RECOMMENDED[s.name] = methods.trainwell_config(s, facts)
    return _RECOMMENDED[s.name]


def setting_items(s: Setting, facts: dict[str, Any], runs: dict[str, Any], finder_hash: str) -> tuple[list[Item], bool]:
    """Every run this setting needs that can be named now, and whether that is all of them."""
    sweep, swept = sweep_items(s, runs)
    items = list(sweep)
    complete = swept
    for name, overrides in methods.PEERS.items():
        items += [_item(s, "peers", name, seed, "train", overrides) for seed in methods.seeds(s)]
    config, _ = _recommended(s, facts)
    if config is not None:
        items += [config_item(s, "trainwell", "trainwell", seed, config, finder_hash) for seed in methods.seeds(s)]
    for seed in methods.SEEDS:
        find = _item(s, "find", "finder", seed, "find", {"optimizer.lr": "find"}, finder=finder_hash)
        items.append(find)
        if find.key in runs:
            pick = runs[find.key].get("peak_lr")
            if pick:
                items.append(_item(s, "find_train", "finder", seed, "train", {"optimizer.lr": methods.lr_round(pick)}))
        else:
            complete = False
    if not swept:
        return items, False
    best, _ = sweep_best(sweep_means(sweep, runs))
    randoms = [_item(s, "random", f"random{k}", 0, "train", o) for k, o in enumerate(methods.random_configs(s, best))]
    items += randoms
    if any(r.key not in runs for r in randoms):
        return items, False
    means = sweep_means(sweep, runs)
    top_lrs = sorted(means, key=lambda lr: -means[lr])[:2]
    # completed to every seed of the setting (methods.seeds): the sweep trained seeds 0, 1, the random search seed 0
    items += [_item(s, "oracle", f"lr={lr:g}", seed, "train", {"optimizer.lr": lr}) for lr in top_lrs for seed in methods.seeds(s)[2:]]
    top_random = sorted(randoms, key=lambda r: -runs[r.key]["val_acc"])[:3]
    for r in top_random:
        items += [_item(s, "oracle", r.method, seed, "train", r.spec["overrides"]) for seed in methods.seeds(s)[1:]]
    return items, complete


REFINE_SEEDS = (0, 1)
QUARTER = 10**0.25


def refine_items(s: Setting, runs: dict[str, Any]) -> list[Item]:
    """The sweep's stack at best / 10^0.25 and best x 10^0.25 (the sweep's best grid LR) x seeds 0, 1, once
    the sweep is complete. Same spec as a sweep run (only the LR differs), so a finder pick that landed on
    one of these LRs is reused."""
    sweep, swept = sweep_items(s, runs)
    if not swept:
        return []
    best, _ = sweep_best(sweep_means(sweep, runs))
    lrs = (methods.lr_round(best / QUARTER), methods.lr_round(best * QUARTER))
    return [_item(s, "refine", f"lr={lr:g}", seed, "train", {"optimizer.lr": lr}) for lr in lrs for seed in REFINE_SEEDS]


def refined_curve(s: Setting, runs: dict[str, Any], field: str = "val_acc") -> dict[float, float] | None:
    """The sweep's 2-seed means with the refine stage's quarter-decade points added, or None until both are in."""
    return _sweep_with(s, runs, refine_items(s, runs), methods.SWEEP_SEEDS, field)


def _sweep_with(s: Setting, runs: dict[str, Any], extra: list[Item], seeds: tuple[int, ...], field: str) -> dict[float, float] | None:
    """The means over ``seeds`` of the sweep's runs and ``extra``'s, or None until the sweep and every extra run are in."""
    sweep, swept = sweep_items(s, runs)
    if not swept or any(i.key not in runs for i in extra):
        return None
    return sweep_means(sweep + extra, runs, seeds=seeds, field=field)


TRUTH_SEEDS = (2, 3)


def truth_items(s: Setting, runs: dict[str, Any]) -> list[Item]:
    """The sweep's LRs (its extensions included) x seeds 2, 3, once the sweep is complete: a 4-seed sweep-best for
    finder.py to score the picks against beside the issue's 2-seed one (how much of a miss is the reference's seed
    noise). Same spec as a sweep run, so the oracle stage's seed-2 runs at the two best LRs are reused. Trained
    only when asked for (run.py --stages truth); the sweep-best, the LR law's target and the oracle never read it."""
    sweep, swept = sweep_items(s, runs)
    if not swept:
        return []
    lrs = sorted({i.spec["overrides"]["optimizer.lr"] for i in sweep})
    return [_item(s, "truth", f"lr={lr:g}", seed, "train", {"optimizer.lr": lr}) for lr in lrs for seed in TRUTH_SEEDS]


def truth_curve(s: Setting, runs: dict[str, Any], field: str = "val_acc") -> dict[float, float] | None:
    """The sweep's LRs with the 4-seed means (seeds 0-3), or None until every run is in."""
    return _sweep_with(s, runs, truth_items(s, runs), (*methods.SWEEP_SEEDS, *TRUTH_SEEDS), field)


ABLATE_SEEDS = (0, 1)
NOT_ABLATED = ("minilm",)  # families whose runs cost too much to ablate within the corpus's budget


def ablation_items(s: Setting, facts: dict[str, Any], finder_hash: str) -> list[Item]:
    """trainwell's recommendation with one rule off, per rule it uses; ``base`` names the recommended config
    (its spec key), so the analysis pairs each ablation with the trainwell runs of the same recommender (and,
    where the config measures its LR, of the same finder sources: ``config_item``)."""
    config, _ = _recommended(s, facts)
    if config is None or s.family in NOT_ABLATED:
        return []
    base = spec_key(config)
    return [
        # a switched-off rule's spec is as before (its key, and the runs already in the ledger, stay); a rule
        # switched on says so (``switch``), and the analysis turns its sign so "> 0" always means the rule cost accuracy
        config_item(
            s,
            "ablate",
            f"ablate:{name}",
            seed,
            changed,
            finder_hash,
            ablation=name,
            base=base,
            **({"switch": "on"} if how == "on" else {}),
        )
        for name, (how, changed) in methods.ablated_configs(config, float(facts.get("imbalance", 1.0)), facts.get("family", "")).items()
        for seed in ABLATE_SEEDS
    ]
