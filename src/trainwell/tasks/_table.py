"""Reading a CSV into a numeric matrix: header detection, the label column, '?' as missing, one-hot
categoricals and standardised numerics, with every statistic fitted on the training file only."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainwell.errors import DataError, Problem

MISSING = {"", "?", "NA", "N/A", "nan", "NaN", "null", "None"}


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path: Path, header: bool | str, columns: list[str] | None) -> Table:
    """Rows of stripped strings. ``header``: True, False or "auto" (a first row with no number in it while
    the second row has one is a header; UCI adult.data ships without one, many copies add one)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [[cell.strip() for cell in row] for row in csv.reader(fh, skipinitialspace=True)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(problems=[Problem(str(path), "must be a readable UTF-8 CSV file", type(exc).__name__, str(exc))]) from None
    rows = [r for r in rows if any(r) and not (len(r) == 1 and r[0].startswith("|"))]  # blank lines, UCI '|' notes
    if not rows:
        raise DataError(problems=[Problem(str(path), "must hold at least one data row", 0, "check data.path")])
    if header == "auto":
        header = len(rows) > 1 and not any(map(_is_number, rows[0])) and any(map(_is_number, rows[1]))
    names = rows.pop(0) if header else [f"col{i}" for i in range(len(rows[0]))]
    if columns:
        names = list(columns)
    bad = [i for i, r in enumerate(rows) if len(r) != len(names)]
    if bad:
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    f"every row must have {len(names)} fields like the header",
                    f"{len(bad)} rows differ, first at data row {bad[0] + 1}",
                    "fix the file or data.options.columns",
                )
            ]
        )
    return Table(names, rows)


def target_index(table: Table, target: Any, where: str) -> int:
    """The label column: a name, an integer index (negative counts from the end) or None for the last."""
    if target is None:
        return len(table.columns) - 1
    if isinstance(target, int) and -len(table.columns) <= target < len(table.columns):
        return target % len(table.columns)
    if str(target) in table.columns:
        return table.columns.index(str(target))
    raise DataError(
        problems=[Problem(where, "must name a column or be a column index", target, f"columns are: {', '.join(table.columns)}")]
    )


def clean_label(text: str) -> str:
    return text.rstrip(".").strip()  # UCI adult.test writes '>50K.' where adult.data writes '>50K'


@dataclass
class Encoder:
    """Fitted on the training table: per column either (median, mean, std) or its category list."""

    numeric: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    categories: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, rows: list[list[str]], feature_cols: list[int]) -> Encoder:
        enc = cls()
        for c in feature_cols:
            values = [r[c] for r in rows]
            present = [v for v in values if v not in MISSING]
            if present and all(map(_is_number, present)):
                # Missing numerics get the training median, and are counted in the mean and std so the
                # encoded training column is exactly standardised; the std floor keeps constant columns at 0.
                median = float(np.median([float(v) for v in present]))
                nums = np.array([float(v) if v not in MISSING else median for v in values])
                enc.numeric[c] = (median, float(nums.mean()), float(nums.std()) or 1.0)
            else:
                # Missing categoricals ('?' in adult) become a category of their own, which is informative there.
                enc.categories[c] = sorted({v if v not in MISSING else "?" for v in values})
        return enc

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(v) for v in self.categories.values())

    def transform(self, rows: list[list[str]]) -> np.ndarray:
        out = np.zeros((len(rows), self.width), dtype=np.float32)
        at = 0
        for c, (median, mean, std) in self.numeric.items():
            col = np.array([float(r[c]) if r[c] not in MISSING and _is_number(r[c]) else median for r in rows])
            out[:, at] = (col - mean) / std
            at += 1
        for c, cats in self.categories.items():
            index = {v: i for i, v in enumerate(cats)}
            for i, r in enumerate(rows):
                j = index.get(r[c] if r[c] not in MISSING else "?")
                if j is not None:  # a category unseen in training stays all-zero
                    out[i, at + j] = 1.0
            at += len(cats)
        return out
