"""The corpus probe (benchmarks/corpus/probe.py): the variant is the in-sample recommendation with only the variant's
values changed, named apart from the trainwell runs it pairs with, seed by seed."""

from __future__ import annotations

from types import ModuleType

import pytest


@pytest.fixture
def probe(corpus: dict[str, ModuleType]) -> ModuleType:
    import importlib

    return importlib.import_module("probe")


def test_the_variant_changes_only_its_values_and_pairs_by_seed(corpus: dict[str, ModuleType], probe: ModuleType) -> None:
    config = {"schedule": {"name": "cosine", "warmup": 0.06}, "optimizer": {"lr": 0.00027}}
    changed = probe.variant_config(config, "linear-warmup")
    assert changed == {"schedule": {"name": "linear", "warmup": 0.2}, "optimizer": {"lr": 0.00027}}
    assert config["schedule"]["name"] == "cosine"  # the recommendation itself is left as it was
    runs = {}
    s = corpus["settings"].BY_NAME["wine-mlp32x1"]
    plan = corpus["plan"]
    mine = [plan.config_item(s, "probe", "probe:linear-warmup", k, changed, "f", probe="linear-warmup") for k in (0, 1, 2)]
    base = [plan.config_item(s, "trainwell", "trainwell", k, config, "f") for k in (0, 1, 2)]
    assert not {i.key for i in mine} & {i.key for i in base}
    for i, acc in zip(mine + base, (0.80, 0.90, 0.70, 0.75, 0.90, 0.75), strict=True):
        runs[i.key] = {"test_acc": acc}
    result = probe.paired({"runs": runs}, mine, base)
    assert result["mean_delta"] == pytest.approx((5.0 + 0.0 - 5.0) / 3, abs=1e-3)
    assert result["better_worse_same"] == [1, 1, 1] and result["seeds"] == [0, 1, 2]
