"""Warmup composed with a decay gives exactly the multipliers the schedules had when each one carried its own
warmup branch: every schedule over a grid of lengths, warmups, epoch sizes and options, hashed bit for bit
(float.hex). The digests were taken from the schedules before the change (commit 28a5ac5), which the test must keep."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from trainwell.config.schema import ScheduleConfig
from trainwell.optim.schedules import SCHEDULES, multipliers, warmup_factor, with_warmup

VARIANTS: list[dict[str, Any]] = [
    {},
    {"min_lr_ratio": 0.1},
    {"cycles": 2.0},
    {"power": 2.0, "lr_end": 1e-4},
    {"decay_type": "linear", "decay_ratio": 0.3},
    {"decay_type": "1-sqrt", "decay_ratio": 0.5, "min_lr_ratio": 0.05},
    {"step_size": 2, "gamma": 0.5, "milestones": [1, 3]},
    {"div_factor": 10.0, "final_div_factor": 100.0},
]

DIGESTS = {
    "constant": "0a8ccb91f7b069d6",
    "constant_with_warmup": "0de389ef1b38209e",
    "cosine": "9fdad58e4208bb03",
    "cosine_with_restarts": "02dba020f09860c8",
    "exponential": "f33c81346a7c0582",
    "inverse_sqrt": "3529e43ecfc44967",
    "linear": "4004ef0dc482b1e7",
    "multistep": "5117b29ebc640b74",
    "one_cycle": "45e9c6504a4ddc4a",
    "polynomial": "397b18f4d0720d1b",
    "reduce_on_plateau": "0a8ccb91f7b069d6",
    "step": "eac8d97029fd87dc",
    "warmup_stable_decay": "3305351e9be52307",
}


def digest(name: str) -> str:
    h = hashlib.sha256()
    for total in (1, 7, 64):
        for warmup in (0, 1, 5, 0.25):
            for spe in (1, 4):
                for kw in VARIANTS:
                    # at a peak LR of 1.0, the default the digests were taken with (polynomial's lr_end is an LR)
                    cfg = ScheduleConfig(name=name, **kw)
                    m = multipliers(name, total, warmup, cfg, steps_per_epoch=spe, base_lr=1.0, at=range(total + 3))
                    h.update(",".join(float.hex(x) for x in m).encode() + b";")
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_gives_the_multipliers_it_gave_before_warmup_was_composed(name: str) -> None:
    assert digest(name) == DIGESTS[name]


def test_with_warmup_is_the_linear_warmup_then_the_decay() -> None:
    flat = with_warmup(lambda step, total_steps, warmup_steps, **kw: 0.5)
    assert [flat(s, 10, 3) for s in range(5)] == [warmup_factor(0, 3), warmup_factor(1, 3), warmup_factor(2, 3), 0.5, 0.5]
    assert [flat(s, 10, 0) for s in range(2)] == [0.5, 0.5]  # no warmup: the decay from step 0
