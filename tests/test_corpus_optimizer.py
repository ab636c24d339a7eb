"""The pre-registered SGD-vs-AdamW test (benchmarks/corpus/optimizer.py, PREREG_optimizer.md): arm B is the held-out
config with only the SGD peer's optimizer block changed, and a fold's rule is the one-fact threshold with the largest
summed validation gain among those gaining more than the noise margin per switched setting, else "never switch"."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


@pytest.fixture
def optimizer(corpus: dict[str, ModuleType]) -> ModuleType:
    return importlib.import_module("optimizer")


def _row(name: str, gain: float, steps: int, width: int = 64) -> dict[str, object]:
    facts = {"steps": steps, "width": width, "depth": 2, "n_train": 1000, "batch": 32, "num_classes": 3}
    return {"setting": name, "dataset": name, "facts": facts, "gain": gain}


def test_arm_b_changes_only_the_optimizer_block(optimizer: ModuleType) -> None:
    config = {
        "optimizer": {"name": "adamw", "lr": 0.006, "weight_decay": 0.05, "momentum": 0.9},
        "schedule": {"name": "cosine", "warmup": 0.1},
        "training": {"epochs": 3, "max_grad_norm": 1.0},
        "checkpoint": {"load_best_at_end": True},
    }
    changed = importlib.import_module("probe").variant_config(config, "sgd-mlp")
    assert changed["optimizer"] == {"name": "sgd", "lr": 0.1, "weight_decay": 1e-4, "momentum": 0.9}
    assert changed["schedule"] == {"name": "cosine", "warmup": 0.0}
    assert changed["training"] == {"epochs": 3, "max_grad_norm": None}
    assert changed["checkpoint"] == config["checkpoint"] and config["optimizer"]["name"] == "adamw"


def test_the_fold_rule_is_the_largest_gain_past_the_margin(optimizer: ModuleType) -> None:
    rows = [_row("a", 2.0, 50), _row("b", 1.0, 100), _row("c", -0.5, 400), _row("d", -1.0, 800)]
    chosen = optimizer.choose(rows)
    # steps <= 100 switches a and b (sum 3.0); steps <= 400 adds c (2.5): the first wins
    assert chosen["text"] == "SGD where steps <= 100"
    assert chosen["switched_training"] == ["a", "b"] and chosen["training_gain_sum"] == pytest.approx(3.0)
    assert chosen["rule"].switches({"steps": 60}) and not chosen["rule"].switches({"steps": 101})


def test_no_rule_past_the_margin_means_never_switch(optimizer: ModuleType) -> None:
    rows = [_row("a", 0.2, 50), _row("b", -1.0, 100), _row("c", 0.1, 400, width=128)]
    chosen = optimizer.choose(rows)
    assert chosen["text"] == "never switch" and chosen["switched_training"] == []
    assert not chosen["rule"].switches({"steps": 50, "width": 64})
