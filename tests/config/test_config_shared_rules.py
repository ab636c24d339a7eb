"""The cross-field judgements are written once (config.rules.load_best_conflict, expected_mode,
warmup_overrun) and used by both `trainwell config validate` and `trainwell lint`, so the two cannot disagree."""

from __future__ import annotations

import pytest

from trainwell.advise.lint.runner import lint_mapping
from trainwell.config import load_config
from trainwell.config.rules import load_best_conflict, warmup_overrun
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


@pytest.mark.parametrize(
    ("ratio", "steps", "total", "want"),
    [
        (0.1, None, 100, None),
        (1.0, None, None, "ratio"),  # a ratio of 1 never ends, whatever the run's length
        (None, 99, 100, None),
        (None, 100, 100, "steps"),
        (None, 200, None, None),  # an unknown total is not judged
        (0.0, 0, 100, None),
    ],
)
def test_warmup_overrun(ratio: float | None, steps: float | None, total: int | None, want: str | None) -> None:
    assert warmup_overrun(ratio, steps, total) == want


def test_validate_and_lint_flag_the_same_warmup_overrun() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"schedule": {"warmup": 200}, "training": {"max_steps": 100}})
    assert [p.where for p in err.value.problems] == ["schedule.warmup"]
    assert load_config({"schedule": {"warmup": 99}, "training": {"max_steps": 100}}).schedule.warmup == 99
    hf = {"model_name_or_path": "google-bert/bert-base-uncased", "learning_rate": 2e-5, "per_device_train_batch_size": 16,
          "logging_steps": 10, "warmup_steps": 200, "max_steps": 100, "seed": 42}  # fmt: skip
    assert "warmup-exceeds-total" in {f.rule for f in lint_mapping(hf).findings}
    assert "warmup-exceeds-total" not in {f.rule for f in lint_mapping({**hf, "warmup_steps": 99}).findings}
    # lint reads a trainwell file through the same validation: one error, at the same field
    ours = lint_mapping({"schedule": {"warmup": 200}, "training": {"max_steps": 100}}).findings
    assert [(f.rule, f.where) for f in ours if f.severity == "error"] == [("trainwell-config", "schedule.warmup")]
