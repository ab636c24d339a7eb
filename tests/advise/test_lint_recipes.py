"""Trainwell passes its own lint: every shipped recipe (from the RECIPES registry) and every recommendation over a
grid of the recommender's inputs (every model family x mode from the profile's vocabulary, dataset sizes, budgets,
batches, widths and GPU memory) lints without a warning or an error."""

from __future__ import annotations

import itertools

import pytest

from trainwell.advise._profile import MODELS, MODES
from trainwell.advise.lint import lint_file
from trainwell.advise.lint.runner import lint_mapping
from trainwell.advise.recommender import Profile, recommend
from trainwell.config.structure import to_dict
from trainwell.recipes.catalog import RECIPES

SERIOUS = ("warning", "error")


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_passes_lint(name: str) -> None:
    report = lint_file(RECIPES.get(name).path)
    assert report.dialect == "trainwell"
    assert not [f for f in report.findings if f.severity in SERIOUS], [(f.rule, f.where, f.message) for f in report.findings]


def test_no_recipe_uses_adam_with_coupled_l2() -> None:
    from trainwell.config import load_config

    coupled = [
        n for n in RECIPES.names() if (c := load_config(RECIPES.get(n).path)).optimizer.name == "adam" and c.optimizer.weight_decay > 0
    ]
    assert coupled == []  # 001 "always decoupled"; lint's adam-l2-decay would flag them


GRID = list(
    itertools.product(
        (None, 300, 60000, 2_000_000),  # dataset size
        (None, 1, 30),  # epochs
        (None, 16, 4096),  # intended effective batch
        (None, 64),  # width
        (None, 16),  # GPU memory
    )
)


@pytest.mark.parametrize(("model", "mode"), list(itertools.product(MODELS, MODES)))
def test_every_recommendation_passes_lint(model: str, mode: str) -> None:
    bad = []
    for size, epochs, batch, width, memory in GRID:
        profile = Profile(model, mode, dataset_size=size, epochs=epochs, batch_size=batch, width=width, gpu_memory=memory, num_classes=10)
        report = lint_mapping(to_dict(recommend(profile).config))
        bad += [(profile, f.rule, f.message) for f in report.findings if f.severity in SERIOUS]
    assert not bad, bad[:3]
