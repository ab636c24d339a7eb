"""The sweep, the debiased EMA, the zero-lag smoothing and the divergence test."""

from __future__ import annotations

import itertools
import math

import pytest

from trainwell.find.curve import DebiasedEMA, diverged, ema, gradient, rule_beta, sweep_lrs, zero_lag


def test_exponential_sweep_hits_both_ends_with_constant_ratio() -> None:
    lrs = sweep_lrs(1e-7, 10.0, 9)
    assert lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10.0)
    ratios = {round(b / a, 9) for a, b in itertools.pairwise(lrs)}
    assert len(ratios) == 1 and next(iter(ratios)) == pytest.approx(10.0)


def test_linear_sweep_has_constant_step() -> None:
    lrs = sweep_lrs(0.1, 1.0, 10, "linear")
    steps = [b - a for a, b in itertools.pairwise(lrs)]
    assert max(steps) == pytest.approx(min(steps)) and lrs[-1] == pytest.approx(1.0)


def test_ema_debias_by_hand() -> None:
    # beta 0.5: avg1 = 0.5 -> /0.5 = 1; avg2 = 0.25 + 1.5 = 1.75 -> /0.75 = 7/3
    assert ema([1.0, 3.0], 0.5) == pytest.approx([1.0, 7.0 / 3.0])


def test_debiased_ema_of_a_constant_is_that_constant_from_the_first_step() -> None:
    smoother = DebiasedEMA(0.98)
    assert [smoother.update(2.5) for _ in range(5)] == pytest.approx([2.5] * 5)
    raw = 0.0
    raw = 0.98 * raw + 0.02 * 2.5  # what an undebiased EMA would report first: 2 % of the loss
    assert raw == pytest.approx(0.05)


def test_zero_lag_has_no_delay_on_a_symmetric_bump() -> None:
    bump = [math.exp(-(((i - 50) / 6) ** 2)) for i in range(101)]
    causal, centred = ema(bump, 0.8), zero_lag(bump, 0.8)
    assert max(range(101), key=lambda i: causal[i]) > 52  # the causal EMA peaks late
    assert abs(max(range(101), key=lambda i: centred[i]) - 50) <= 1


def test_rule_beta_caps_smoothing_to_the_sweep_resolution() -> None:
    assert rule_beta(0.98, 100) == pytest.approx(0.6)
    assert rule_beta(0.3, 100) == 0.3
    assert rule_beta(0.98, 1000) > rule_beta(0.98, 100)


def test_divergence_test() -> None:
    assert diverged(4.1, 1.0, 4.0)
    assert not diverged(3.9, 1.0, 4.0)
    assert diverged(math.nan, 1.0, 4.0) and diverged(math.inf, 1.0, 4.0)


def test_gradient_matches_central_differences() -> None:
    assert gradient([0.0, 1.0, 4.0, 9.0], [0.0, 1.0, 2.0, 3.0]) == pytest.approx([1.0, 2.0, 4.0, 5.0])
