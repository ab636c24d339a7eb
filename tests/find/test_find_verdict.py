"""Each registered reliability check fires on the curve it describes and stays quiet on a clean one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import synthetic as syn

from trainwell.find.curve import zero_lag
from trainwell.find.rules import RULES, Pick
from trainwell.find.verdict import CHECKS, Curve, verdict


def _curve(
    losses: list[float],
    lrs: list[float] | None = None,
    stop: str | None = "diverged",
    smooth: bool = False,
    picks: dict[str, Pick | None] | None = None,
) -> Curve:
    lrs = lrs or syn.LRS[: len(losses)]
    smoothed = zero_lag(losses, 0.6) if smooth else list(losses)
    picks = picks if picks is not None else {n: f(lrs, smoothed) for n, f in RULES.items()}
    return Curve(lrs, losses, smoothed, stop, len(syn.LRS), lrs[0], syn.LRS[-1], picks)


def _noisy() -> Curve:
    return _curve(syn.noisy(0.9, seed=3), smooth=True)


def _flat() -> Curve:
    return _curve([2.30 - 0.001 * i for i in range(len(syn.LRS))], stop=None)


def _early() -> Curve:
    # Blows up right after a short dip: six points of descent, then the stop.
    losses = [2.3, 2.3, 2.2, 2.0, 1.8, 1.6, 1.5, 5.0, 9.0]
    return _curve(losses, stop="smoothed loss > 4 x best")


def _still_falling() -> Curve:
    return _curve(syn.clean()[: syn.index_of(10**syn.X0) + 10], stop=None)


def _wild_picks() -> Curve:
    picks = {"steepest": Pick(1e-5, 20, "x"), "valley": Pick(1e-2, 80, "y")}
    return _curve(syn.clean(), picks=picks)


TRIGGERS: dict[str, tuple[Callable[[], Curve], str]] = {
    "noisy-curve": (_noisy, "noisy curve"),
    "no-clear-descent": (_flat, "no clear descent"),
    "diverged-too-early": (_early, "divergence too early"),
    "range-too-narrow": (_still_falling, "range too narrow"),
    "rules-disagree": (_wild_picks, "rules disagree"),
}


def test_every_check_has_a_trigger() -> None:
    assert set(CHECKS.names()) == set(TRIGGERS)


@pytest.mark.parametrize("name", CHECKS.names())
def test_check_fires_on_its_curve(name: str) -> None:
    make, prefix = TRIGGERS[name]
    reason = CHECKS.get(name)(make())
    assert reason is not None and reason.startswith(prefix), reason


@pytest.mark.parametrize("name", CHECKS.names())
def test_check_is_quiet_on_a_clean_curve(name: str) -> None:
    assert CHECKS.get(name)(_curve(syn.clean())) is None


def test_verdict_collects_every_reason() -> None:
    reliable, reasons = verdict(_curve(syn.clean()))
    assert reliable and reasons == []
    reliable, reasons = verdict(_flat())
    assert not reliable and any(r.startswith("no clear descent") for r in reasons)


def test_narrow_sweep_and_flat_start_missing() -> None:
    lrs = syn.LRS[70:130]  # 3 decades starting at the steepest point of the descent
    losses = syn.clean()[70:130]
    curve = Curve(lrs, losses, losses, "diverged", 60, lrs[0], lrs[-1], {})
    reason = CHECKS.get("range-too-narrow")(curve)
    assert reason is not None and "already falling" in reason
    tight = Curve(lrs, losses, losses, None, 60, 1e-3, 1e-2, {})
    reason = CHECKS.get("range-too-narrow")(tight)
    assert reason is not None and "decades" in reason


def test_a_short_descent_asks_for_more_points_per_decade_not_a_lower_min_lr() -> None:
    # Lowering min_lr spreads the same steps over more decades, fewer where the loss falls (MiniLM fine-tuning on
    # SST-2: ~12 points per decade over 1e-7..10, 3 of them in the descent): more steps or a lower max_lr add them.
    reason = CHECKS.get("diverged-too-early")(_early())
    assert reason is not None and "raise lr_find.steps or lower lr_find.max_lr" in reason and "min_lr" not in reason
