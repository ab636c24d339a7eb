"""LR suggestion rules. Each has ONE signature, ``rule(lrs, smoothed_losses) -> Pick | None``, and lives
in ``RULES`` so the finder, the JSON output, the plot and the tests all enumerate the same set.

``None`` means "this curve gives the rule nothing to stand on" (too short, or no descent at all);
a rule never guesses. Every pick says why it was made.

- steepest: the most negative slope of loss against log10(LR) before the minimum (torch-lr-finder's
  and Lightning's rule; 001 §Practical Tuning Strategy starts from "the point of steepest descent").
- valley: after fastai's rule (fastai PR #3377): the longest descending stretch of the curve (a
  longest decreasing subsequence, ignoring noise-sized falls), picking the point half-way down it.
- min_div10: the LR at the minimum loss divided by 10 (fastai v1's ``lr_min``; 001 §Learning Rate:
  "use ~1/3 to 1/10 of the LR at minimum loss"). "The LR at minimum loss" is ``bottom_lr``, the vertex
  of the curve's bottom, not its single lowest point.
- combined: ours. The median (in log space) of the other rules' picks that fall inside the
  descending region, clipped into 001's band [LR_min / 10, LR_min / 3]. A median of three ignores
  one wild rule (steepest on a noisy curve, Lightning #21141); the band keeps the answer on the
  safe side of the minimum whatever the rules say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trainwell.find.curve import argmin, gradient, log10s
from trainwell.registry import Registry

MIN_POINTS = 5  # fewer points than this cannot show a descent
BAND = (10.0, 3.0)  # 001 §Learning Rate: "~1/3 to 1/10 of the LR at minimum loss"
# bottom_lr fits the points within this share of the descent's depth above the minimum. A quarter keeps
# the fit on the bowl (its sides rise steeply past it) while giving it 5-15 points on a 100-step sweep.
BOTTOM = 0.25


@dataclass(frozen=True)
class Pick:
    """One rule's answer: the LR, the index of the curve point nearest to it, and why."""

    lr: float
    index: int
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"lr": self.lr, "index": self.index, "reason": self.reason}


Rule = Callable[[Sequence[float], Sequence[float]], "Pick | None"]
RULES: Registry[Rule] = Registry("LR suggestion rule")


def finite_prefix(lrs: Sequence[float], losses: Sequence[float]) -> tuple[list[float], list[float]]:
    """The curve up to its first non-finite loss: points after a NaN say nothing about a good LR."""
    n = 0
    while n < min(len(lrs), len(losses)) and math.isfinite(losses[n]):
        n += 1
    return list(lrs[:n]), list(losses[:n])


def nearest_index(lrs: Sequence[float], lr: float) -> int:
    """Index of the curve LR closest to ``lr`` in log space."""
    target = math.log10(lr)
    return min(range(len(lrs)), key=lambda i: abs(math.log10(lrs[i]) - target))


def descent_region(losses: Sequence[float]) -> tuple[int, int]:
    """(start, end): the highest point before the minimum, and the minimum itself."""
    end = argmin(losses)
    start = max(range(end + 1), key=lambda i: losses[i])
    return start, end


def bottom_lr(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """ "The LR at minimum loss", read from the whole bottom of the curve rather than its lowest point.

    On a flat-bottomed curve the lowest point wanders with the noise: on adult (8 seeds) the argmin
    spread 5.3x between seeds, while the vertex of a parabola (in log10 LR) through the contiguous
    points within ``BOTTOM`` of the depth above the minimum spread 2.6x; digits 1.75x -> 1.37x,
    Fashion-MNIST 2.5x -> 1.3x. Both 001's band and the peak LR hang on this number. Falls back to
    the argmin when the bottom has fewer than 3 points or the fit is not a bowl; the vertex is kept
    inside the fitted points.
    """
    import numpy as np

    start, end = descent_region(losses)
    ceiling = losses[end] + BOTTOM * (losses[start] - losses[end])
    lo = hi = end
    while lo > 0 and math.isfinite(losses[lo - 1]) and losses[lo - 1] <= ceiling:
        lo -= 1
    while hi < len(losses) - 1 and math.isfinite(losses[hi + 1]) and losses[hi + 1] <= ceiling:
        hi += 1
    if hi - lo < 2:
        return lrs[end]
    xs = np.log10(np.asarray(lrs[lo : hi + 1], dtype=float))
    centre = float(xs.mean())  # centred abscissae keep the fit well conditioned
    a, b, _ = np.polyfit(xs - centre, np.asarray(losses[lo : hi + 1], dtype=float), 2)
    if a <= 0:
        return lrs[end]
    vertex = min(max(centre - b / (2 * a), float(xs[0])), float(xs[-1]))
    return float(10**vertex)


@RULES.decorator("steepest", "steepest descent of loss against log10(LR), before the minimum")
def steepest(lrs: Sequence[float], losses: Sequence[float]) -> Pick | None:
    lrs, losses = finite_prefix(lrs, losses)
    if len(losses) < MIN_POINTS:
        return None
    slopes = gradient(losses, log10s(lrs))
    # The first few points carry the EMA's start-up and say little; the search stops at the minimum,
    # because past it the curve only rises.
    skip = max(1, len(losses) // 20)
    _, end = descent_region(losses)
    window = range(min(skip, end), end + 1)
    if not window:
        return None
    i = min(window, key=lambda k: slopes[k])
    if slopes[i] >= 0:
        return None
    return Pick(lrs[i], i, f"steepest slope {slopes[i]:.3g} loss per decade at LR {lrs[i]:.3g}")


NOISE_STEP = 0.02  # valley: a fall smaller than 2 % of the descent's depth is noise, not descent


def longest_descent(losses: Sequence[float]) -> tuple[int, int]:
    """(start, end) of the longest decreasing subsequence up to the minimum, by first and last index.

    Each link must fall by more than ``NOISE_STEP`` of the depth: fastai reads a curve smoothed over
    ~50 steps, where a flat start is flat; on a lightly smoothed curve a strict "<" chains noise
    wiggles across the flat start.
    """
    _, bottom = descent_region(losses)
    head = list(losses[: bottom + 1])
    tol = NOISE_STEP * (max(head) - min(head))
    length = [1] * len(head)
    first = list(range(len(head)))  # where the best decreasing run ending at i starts
    for i in range(1, len(head)):
        for j in range(i):
            if head[i] < head[j] - tol and length[j] + 1 > length[i]:
                length[i], first[i] = length[j] + 1, first[j]
    end = max(range(len(head)), key=lambda i: (length[i], -i))
    return first[end], end


@RULES.decorator("valley", "the longest descending valley, at the point half-way down it")
def valley(lrs: Sequence[float], losses: Sequence[float]) -> Pick | None:
    lrs, losses = finite_prefix(lrs, losses)
    if len(losses) < MIN_POINTS:
        return None
    start, end = longest_descent(losses)
    if end - start < 2:
        return None
    # fastai picks half-way along the valley by index; half-way down it by loss does not move when
    # the valley's first point happens to lie deep in the flat start.
    middle = (losses[start] + losses[end]) / 2
    i = next(k for k in range(start, end + 1) if losses[k] <= middle)
    return Pick(
        lrs[i],
        i,
        f"half-way down the longest descent (loss {losses[start]:.4g} at LR {lrs[start]:.3g} to {losses[end]:.4g} at LR {lrs[end]:.3g})",
    )


@RULES.decorator("min_div10", "the LR at the minimum loss (the bottom's parabola vertex), divided by 10")
def min_div10(lrs: Sequence[float], losses: Sequence[float]) -> Pick | None:
    lrs, losses = finite_prefix(lrs, losses)
    if len(losses) < MIN_POINTS:
        return None
    start, end = descent_region(losses)
    if end == start:
        return None  # the minimum is the highest point before it: the curve never went down
    lr_min = bottom_lr(lrs, losses)
    lr = lr_min / 10
    return Pick(lr, nearest_index(lrs, lr), f"minimum loss {losses[end]:.4g} near LR {lr_min:.3g}, divided by 10")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@RULES.decorator("combined", "median of the rules inside the descent, clipped to [LR_min/10, LR_min/3]")
def combined(lrs: Sequence[float], losses: Sequence[float]) -> Pick | None:
    lrs, losses = finite_prefix(lrs, losses)
    if len(losses) < MIN_POINTS:
        return None
    start, end = descent_region(losses)
    if end == start:
        return None
    lr_min = bottom_lr(lrs, losses)
    low, high = lr_min / BAND[0], lr_min / BAND[1]
    agreeing = {}
    for name in ("steepest", "valley", "min_div10"):
        pick = RULES.get(name)(lrs, losses)
        if pick is not None and lrs[start] <= pick.lr <= lrs[end]:
            agreeing[name] = pick.lr
    if agreeing:
        centre = 10 ** _median([math.log10(v) for v in agreeing.values()])
        why = "median of " + ", ".join(f"{k} {v:.3g}" for k, v in agreeing.items())
    else:
        centre = math.sqrt(low * high)
        why = "no rule picked inside the descent; the middle of the band"
    lr = min(max(centre, low), high)
    if lr != centre:
        why += f", clipped into [{low:.3g}, {high:.3g}] (LR_min / 10 .. / 3)"
    return Pick(lr, nearest_index(lrs, lr), why)
