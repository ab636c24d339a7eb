"""The guides' numeric rules and decision tables as data.

A :class:`Rule` is one row of a guide's table: an ``id``, the ``stage`` (decision) it belongs to, a
condition (:class:`Match`) on the :class:`Profile` and on what earlier stages decided, an ``effect``
(config field -> value, or a function computing them), ``why`` and ``source`` ("001 §Weight Decay").

The recommender walks :data:`STAGES` in order. Within a stage the first matching rule wins, so the
order of rules in a stage is how a conflict between guides is resolved: the rule for the narrower
context comes first (docs/conflicts.md lists each conflict and the rule that settles it). A stage is
skipped when an earlier rule already set all of its fields (the 003 epoch-budget table sets the LR,
schedule, warmup and weight decay of LLM fine-tuning in one row).

Effect keys that start with ``_`` are notes for later stages (the batch size an LR was tuned at), not
config fields. Importing this module does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainwell.advise._profile import Profile
from trainwell.registry import Registry

Range = tuple[float, float]  # [low, high): high may be math.inf


@dataclass
class Draft:
    """The profile and everything decided so far; conditions and computed effects read it."""

    profile: Profile
    values: dict[str, Any] = field(default_factory=dict)  # config field -> value
    notes: dict[str, Any] = field(default_factory=dict)  # "_lr_batch", "_want_batch", ...
    fired: list[str] = field(default_factory=list)  # ids of the rules that fired, in order

    def get(self, key: str, default: Any = None) -> Any:
        if key.startswith("_"):
            return self.notes.get(key, default)
        return self.values.get(key, default)

    @property
    def epochs(self) -> int:
        return int(self.values.get("training.epochs", 1))

    @property
    def effective_batch(self) -> int:
        """batch.size x accumulation x devices: what one optimizer step sees."""
        gpus = self.profile.gpus or 1
        return int(self.values.get("batch.size", 32)) * int(self.values.get("batch.accumulation", 1)) * gpus

    @property
    def steps_per_epoch(self) -> int | None:
        n = self.profile.dataset_size
        return None if n is None else max(1, math.ceil(n / self.effective_batch))

    @property
    def total_steps(self) -> int | None:
        spe = self.steps_per_epoch
        return None if spe is None else spe * self.epochs


def _inside(value: float | None, bounds: Range | None) -> bool:
    if bounds is None:
        return True
    return value is not None and bounds[0] <= value < bounds[1]


def _fmt_range(name: str, bounds: Range) -> str:
    lo, hi = bounds
    if hi == math.inf:
        return f"{name} ≥ {lo:g}"
    if lo <= 0:
        return f"{name} < {hi:g}"
    return f"{lo:g} ≤ {name} < {hi:g}"


@dataclass(frozen=True)
class Match:
    """A rule's condition. Every given constraint must hold; ``None`` means "any"."""

    models: frozenset[str] | None = None
    modes: frozenset[str] | None = None
    optimizers: frozenset[str] | None = None  # the optimizer the optimizer stage chose
    epochs: Range | None = None  # the decided epoch budget
    dataset: Range | None = None  # dataset_size; an unknown size never matches a range
    imbalance: Range | None = None  # an unknown imbalance counts as balanced (1.0)
    test: Callable[[Draft], bool] | None = None  # anything the fields above cannot say
    test_doc: str = ""  # how ``test`` reads in the docs

    def __call__(self, draft: Draft) -> bool:
        p = draft.profile
        return (
            (self.models is None or p.model in self.models)
            and (self.modes is None or p.mode in self.modes)
            and (self.optimizers is None or draft.get("optimizer.name") in self.optimizers)
            and _inside(draft.epochs, self.epochs)
            and _inside(p.dataset_size, self.dataset)
            and _inside(p.imbalance if p.imbalance is not None else 1.0, self.imbalance)
            and (self.test is None or self.test(draft))
        )

    def describe(self) -> str:
        parts = []
        for name, values in (("model", self.models), ("mode", self.modes), ("optimizer", self.optimizers)):
            if values is not None:
                parts.append(f"{name} ∈ {{{', '.join(sorted(values))}}}" if len(values) > 1 else f"{name} = {next(iter(values))}")
        for name, bounds in (("epochs", self.epochs), ("dataset_size", self.dataset), ("imbalance", self.imbalance)):
            if bounds is not None:
                parts.append(_fmt_range(name, bounds))
        if self.test_doc:
            parts.append(self.test_doc)
        return ", ".join(parts) or "always"


Effect = Mapping[str, Any] | Callable[[Draft], Mapping[str, Any]]


@dataclass(frozen=True)
class Rule:
    """One guide rule: when ``when`` holds at its stage, it sets ``effect``'s fields, because ``why``."""

    id: str
    stage: str
    when: Match
    effect: Effect
    why: str
    source: str
    example: Mapping[str, Any]  # Profile kwargs on which this rule fires (tests are driven from these)
    effect_doc: str = ""  # how a computed effect reads in the docs

    def apply(self, draft: Draft) -> dict[str, Any]:
        """The fields this rule sets for ``draft`` (notes included, keys starting with '_')."""
        return dict(self.effect(draft) if callable(self.effect) else self.effect)

    def describe_effect(self) -> str:
        if self.effect_doc:
            return self.effect_doc
        assert not callable(self.effect)
        return ", ".join(f"{k} = {v}" for k, v in self.effect.items() if not k.startswith("_"))


@dataclass(frozen=True)
class Stage:
    """One decision: the fields it sets and whether every profile must get a value from it."""

    name: str
    fields: tuple[str, ...]
    required: bool = True
    help: str = ""


# The order the recommender decides in: later stages read earlier decisions.
STAGES: tuple[Stage, ...] = (
    Stage("task", ("task",), help="which built-in task the config runs"),
    Stage("epochs", ("training.epochs",), help="the epoch budget (001/004 epochs by task)"),
    Stage("optimizer", ("optimizer.name",), help="optimizer by architecture and data (001 §Optimizer Choice)"),
    Stage("batch", (), help="the effective batch wanted (001/004 §Batch Size)"),
    Stage("adapter", ("model.adapter",), required=False, help="LoRA or full fine-tuning, and the adapter's rank, alpha and dropout"),
    Stage("batch-fit", ("batch.size", "batch.accumulation"), help="micro-batch and accumulation by GPU memory"),
    Stage("budget", (), required=False, help="003's epoch-budget table for LLM fine-tuning"),
    Stage("lr", ("optimizer.lr",), help="peak LR by optimizer x mode x model (001/004 LR tables)"),
    Stage("lr-scale", (), required=False, help="rescale the LR to the batch you intend"),
    Stage("weight-decay", ("optimizer.weight_decay",), help="decoupled weight decay by optimizer, model and data size"),
    Stage("no-decay", ("optimizer.no_decay",), help="parameters exempt from weight decay"),
    Stage("schedule", ("schedule.name", "schedule.warmup"), help="schedule and warmup by model and duration"),
    Stage("clipping", ("training.max_grad_norm",), help="gradient clipping by model type"),
    Stage("dropout", ("model.dropout",), required=False, help="dropout by architecture (when the task has the option)"),
    Stage("freeze", (), required=False, help="frozen backbone for feature extraction (when the task has the option)"),
    Stage("loss", ("loss.name",), help="loss by class-imbalance ratio (004)"),
    Stage("precision", ("training.precision",), help="precision by hardware (000 §4.3)"),
    Stage("threads", ("training.threads",), required=False, help="CPU threads for models too small to parallelise"),
    Stage(
        "cadence",
        ("evaluation.strategy", "evaluation.every", "checkpoint.strategy", "checkpoint.every"),
        help="evaluation and checkpoint cadence by dataset size and steps per epoch",
    ),
    Stage("logging", ("logging.every",), help="logging ≈ evaluation / 10"),
    Stage("metric", ("evaluation.metric", "evaluation.mode"), help="the monitored metric"),
    Stage("checkpoints", ("checkpoint.keep", "checkpoint.load_best_at_end"), help="checkpoint rotation"),
    Stage("patience", ("early_stopping.patience", "early_stopping.threshold"), help="early-stopping patience by model size"),
    Stage("seed", ("seed",), help="reproducibility"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)

RULES: Registry[Rule] = Registry("recommender rule")
_ORDER: dict[str, list[str]] = {s.name: [] for s in STAGES}


def rule(
    id: str,
    stage: str,
    when: Match,
    effect: Effect,
    why: str,
    source: str,
    example: Mapping[str, Any],
    effect_doc: str = "",
    before: str | None = None,
) -> Rule:
    """Register a rule at the end of its stage (earlier rules in a stage win), or just ahead of rule ``before``
    (a narrower context registered by a later module, e.g. full fine-tuning ahead of 003's LoRA clipping)."""
    if stage not in _ORDER:
        raise ValueError(f"unknown stage '{stage}' for rule '{id}'")
    r = Rule(id, stage, when, effect, why, source, example, effect_doc)
    RULES.register(id, r, why)
    order = _ORDER[stage]
    order.insert(order.index(before) if before is not None else len(order), id)
    return r


def rules_in(stage: str) -> list[Rule]:
    """The rules of one stage, in the order they are tried."""
    return [RULES.get(i) for i in _ORDER[stage]]


def ordered_rules() -> list[Rule]:
    """Every rule in decision order (stage order, then priority within a stage)."""
    return [r for s in STAGE_NAMES for r in rules_in(s)]


def markdown_table() -> str:
    """Every rule as a markdown table in decision order (docs/recommender.md embeds this output)."""
    rows = ["| stage | rule | when | sets | why | source |", "|---|---|---|---|---|---|"]
    for r in ordered_rules():
        cells = (r.stage, f"`{r.id}`", r.when.describe(), r.describe_effect(), r.why, r.source)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


# The tables (``_rules_*.py``) import this module and register their rules; ``trainwell/advise/__init__.py``
# imports them, so ``RULES`` is complete wherever this module is imported, and no import goes back up.
__all__ = ["RULES", "STAGES", "Draft", "Match", "Profile", "Rule", "Stage", "markdown_table", "ordered_rules", "rule", "rules_in"]
