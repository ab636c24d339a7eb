"""Loosely typed values read from other tools' files (configs, logs, CSV cells), as numbers.

Lint reads HF, Lightning and Axolotl configs and the doctor reads their logs; both meet numbers
written as strings ('2e-5'), booleans that are not numbers, and one-element lists. One reader of
those values keeps the two from disagreeing about what counts as a number.
"""

from __future__ import annotations

from typing import Any


def to_float(value: Any) -> float | None:
    """A float from a number, a numeric string or a one-element list; None for anything else.

    Booleans are not numbers here (``True`` is a flag, not 1.0). NaN and Inf survive, as numbers or as
    'nan' / 'inf' / 'Infinity' strings: the doctor's NaN check needs them.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:  # '' and words
            return None
    if isinstance(value, list) and len(value) == 1:  # Lightning sometimes logs one-element tensors
        return to_float(value[0])
    return None
