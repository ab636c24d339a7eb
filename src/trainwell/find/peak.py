"""The peak LR to train with: the range test's suggestion moved to the configured schedule and training mode.

The suggestion is a good *constant* LR. Whether a run should peak above it depends on how the run
spends its LR, so the peak comes from the first rule in ``PEAK_RULES`` that applies, and the result
says which one and why. 001's band [LR_min / 10, LR_min / 3] ("use ~1/3 to 1/10 of the LR at minimum
loss as your starting LR") bounds the suggestion and the fine-tuning rule.

Order matters: fine-tuning first (its caution holds whatever the schedule), then the cases where the
run sits at its peak early on (a flat schedule, no warmup, or early stopping that judges the run while
the LR is high), and only then Smith's high peak for a schedule that warms up and decays to the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainwell.find.rules import BAND

FLAT = 0.9  # a schedule averaging (or starting at) >= 90 % of its peak trains like a constant LR there
# Warmup-and-decay: the run's *average* LR is AT_UNIT x (the LR at which the range test stopped) ** WEIGHT.
# Fitted on the trainwell calibration corpus (benchmarks/corpus/finder.py: least squares of log10(sweep-best LR x
# the schedule's mean) on log10(stop LR) over the 78 scratch and frozen range tests of 26 settings, 3 seeds each;
# fine-tuning keeps its own rule). The LR where the loss blows up was the curve's best predictor of the sweep-best
# LR; LR_min (the rule before: LR_min / 5 on average) was biased per setting, 5-22x too high on small MLPs and
# 3-10x too low on CNNs and transformers. A weight under 1 is shrinkage: a 100-step test sees the untrained model,
# so only half of a decade's move in the stop LR carries over to the run's best LR.
# Leave-one-dataset-out scores: benchmarks/results/corpus_finder.json.
AT_UNIT = 0.00785  # the average LR when the range test stops at LR 1 (10 ** -2.105)
WEIGHT = 0.48  # decades of average LR per decade of stop LR


@dataclass(frozen=True)
class RunShape:
    """What the peak rules read: the curve's two numbers and how the configured run uses its LR."""

    suggested: float  # the range test's constant-LR suggestion
    lr_min: float  # bottom_lr: the LR at minimum loss
    stop_lr: float  # the last LR the range test ran: where the loss blew up, or max_lr when it never did
    schedule: str
    mean: float  # the schedule's mean multiplier over the run
    first: float  # its multiplier at step 0 (1.0 without warmup)
    total: int  # steps in the run
    mode: str  # scratch | finetune | frozen (TaskFacts.mode)
    early_stopping: bool


PeakRule = Callable[[RunShape], "tuple[float, str] | None"]


def _fine_tuning(r: RunShape) -> tuple[float, str] | None:
    # 004's transfer rule wants a 10x lower LR for pretrained weights "to avoid destroying pre-learned
    # features". Measured here: fully fine-tuning MiniLM on SST-2 at 1.3-1.9x LR_min fell to chance on both
    # seeds, while the from-scratch tasks lose under 1 % of accuracy at 3x their best LR.
    if r.mode != "finetune":
        return None
    lr = min(r.lr_min / BAND[0] / min(r.mean, 1.0), r.lr_min / BAND[1])
    return lr, (
        f"fine-tuning pretrained weights: average LR at 001's cautious end LR_min / {BAND[0]:g} (004: 10x lower for "
        f"transfer learning); {r.schedule} averages {r.mean:.2f} x its peak: LR_min {r.lr_min:.3g} / {BAND[0]:g} / "
        f"{r.mean:.2f} = {lr:.3g}, at most LR_min / {BAND[1]:g}"
    )


def _flat(r: RunShape) -> tuple[float, str] | None:
    if r.mean < FLAT:
        return None
    return r.suggested, f"{r.schedule} averages {r.mean:.2f} x its peak over {r.total} steps, close to a constant LR: the suggestion"


def _no_warmup(r: RunShape) -> tuple[float, str] | None:
    # Without warmup the peak is the LR the untrained model starts at. On digits (batch 16, cosine, no
    # warmup) starting at LR_min / 1.5 early-stopped at 91.9 % accuracy; starting at the suggestion, 96.7 %.
    if r.first < FLAT:
        return None
    return r.suggested, f"{r.schedule} starts at its peak (no warmup), so the peak is a starting LR: the suggestion (001's band)"


def _early_stopping(r: RunShape) -> tuple[float, str] | None:
    # Smith's high peak pays off at the end of the decay, but early stopping judges the run while the LR is
    # high. On digits (cosine with 10 % warmup, 20 epochs) LR_min / 1.5 reached 98.0 % when run to the end,
    # yet stopped at 92.8 % with early stopping on val_loss (patience 5), which rose while accuracy did not fall.
    if not r.early_stopping:
        return None
    return r.suggested, (
        f"early stopping judges the run while {r.schedule} is near its peak, and a peak above the constant-LR "
        "suggestion pays off only at the end of the decay: the suggestion"
    )


def _warmup_and_decay(r: RunShape) -> tuple[float, str] | None:
    # Smith (2018, 1cycle) peaks a warmup-and-decay schedule above a constant LR because the decay brings the
    # average down; the average itself is read from the stop LR (AT_UNIT, WEIGHT above, fitted on the corpus).
    # The peak never reaches the stop LR, where the range test saw the loss blow up.
    average = AT_UNIT * r.stop_lr**WEIGHT
    lr = min(average / r.mean, r.stop_lr)
    return lr, (
        f"{r.schedule} warms up and decays, averaging {r.mean:.2f} x its peak over {r.total} steps: average LR "
        f"{AT_UNIT:g} x (stop LR {r.stop_lr:.3g}) ^ {WEIGHT:g} = {average:.3g} (fitted on trainwell's calibration corpus), "
        f"peak {average:.3g} / {r.mean:.2f} = {lr:.3g}, below the stop LR"
    )


# Ordered: the first rule with an answer sets the peak. The last always answers.
PEAK_RULES: tuple[tuple[str, PeakRule], ...] = (
    ("fine-tuning", _fine_tuning),
    ("flat-schedule", _flat),
    ("no-warmup", _no_warmup),
    ("early-stopping", _early_stopping),
    ("warmup-and-decay", _warmup_and_decay),
)


def peak(shape: RunShape) -> tuple[str, float, str]:
    """(rule name, peak LR before batch scaling, reason) from the first rule that applies."""
    for name, rule in PEAK_RULES:
        answer = rule(shape)
        if answer is not None:
            return name, answer[0], answer[1]
    raise AssertionError("the last peak rule always answers")
