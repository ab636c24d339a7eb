"""Every peak rule, on a run shape where it is the one that decides, with the number it must give."""

from __future__ import annotations

import dataclasses

import pytest

from trainwell.find.peak import AT_UNIT, PEAK_RULES, WEIGHT, RunShape, peak

# A cosine run with warmup, from scratch, no early stopping: only the last rule applies.
BASE = RunShape(
    suggested=0.003, lr_min=0.03, stop_lr=0.3, schedule="cosine", mean=0.5, first=0.1, total=1000, mode="scratch", early_stopping=False
)
# rule -> (the change to BASE that makes it decide, the peak it must give)
CASES = {
    "fine-tuning": ({"mode": "finetune"}, 0.03 / 10 / 0.5),
    "flat-schedule": ({"mean": 0.95, "first": 0.95}, 0.003),
    "no-warmup": ({"first": 1.0}, 0.003),
    "early-stopping": ({"early_stopping": True}, 0.003),
    "warmup-and-decay": ({}, AT_UNIT * 0.3**WEIGHT / 0.5),
}


def test_every_peak_rule_has_a_case() -> None:
    assert [name for name, _ in PEAK_RULES] == list(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_peak_rule_decides_where_it_should(name: str) -> None:
    change, expected = CASES[name]
    chosen, lr, reason = peak(dataclasses.replace(BASE, **change))
    assert chosen == name and lr == pytest.approx(expected) and reason


def test_every_peak_stays_below_the_stop_lr_and_fine_tuning_below_lr_min_over_3() -> None:
    for mean in (0.05, 0.3, 0.5, 0.9, 1.0):
        for stop in (1e-5, 1e-4, 1e-2, 1.0, 10.0):  # the suggestion-based rules pick below LR_min, itself below the stop
            name, lr, _ = peak(dataclasses.replace(BASE, mean=mean, stop_lr=stop, suggested=stop / 30, lr_min=stop / 3))
            assert lr <= stop, name
        assert peak(dataclasses.replace(BASE, mean=mean, mode="finetune"))[1] <= BASE.lr_min / 3 * (1 + 1e-12)


def test_warmup_and_decay_moves_half_a_decade_per_decade_of_stop_lr() -> None:
    # The fitted shrinkage: a range test that blows up 10x later moves the peak 10 ** WEIGHT (~3x), not 10x.
    low = peak(dataclasses.replace(BASE, stop_lr=0.1))[1]
    high = peak(dataclasses.replace(BASE, stop_lr=1.0))[1]
    assert high / low == pytest.approx(10**WEIGHT)
    # and the schedule's mean sets the peak: the average LR stays the fitted one
    assert peak(dataclasses.replace(BASE, mean=0.25))[1] == pytest.approx(2 * peak(BASE)[1])


def test_fine_tuning_is_cautious_even_without_warmup_or_with_early_stopping() -> None:
    assert peak(dataclasses.replace(BASE, mode="finetune", first=1.0, early_stopping=True))[0] == "fine-tuning"
