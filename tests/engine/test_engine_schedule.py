"""The engine's LR schedule: every registered schedule gives the same multipliers through the engine's
fast path (only the keywords a schedule names, one call per step) as the plain function call."""

from __future__ import annotations

import pytest
import torch

from trainwell.config import load_config
from trainwell.engine.scheduling import bound_kwargs, build_schedule
from trainwell.optim.schedules import METRIC_DRIVEN, SCHEDULES, resolve_warmup, schedule_kwargs

SCHEDULE_OPTIONS = {
    "one_cycle": {"warmup": 0.3},
    "multistep": {"milestones": [2, 4]},
    "step": {"step_size": 2},
    "reduce_on_plateau": {"warmup": 0},
}


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_engine_schedule_matches_the_pure_function(name: str) -> None:
    config = load_config({"schedule": {"name": name, **SCHEDULE_OPTIONS.get(name, {})}, "optimizer": {"lr": 0.1}})
    total, per_epoch = 60, 10
    fn = SCHEDULES.get(name)
    full = schedule_kwargs(config.schedule, per_epoch, 0.1)
    warmup = resolve_warmup(config.schedule.warmup, total)
    expected = [fn(s, total, warmup, **full) for s in range(total)]
    assert [fn(s, total, warmup, **bound_kwargs(fn, full)) for s in range(total)] == expected
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.05}], lr=0.1)
    schedule = build_schedule(opt, config, total, per_epoch)
    seen = []
    for _ in range(total):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        schedule.after_step()
    if name in METRIC_DRIVEN:
        assert all(lrs == [0.1, 0.05] for lrs in seen)
    else:
        assert seen == [[0.1 * m, 0.05 * m] for m in expected]
