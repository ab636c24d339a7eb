"""The search space: guide ranges per optimizer, priority order, and tune.space fixes/ranges/additions."""

from __future__ import annotations

import itertools
import math

import pytest

from trainwell.config import load_config
from trainwell.errors import ConfigError
from trainwell.optim.optimizers import OPTIMIZERS
from trainwell.tune.space import LR_TABLE, apply_params, build_space, current_values, lr_range
from trainwell.tune.spec import CATEGORIES, PRIORITY


def test_priority_list_is_guide_001_order() -> None:
    assert CATEGORIES[:7] == ("lr", "batch_size", "weight_decay", "warmup", "schedule", "max_grad_norm", "dropout")
    assert all(why.startswith("001 §") for _, why in PRIORITY)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_gets_a_log_lr_range_around_its_guide_range(name: str) -> None:
    info = OPTIMIZERS.get(name)
    for mode in ("scratch", "finetune"):
        low, high, source = lr_range(info.family, mode, name)
        typical = LR_TABLE.get((info.family, mode))
        if typical:
            assert low < typical[0] and high > typical[1]
        assert 0 < low < high and source
    scratch, finetune = lr_range(info.family, "scratch", name), lr_range(info.family, "finetune", name)
    assert finetune[1] < scratch[1]  # fine-tuning LRs sit lower (001 table, 004 §Transfer Learning)
    space = build_space(load_config({"optimizer": {"name": name, "lr": 1e-3}}))
    lr = space.get("lr")
    assert lr.log and lr.kind == "float"


def test_default_space_follows_priority_order_and_has_dropout_only_when_the_task_does() -> None:
    space = build_space(load_config({"task": "digits"}))
    order = [CATEGORIES.index(p.category) for p in space.params]
    assert order == sorted(order)
    assert space.names[0] == "lr" and "dropout" in space.names
    custom = build_space(load_config({"task": "mypkg.mod:build"}))
    assert "dropout" not in custom.names


def test_tune_space_fixes_ranges_and_adds() -> None:
    cfg = load_config(
        {
            "task": "digits",
            "tune": {
                "space": {
                    "weight_decay": 0.001,
                    "lr": [1e-4, 1e-1],
                    "warmup": {"low": 0.0, "high": 0.1},
                    "schedule": ["cosine", "linear"],
                    "model.hidden": [32, 512],
                    "batch.size": [16, 64],
                }
            },
        }
    )
    space = build_space(cfg)
    assert "weight_decay" not in space.names and space.fixed == {"optimizer.weight_decay": 0.001}
    lr = space.get("lr")
    assert (lr.low, lr.high, lr.log) == (1e-4, 1e-1, True)
    assert space.get("warmup").high == 0.1 and space.get("schedule").choices == ("cosine", "linear")
    hidden = space.get("model.hidden")
    assert (hidden.kind, hidden.category, hidden.log) == ("int", "architecture", False)
    assert space.get("batch_size").category == "batch_size" and space.names[1] == "batch_size"
    tuned = apply_params(cfg, space, {"lr": 0.01, "model.hidden": 64, "batch_size": 32})
    assert (tuned.optimizer.lr, tuned.model["hidden"], tuned.batch.size, tuned.optimizer.weight_decay) == (0.01, 64, 32, 0.001)


def test_tune_space_problems_are_collected_at_once() -> None:
    cfg = load_config(
        {
            "task": "digits",
            "tune": {"space": {"lrr": [1e-4, 1e-2], "warmup": [0.2, 0.1], "weight_decay": {"low": 0, "high": 1, "log": True}}},
        }
    )
    with pytest.raises(ConfigError) as info:
        build_space(cfg)
    rules = [p.rule for p in info.value.problems]
    assert len(rules) == 3
    assert any("did you mean 'lr'" in p.fix for p in info.value.problems)
    assert any("low < high" in r for r in rules) and any("log-scale" in r for r in rules)


def test_current_values_are_clipped_into_the_space() -> None:
    cfg = load_config({"task": "digits", "optimizer": {"lr": 5.0, "weight_decay": 0.0}})
    space = build_space(cfg)
    start = current_values(space, cfg)
    assert start["lr"] == space.get("lr").high and start["weight_decay"] == space.get("weight_decay").low
    assert start["dropout"] == 0.1  # the digits task's own default


def test_log_grid_contains_centre_and_stays_inside_bounds() -> None:
    lr = build_space(load_config({"task": "digits"})).get("lr")
    grid = lr.grid(1e-3)
    assert 1e-3 in grid and all(lr.low <= g <= lr.high for g in grid)
    ratios = [b / a for a, b in itertools.pairwise(grid)]
    assert all(r <= math.sqrt(10) * 1.0001 for r in ratios)
    assert len(lr.grid(1e-3, fine=True)) > len(grid)
