"""The one reader of loosely typed numbers that lint and the doctor share."""

from __future__ import annotations

import math
from typing import Any

import pytest

from trainwell.values import to_float


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(2, 2.0), (0.5, 0.5), ("2e-5", 2e-5), (" 3 ", 3.0), ([0.25], 0.25), ("Infinity", math.inf), (True, None),
     (None, None), ("", None), ("adamw", None), ([1, 2], None), ({"a": 1}, None)],
)  # fmt: skip
def test_to_float(raw: Any, expected: float | None) -> None:
    assert to_float(raw) == expected


def test_nan_survives_for_the_nan_check() -> None:
    value = to_float("nan")
    assert value is not None and math.isnan(value)
