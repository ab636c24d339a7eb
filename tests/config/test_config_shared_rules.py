"""The load-best judgement is written once (config.rules.load_best_conflict) and used by both
`trainwell config validate` and `trainwell lint`, so the two cannot disagree."""

from __future__ import annotations

import pytest

from trainwell.advise.lint.runner import lint_mapping
from trainwell.config import load_config
from trainwell.config.rules import load_best_conflict
from trainwell.errors import ConfigError


@pytest.mark.parametrize(
    ("eval_strategy", "save_strategy", "eval_every", "save_every", "want"),
    [
        ("steps", "steps", 100, 300, None),
        ("no", "steps", 100, 300, "off"),
        ("steps", "no", 100, 300, "off"),
        ("epoch", "steps", 1, 300, "strategy"),
        ("steps", "steps", 100, 150, "cadence"),
        ("steps", "steps", None, 150, None),  # an unknown cadence is not judged
    ],
)
def test_load_best_conflict(
    eval_strategy: str, save_strategy: str, eval_every: float | None, save_every: float | None, want: str | None
) -> None:
    assert load_best_conflict(eval_strategy, save_strategy, eval_every, save_every) == want


def test_validate_and_lint_flag_the_same_cadence_conflict() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"evaluation": {"every": 100}, "checkpoint": {"every": 150}})
    assert [p.where for p in err.value.problems] == ["checkpoint.every"]
    hf = {"load_best_model_at_end": True, "eval_strategy": "steps", "save_strategy": "steps", "eval_steps": 100, "save_steps": 150,
          "learning_rate": 5e-5, "output_dir": "out"}  # fmt: skip
    assert "load-best-cadence" in {f.rule for f in lint_mapping(hf).findings}
