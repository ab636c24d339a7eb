"""The recommender's corpus-made decisions, remade leave-one-dataset-out for the headline regret.

Five of the recommender's rules take a side the guides did not, because the corpus's rule ablations said so
(MLPs without 001's dropout, short transformers from scratch without it, warmup for Adam from scratch, clipping
for CNNs on Adam, no class weights when scored on accuracy); and per model family the LR is either the law's
or the range test's (``fit.rule_or_measure``). Made on every dataset, those decisions have seen the dataset a
``trainwell_loo`` run is scored on. Here each is made again per held-out dataset from the OTHER datasets'
evidence only, by one criterion fixed in advance:

- a rule: the mean paired test change of switching it off (``analysis.ablation_delta``, off minus on, points)
  over the other datasets' settings where the rule applies. Beyond +NOISE: off; beyond -NOISE: on; within the
  noise, or with no setting left: the guides' side (the evidence does not move the guide);
- the LR: ``fit.rule_or_measure`` without the held-out dataset; where it says measure, the held-out setting
  trains at the range test's own held-out pick (``finder.loo_picks``: the finder's constants fitted without
  the dataset, on the stored range test of the same seed), which is what ``optimizer.lr: find`` picks there.

Where a held-out decision differs from the shipped recommender's side, the ``trainwell_loo`` config is the
recommendation with that rule switched to the held-out side; everywhere else it is the recommendation as is.
The decisions are frozen in the ledger when first made with every range test and every rule ablation of the
corpus in (``key()``, named by the corpus's settings too: settings added later decide anew), so the runs trained
with them keep their meaning, like the law's held-out tables.
"""

from __future__ import annotations

import copy
import hashlib
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import analysis
import fit
import methods
import plan
from settings import SETTINGS, Setting
from trainwell.config.paths import set_path

NOISE = analysis.ABLATION_NOISE  # points: a mean paired change smaller than this moves no guide


@dataclass(frozen=True)
class Decision:
    """One recommender rule whose side the corpus chose: where it applies (the setting's facts), the ablation
    that measures it, the guides' side, the side the recommender ships, and the config values of its "on" side
    (its "off" side is the ablation's switched-off value)."""

    rule: str
    ablation: str
    applies: Callable[[dict[str, Any]], bool]
    guide: str  # "on" | "off"
    shipped: str  # "on" | "off"
    on: dict[str, Any]

    def values(self, side: str) -> dict[str, Any]:
        if side == "on":
            return self.on
        return {methods.ABLATIONS[self.ablation].path: methods.ABLATIONS[self.ablation].off}


def _family(*families: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["recommender_family"] in families and f["mode"] == "scratch"


DECISIONS: tuple[Decision, ...] = (
    # 001 §Dropout Rate: FC layers 0.3-0.5 (the recommender's value before the corpus: 0.3)
    Decision("dropout.fc", "dropout", _family("mlp"), "on", "off", {"model.dropout": 0.3}),
    # 001 §Dropout Rate: transformer 0.1; the rule covers runs from scratch of 5 epochs or fewer
    Decision(
        "dropout.transformer-scratch-short",
        "dropout",
        lambda f: _family("transformer")(f) and f["epochs"] <= 5,
        "on",
        "off",
        {"model.dropout": 0.1},
    ),
    # 001 §Warmup Steps: optional for MLPs/CNNs ("start without it"); transformers warm up by their own rule
    Decision("schedule.adam-scratch-warmup", "warmup", _family("mlp", "cnn", "rnn"), "off", "on", {"schedule.warmup": 0.1}),
    # 001 §Gradient Clip Value: CNNs "not usually needed"
    Decision("clip.cnn-adam", "clipping", _family("cnn"), "off", "on", {"training.max_grad_norm": 1.0}),
    # 004 §Loss Function Selection Guide: weighted cross-entropy from 1:5 (loss.moderate-imbalance's value)
    Decision("loss.accuracy-target", "class_weights", lambda f: float(f["imbalance"]) >= 5.0, "on", "off", {"loss.class_weights": "auto"}),
)


def key(finder_hash: str) -> str:
    """Where the ledger freezes the held-out decisions: named by the criterion, the decisions' spec, the finder
    sources whose range tests they read, the finder rule's inputs (finder.FEATURES) and the corpus's settings, so
    a changed criterion, finder or corpus decides anew."""
    import finder

    spec = [(d.rule, d.ablation, d.guide, d.shipped, d.on) for d in DECISIONS]
    corpus = sorted(s.key() for s in SETTINGS)
    text = json.dumps(
        {
            "spec": spec,
            "noise": NOISE,
            "margin": fit.MEASURE_MARGIN,
            "finder": finder_hash,
            "features": finder.FEATURES,
            "settings": corpus,
        },
        sort_keys=True,
    )
    return "loo_decisions@" + hashlib.sha1(text.encode()).hexdigest()[:8]


def evidence(book: dict[str, Any], finder_hash: str) -> list[dict[str, Any]]:
    """Per setting with rule ablations: its dataset, facts and the ablation change per rule (points)."""
    out = []
    for s in SETTINGS:
        if s.name not in book["settings"]:
            continue
        found = analysis.ablations(s, book, finder_hash)
        deltas = {d.ablation: v for d in DECISIONS if (v := analysis.ablation_delta(found, d.ablation)) is not None}
        out.append({"setting": s.name, "dataset": s.dataset, "facts": book["settings"][s.name]["facts"], "deltas": deltas})
    return out


def decide(decision: Decision, rows: list[dict[str, Any]], exclude: str | None = None) -> dict[str, Any]:
    """The side the evidence takes for ``decision`` without ``exclude``'s settings, with the numbers behind it."""
    used = [r for r in rows if r["dataset"] != exclude and decision.applies(r["facts"]) and decision.ablation in r["deltas"]]
    if not used:
        return {"side": decision.guide, "settings": 0, "why": "no evidence: the guides' side"}
    mean = statistics.fmean(r["deltas"][decision.ablation] for r in used)
    side = "off" if mean > NOISE else "on" if mean < -NOISE else decision.guide
    return {
        "side": side,
        "settings": len(used),
        "datasets": len({r["dataset"] for r in used}),
        "mean_off_minus_on": round(mean, 2),
        "why": "measured" if abs(mean) > NOISE else "within noise: the guides' side",
    }


def make(book: dict[str, Any], finder_hash: str) -> dict[str, Any]:
    """All-data and per-held-out-dataset decisions: {"all": ..., "held_out": {dataset: {"rules", "measure", "picks"}}}."""
    import finder

    rows = evidence(book, finder_hash)
    law = fit.law_scores(book)
    peak = finder.scores(book, finder_hash)
    picks = finder.loo_picks(book, finder_hash)

    def one(exclude: str | None) -> dict[str, Any]:
        families = fit.rule_or_measure(law, peak, exclude=exclude)
        return {
            "rules": {d.rule: decide(d, rows, exclude) for d in DECISIONS},
            "measure": sorted(f for f, v in families.items() if v["decision"].startswith("measure")),
        }

    held = {}
    for d in sorted({s.dataset for s in SETTINGS}):
        held[d] = one(d)
        held[d]["picks"] = {}
        for p in picks:
            if p["dataset"] == d:
                held[d]["picks"].setdefault(p["setting"], {})[str(p["seed"])] = methods.lr_round(p["loo_peak"])
    return {"finder": finder_hash, "all": one(None), "held_out": held}


def ablations_complete(book: dict[str, Any], finder_hash: str) -> bool:
    """Every setting of the corpus is measured and has evidence (``analysis.ablation_delta``: both seeds of an
    ablation, of this recommender or an earlier one) about every rule its recommendation plans to ablate. An
    earlier recommender's ablation is what the decision reads until the current one's is in (the same rule
    switched off at a slightly different LR), so a refitted law does not hold the decisions back until every
    rule is ablated again."""
    for s in SETTINGS:
        info = book["settings"].get(s.name)
        if info is None or info["key"] != s.key():
            return False
        found = analysis.ablations(s, book, finder_hash)
        rules = {i.spec["ablation"] for i in plan.ablation_items(s, info["facts"], finder_hash)}
        if any(analysis.ablation_delta(found, rule) is None for rule in rules):
            return False
    return True


def final(book: dict[str, Any], finder_hash: str) -> bool:
    """Every range test and every rule ablation of the corpus is in: decisions made now would not change (read
    before ``make``, which costs a worker about as much as an MLP run)."""
    import finder

    return finder.complete(book, finder_hash) and ablations_complete(book, finder_hash)


def frozen_or_made(book: dict[str, Any], finder_hash: str) -> tuple[dict[str, Any], bool]:
    """(the decisions, whether they are new and final enough to freeze: made with every range test and every
    rule ablation in, so a decision never freezes before the evidence of a setting still training)."""
    stored = book.get(key(finder_hash))
    if stored is not None:
        return stored, False
    return make(book, finder_hash), final(book, finder_hash)


def configs(s: Setting, facts: dict[str, Any], config: dict[str, Any], decided: dict[str, Any]) -> list[dict[str, Any]]:
    """The held-out recommendation per seed (``methods.seeds(s)``): ``config`` with every rule that applies to the setting and
    whose held-out side differs from the shipped one switched, and, where the held-out LR decision for the family
    is to measure, the range test's held-out pick of that seed as the LR (what the recommender's "find" resolves
    to); a "find" the held-out evidence does not support falls back to the law's value."""
    mine = decided["held_out"][s.dataset]
    out = []
    # a seed with no range test of its own (methods.EXTRA_SEEDS: no small-test setting is in a measured family)
    # falls back to the law's value, as an unreliable range test does
    for seed in methods.seeds(s):
        c = copy.deepcopy(config)
        for d in DECISIONS:
            side = mine["rules"][d.rule]["side"]
            if side != d.shipped and d.applies(facts):
                for path, value in d.values(side).items():
                    set_path(c, path, value)
        pick = mine["picks"].get(s.name, {}).get(str(seed))
        if s.family in mine["measure"] and pick is not None:
            set_path(c, "optimizer.lr", pick)
        elif c.get("optimizer", {}).get("lr") == "find":
            set_path(c, "optimizer.lr", c["lr_find"]["fallback"])
        out.append(c)
    return out
