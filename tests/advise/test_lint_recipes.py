"""Every shipped recipe lints as a trainwell config with no error; where a recipe copies a guide that
another guide contradicts (004's Adam + L2), lint says so with the contradicting guide as source."""

from __future__ import annotations

import pytest

from trainwell.advise.lint import lint_file
from trainwell.recipes.catalog import RECIPES


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_lints_without_errors(name: str) -> None:
    report = lint_file(RECIPES.get(name).path)
    assert report.dialect == "trainwell"
    assert not report.has_errors, [(f.rule, f.where, f.message) for f in report.findings if f.severity == "error"]


def test_exactly_the_coupled_l2_recipes_are_flagged_with_their_source() -> None:
    from trainwell.config import load_config

    flagged = [n for n in RECIPES.names() if "adam-l2-decay" in {f.rule for f in lint_file(RECIPES.get(n).path).findings}]
    coupled = [
        n for n in RECIPES.names() if (c := load_config(RECIPES.get(n).path)).optimizer.name == "adam" and c.optimizer.weight_decay > 0
    ]
    assert flagged == coupled
    for name in flagged:
        finding = next(f for f in lint_file(RECIPES.get(name).path).findings if f.rule == "adam-l2-decay")
        assert finding.where == "optimizer.name" and "001" in finding.source
