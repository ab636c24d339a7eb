"""Every registered suggestion rule on synthetic curves whose right answer is known."""

from __future__ import annotations

import math
import random

import pytest
import synthetic as syn

from trainwell.find.curve import zero_lag
from trainwell.find.rules import BAND, RULES, Pick, bottom_lr

# "The LR at minimum loss" on the clean curve: the vertex of its bottom (tested on its own below).
LR_MIN = bottom_lr(syn.LRS, syn.clean())
# What each rule must pick on the clean curve: the LR it aims at, and how far off it may be (ratio).
EXPECTED = {
    "steepest": (10**syn.X0, 10**0.06),  # the logistic's inflection, within about one grid point
    "valley": (10**syn.X0, 10**0.06),  # half-way down the descent is the same inflection
    "min_div10": (LR_MIN / 10, 10**0.06),
    "combined": (LR_MIN / BAND[0], 10**0.06),  # median of the three is clipped up to the band's floor
}


def test_bottom_lr_lies_in_the_clean_curves_bottom() -> None:
    # The bottom quarter of the clean curve (loss <= 0.8) runs from 10^-2.22 (the logistic) to 10^-0.75 (the blow-up).
    assert 10**-2.22 < LR_MIN < 10**-0.75


def test_bottom_lr_finds_a_noiseless_bowls_vertex_between_grid_points() -> None:
    vertex = -2.27  # between the grid's points at -2.30 and -2.25
    bowl = [0.5 + (math.log10(lr) - vertex) ** 2 for lr in syn.LRS]
    assert bottom_lr(syn.LRS, bowl) == pytest.approx(10**vertex, rel=1e-6)


def test_bottom_lr_wanders_less_than_the_lowest_point_under_noise() -> None:
    # A shallow bowl with step noise, smoothed as the rules see it: the lowest point follows the noise,
    # the vertex of the bottom follows the bowl.
    vertex = -2.0
    errors: dict[str, list[float]] = {"argmin": [], "bottom": []}
    for seed in range(20):
        r = random.Random(seed)
        bowl = [0.5 + 0.3 * (math.log10(lr) - vertex) ** 2 + r.gauss(0.0, 0.05) for lr in syn.LRS]
        curve = zero_lag(bowl, 0.6)
        lowest = syn.LRS[min(range(len(curve)), key=lambda i: curve[i])]
        errors["argmin"].append(abs(math.log10(lowest) - vertex))
        errors["bottom"].append(abs(math.log10(bottom_lr(syn.LRS, curve)) - vertex))
    assert sum(errors["bottom"]) < 0.5 * sum(errors["argmin"])


def test_every_rule_has_a_known_answer() -> None:
    assert set(RULES.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", RULES.names())
def test_rule_on_clean_curve(name: str) -> None:
    pick = RULES.get(name)(syn.LRS, syn.clean())
    assert isinstance(pick, Pick)
    target, tolerance = EXPECTED[name]
    assert 1 / tolerance <= pick.lr / target <= tolerance, (pick, target)
    assert pick.index == syn.index_of(pick.lr)
    assert pick.reason


@pytest.mark.parametrize("name", RULES.names())
def test_rule_returns_none_without_descent(name: str) -> None:
    rising = [1.0 + 0.01 * i for i in range(len(syn.LRS))]
    assert RULES.get(name)(syn.LRS, rising) is None
    assert RULES.get(name)(syn.LRS[:3], syn.clean()[:3]) is None  # too short to show anything


@pytest.mark.parametrize("name", RULES.names())
def test_rule_ignores_points_after_a_nan(name: str) -> None:
    losses = syn.clean()
    cut = syn.index_of(10**syn.X_MIN) + 5
    with_nan = [*losses[:cut], math.nan, *[0.0] * (len(losses) - cut - 1)]  # zeros after the NaN must not count
    assert RULES.get(name)(syn.LRS, with_nan) == RULES.get(name)(syn.LRS[:cut], losses[:cut])


def test_combined_ignores_one_wild_rule() -> None:
    # A one-off cliff in the flat start (a bad batch): steepest jumps to it, the median of three does not.
    losses = syn.clean()
    k = syn.index_of(1e-5)
    cliff = [v - (0.8 if k <= i < k + 3 else 0.0) for i, v in enumerate(losses)]
    steepest = RULES.get("steepest")(syn.LRS, cliff)
    assert steepest is not None and steepest.lr < 1e-4
    clean, wild = RULES.get("combined")(syn.LRS, losses), RULES.get("combined")(syn.LRS, cliff)
    assert clean is not None and wild is not None and wild.lr == pytest.approx(clean.lr)


def test_combined_under_noise_stays_near_the_clean_answer() -> None:
    clean = RULES.get("combined")(syn.LRS, syn.clean())
    assert clean is not None
    for seed in range(10):
        pick = RULES.get("combined")(syn.LRS, zero_lag(syn.noisy(0.15, seed), 0.6))
        # The minimum of a flat-bottomed curve wanders under noise, and the band moves with it.
        assert pick is not None and 0.25 <= pick.lr / clean.lr <= 4.0


def test_combined_stays_in_band_when_rules_are_wild() -> None:
    # A descent that starts at the first point and ends at the minimum near the top: the band decides.
    lrs = syn.LRS
    losses = [2.0 - 0.01 * i for i in range(len(lrs))]
    pick = RULES.get("combined")(lrs, losses)
    assert pick is not None
    assert lrs[-1] / BAND[0] <= pick.lr * (1 + 1e-9)
    assert pick.lr <= lrs[-1] / BAND[1] * (1 + 1e-9)


def test_valley_ignores_noise_sized_falls_on_the_flat_start() -> None:
    losses = syn.clean()
    # A zig-zag across the flat start: a strict "<" chain would run through every other point of it.
    wiggly = [v + (0.01 if i % 2 else 0.0) - 0.0004 * i if i < 60 else v for i, v in enumerate(losses)]
    pick = RULES.get("valley")(syn.LRS, wiggly)
    assert pick is not None and 10**-0.1 <= pick.lr / 10**syn.X0 <= 10**0.1
