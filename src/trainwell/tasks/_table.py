"""Reading a CSV into a numeric matrix: header detection, the label column, '?' as missing, one-hot
categoricals and standardised numerics (scikit-learn), with every statistic fitted on the training file only."""

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
    """Fitted on the training table with scikit-learn: numeric columns get the training median for a missing
    value (``SimpleImputer``) and are standardised (``StandardScaler``; the median-filled values count, so
    the encoded training column is exactly standardised, and a constant column keeps scale 1); the other
    columns are one-hot encoded (``OneHotEncoder``, categories sorted, a category unseen in training all-zero)."""

    numeric: list[int] = field(default_factory=list)
    categorical: list[int] = field(default_factory=list)
    steps: list[Any] = field(default_factory=list)  # [imputer, scaler] when numeric, [one-hot] when categorical

    @classmethod
    def fit(cls, rows: list[list[str]], feature_cols: list[int]) -> Encoder:
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        enc = cls()
        for c in feature_cols:
            present = [r[c] for r in rows if r[c] not in MISSING]
            (enc.numeric if present and all(map(_is_number, present)) else enc.categorical).append(c)
        if enc.numeric:
            filled = SimpleImputer(strategy="median").fit(enc._numbers(rows))
            enc.steps += [filled, StandardScaler().fit(filled.transform(enc._numbers(rows)))]
        if enc.categorical:
            enc.steps.append(OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32).fit(enc._labels(rows)))
        return enc

    def _numbers(self, rows: list[list[str]]) -> np.ndarray:
        return np.array([[float(r[c]) if r[c] not in MISSING and _is_number(r[c]) else np.nan for c in self.numeric] for r in rows])

    def _labels(self, rows: list[list[str]]) -> np.ndarray:
        # Missing categoricals ('?' in adult) become a category of their own, which is informative there.
        return np.array([[r[c] if r[c] not in MISSING else "?" for c in self.categorical] for r in rows], dtype=object)

    @property
    def width(self) -> int:
        onehot = self.steps[-1] if self.categorical else None
        return len(self.numeric) + (sum(len(c) for c in onehot.categories_) if onehot is not None else 0)

    def transform(self, rows: list[list[str]]) -> np.ndarray:
        parts = [np.zeros((len(rows), 0), dtype=np.float32)]
        if self.numeric:
            filled, scaler = self.steps[0], self.steps[1]
            parts.append(scaler.transform(filled.transform(self._numbers(rows))).astype(np.float32))
        if self.categorical:
            parts.append(self.steps[-1].transform(self._labels(rows)).astype(np.float32))
        return np.concatenate(parts, axis=1)
