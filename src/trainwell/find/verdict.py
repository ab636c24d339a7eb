"""Is the range test's answer trustworthy? Each check reads the finished curve and returns a reason or
None; the verdict is reliable only when no check objects. Checks are registered, so the tests cover
every one and the JSON lists every reason found, not just the first.

Thresholds are deliberately plain numbers with their why next to them; they flag curves a person
would squint at (torch-lr-finder #106: "no automatic rule is reliable"), not borderline ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from trainwell.find.rules import Pick, descent_region
from trainwell.registry import Registry

NOISE_LIMIT = 0.10  # a median step residual above a tenth of the descent (step noise ~1/4 of the depth) blurs where the descent is
MIN_DROP = 0.10  # a loss that falls less than 10 % over the sweep shows no clear descent
MIN_DESCENT_POINTS = 8  # a descent drawn from fewer points is a guess
MIN_DECADES = 2.0  # a sweep narrower than 100x cannot show both the flat start and the blow-up
EDGE = 0.05  # "at the edge" = within the first or last 5 % of the points
DISAGREE = 10.0  # rules more than 10x apart are not describing the same curve


@dataclass(frozen=True)
class Curve:
    """What the checks read: the sweep as run, the raw and smoothed losses, the stop and the picks."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stop_reason: str | None
    planned_steps: int
    min_lr: float
    max_lr: float
    picks: dict[str, Pick | None] = field(default_factory=dict)


Check = Callable[[Curve], "str | None"]
CHECKS: Registry[Check] = Registry("reliability check")


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


@CHECKS.decorator("noisy-curve", "step-to-step noise is large next to the descent")
def noisy(curve: Curve) -> str | None:
    n = min(len(curve.losses), len(curve.smoothed))
    if n < 2:
        return None
    start, end = descent_region(curve.smoothed[:n])
    depth = curve.smoothed[start] - curve.smoothed[end]
    residuals = sorted(abs(curve.losses[i] - curve.smoothed[i]) for i in range(end + 1) if math.isfinite(curve.losses[i]))
    if depth <= 0 or not residuals:
        return None
    noise = residuals[len(residuals) // 2]
    if noise > NOISE_LIMIT * depth:
        return f"noisy curve: typical step noise {noise:.3g} is {noise / depth:.0%} of the descent; raise batch.size or lr_find.steps"
    return None


@CHECKS.decorator("no-clear-descent", "the smoothed loss hardly falls")
def no_descent(curve: Curve) -> str | None:
    values = _finite(curve.smoothed)
    if len(values) < 2:
        return "no clear descent: fewer than 2 finite losses"
    start, end = descent_region(values)
    top = values[start]
    drop = (top - values[end]) / abs(top) if top else 0.0
    if drop < MIN_DROP:
        return f"no clear descent: the smoothed loss falls only {drop:.0%}; widen the range or check the model and data"
    return None


@CHECKS.decorator("diverged-too-early", "the loss blew up before the curve showed a descent")
def diverged_early(curve: Curve) -> str | None:
    values = _finite(curve.smoothed)
    if curve.stop_reason is None or not values:
        return None
    start, end = descent_region(values)
    if end - start < MIN_DESCENT_POINTS:
        return (
            f"divergence too early: stopped after {len(curve.losses)} of {curve.planned_steps} steps with only "
            f"{end - start} points of descent; raise lr_find.steps or lower lr_find.max_lr (more points per decade where the loss falls)"
        )
    return None


@CHECKS.decorator("range-too-narrow", "the sweep misses the flat start or the blow-up")
def narrow(curve: Curve) -> str | None:
    decades = math.log10(curve.max_lr / curve.min_lr)
    if decades < MIN_DECADES:
        return f"range too narrow: the sweep spans {decades:.1f} decades; use at least 1e-7 to 10 unless you know better"
    values = _finite(curve.smoothed)
    n = len(values)
    if n < 2:
        return None
    start, end = descent_region(values)
    edge = max(1, math.ceil(EDGE * curve.planned_steps))
    if curve.stop_reason is None and end >= n - edge:
        return f"range too narrow: the loss was still falling at the last LR {curve.lrs[n - 1]:.3g}; raise lr_find.max_lr"
    if start == 0 and values[0] - values[min(edge, n - 1)] > 0.2 * (values[0] - values[end]):
        return f"range too narrow: the loss was already falling at the first LR {curve.lrs[0]:.3g}; lower lr_find.min_lr"
    return None


@CHECKS.decorator("rules-disagree", "the suggestion rules are more than 10x apart")
def disagree(curve: Curve) -> str | None:
    lrs = [p.lr for p in curve.picks.values() if p is not None]
    if len(lrs) < 2:
        return None
    spread = max(lrs) / min(lrs)
    if spread > DISAGREE:
        return f"rules disagree: picks span {spread:.0f}x ({min(lrs):.3g} to {max(lrs):.3g})"
    return None


def verdict(curve: Curve) -> tuple[bool, list[str]]:
    """(reliable, reasons): every registered check runs; any reason makes the answer unreliable."""
    reasons = [r for _, check in CHECKS.items() if (r := check(curve)) is not None]
    return not reasons, reasons
