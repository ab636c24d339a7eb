"""Lint never crashes: any mapping, with known keys holding values of any type, gives a report."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainwell.advise.lint import lint_mapping
from trainwell.advise.lint.readers_flat import AXOLOTL_FIELDS, HF_FIELDS, LLAMAFACTORY_FIELDS
from trainwell.advise.lint.readers_tree import LIGHTNING_TRAINER_FIELDS, TORCHTUNE_FIELDS

KEYS = [
    *sorted(HF_FIELDS | AXOLOTL_FIELDS | LLAMAFACTORY_FIELDS | TORCHTUNE_FIELDS | LIGHTNING_TRAINER_FIELDS),
    "trainer", "model", "data", "defaults", "_target_", "_component_", "class_path", "init_args", "callbacks", "monitor",
    "mode", "patience", "seed_everything", "task", "optimizer", "schedule", "training", "evaluation", "lr", "epochs",
]  # fmt: skip
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10_000), st.floats(allow_nan=True), st.text(max_size=12),
                    st.sampled_from(["auto", "steps", "epoch", "no", "bf16", "16-mixed", "adamw_torch", "torch.optim.Adam", "1e-4", "max"]))  # fmt: skip
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4), max_leaves=12
)
mappings = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.integers(0, 3)), values, max_size=12)


def _check(data: dict[Any, Any]) -> None:
    report = lint_mapping(data)
    assert report.dialect
    for finding in report.findings:
        assert finding.severity in ("error", "warning", "info")


@settings(max_examples=25, deadline=None)
@given(mappings)
def test_lint_never_crashes(data: dict[Any, Any]) -> None:
    _check(data)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None)
@given(mappings)
def test_lint_never_crashes_long(data: dict[Any, Any]) -> None:
    _check(data)
