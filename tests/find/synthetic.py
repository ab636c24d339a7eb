"""Synthetic range-test curves with known answers, shared by the find tests."""

from __future__ import annotations

import math
import random

from trainwell.find.curve import sweep_lrs

LRS = sweep_lrs(1e-6, 10.0, 141)  # 20 points per decade: log10 steps of 0.05
X0 = -2.5  # the descent's inflection (steepest point, half-way down) at LR 10^-2.5
X_MIN = -1.0  # the minimum loss at LR 0.1; the curve rises steeply after it


def clean(x0: float = X0) -> list[float]:
    """Flat at 2.3, a logistic descent to 0.3 centred on x0, a blow-up past X_MIN."""
    out = []
    for lr in LRS:
        x = math.log10(lr)
        loss = 0.3 + 2.0 / (1.0 + math.exp((x - x0) / 0.25))
        if x > X_MIN:
            loss += 8.0 * (x - X_MIN) ** 2
        out.append(loss)
    return out


def noisy(scale: float, seed: int = 0) -> list[float]:
    r = random.Random(seed)
    return [v + r.gauss(0.0, scale) for v in clean()]


def index_of(lr: float) -> int:
    return min(range(len(LRS)), key=lambda i: abs(math.log10(LRS[i]) - math.log10(lr)))
