"""Pure curve arithmetic for the LR range test: the LR sweep, the debiased EMA and its zero-lag twin.

No torch here, so the suggestion rules and their tests run on plain lists.

Why two smoothings: the stop test must be causal (it runs while the sweep runs), so it reads the
debiased EMA. That EMA lags by about beta / (1 - beta) steps, which on a 100-step exponential sweep
shifts every pick toward higher LRs; the rules therefore read the same EMA run forwards and then
backwards over the finished curve (zero phase, like scipy's filtfilt), which keeps the smoothing
and removes the lag. The rules' smoothing is also capped by the sweep's resolution
(``rule_beta``): fastai's beta 0.98 averages ~50 steps, half of a 100-step sweep, which smears a
descent that takes ~15 steps into a barely visible dip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def sweep_lrs(min_lr: float, max_lr: float, steps: int, mode: str = "exp") -> list[float]:
    """The LR at each of ``steps`` steps, from ``min_lr`` to ``max_lr`` inclusive."""
    if steps < 2:
        return [min_lr]
    if mode == "linear":
        return [min_lr + (max_lr - min_lr) * i / (steps - 1) for i in range(steps)]
    ratio = max_lr / min_lr
    return [min_lr * ratio ** (i / (steps - 1)) for i in range(steps)]


class DebiasedEMA:
    """Exponential moving average divided by (1 - beta^t), so early values are not pulled toward 0.

    Without the division the first smoothed loss is (1 - beta) x loss, e.g. 2 % of it at beta 0.98,
    and a "best loss" taken from those values makes the divergence test fire at once.
    """

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.avg = 0.0
        self.t = 0

    def update(self, value: float) -> float:
        self.t += 1
        self.avg = self.beta * self.avg + (1.0 - self.beta) * value
        return self.avg / (1.0 - self.beta**self.t)


def ema(values: Sequence[float], beta: float) -> list[float]:
    """The debiased EMA of ``values`` (causal: each output sees only earlier inputs)."""
    smoother = DebiasedEMA(beta)
    return [smoother.update(v) for v in values]


def zero_lag(values: Sequence[float], beta: float) -> list[float]:
    """The debiased EMA run forwards, then backwards over the result: smooth, and centred in time."""
    forward = ema(values, beta)
    return ema(forward[::-1], beta)[::-1]


def rule_beta(beta: float, steps: int) -> float:
    """The EMA factor for the rules' curve: ``beta``, but averaging at most ~1/25 of the sweep.

    An EMA averages about (1 + b) / (1 - b) points; 1/25 of 100 steps is 4 points (b = 0.6), a third
    of a decade on the default 1e-7..10 sweep, run twice (forwards and backwards).
    """
    span = max(3.0, steps / 25)
    return min(beta, 1.0 - 2.0 / (span + 1.0))


def diverged(smoothed: float, best: float, factor: float) -> bool:
    """The stop test: a non-finite loss, or the smoothed loss above ``factor`` x the best so far."""
    return not math.isfinite(smoothed) or smoothed > factor * best


def log10s(values: Sequence[float]) -> list[float]:
    return [math.log10(v) for v in values]


def gradient(ys: Sequence[float], xs: Sequence[float]) -> list[float]:
    """dy/dx by central differences (one-sided at the ends), like numpy.gradient with coordinates."""
    n = len(ys)
    if n < 2:
        return [0.0] * n
    out = [(ys[1] - ys[0]) / (xs[1] - xs[0])]
    for i in range(1, n - 1):
        out.append((ys[i + 1] - ys[i - 1]) / (xs[i + 1] - xs[i - 1]))
    out.append((ys[-1] - ys[-2]) / (xs[-1] - xs[-2]))
    return out


def argmin(values: Sequence[float]) -> int:
    """Index of the smallest finite value (the first one on ties); 0 for an all-non-finite list."""
    best, index = math.inf, 0
    for i, v in enumerate(values):
        if math.isfinite(v) and v < best:
            best, index = v, i
    return index
