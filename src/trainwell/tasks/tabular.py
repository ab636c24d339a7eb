"""An MLP on a CSV file (for example UCI adult), classifying the label column.

``data.path`` names the training CSV. ``data.options``:
  header: true | false | auto (default auto: a first row without numbers is a header)
  columns: [names...] column names when the file has no header (or to rename them)
  target: the label column, by name or index (default: the last column)
  drop: [names...] columns to leave out (e.g. an ID or a sampling weight such as adult's fnlwgt)
  val_path: a validation CSV in the same layout (e.g. adult.test); otherwise a stratified
            ``data.val_fraction`` split of the training file decided by ``seed``.
Numeric columns are standardised and categorical ones one-hot encoded, fitted on the training rows only;
'?' and empty cells are missing (median for numerics, a category of their own for categoricals). Labels
have a trailing '.' removed, since UCI adult.test writes '>50K.' where adult.data writes '>50K'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainwell.errors import DataError, Problem
from trainwell.tasks import _data
from trainwell.tasks._models import mlp
from trainwell.tasks._table import Encoder, Table, clean_label, read_table, target_index
from trainwell.tasks.base import Task, TaskFacts, classification_metrics
from trainwell.tasks.catalog import data_options, model_options

if TYPE_CHECKING:
    from trainwell.config.schema import Config


def _path(value: str | None, where: str) -> Path:
    if not value:
        raise DataError(
            problems=[
                Problem(
                    where,
                    "must name a CSV file for the tabular task",
                    value,
                    "set data.path, e.g. data.path=../shared/data/adult/adult.data",
                )
            ]
        )
    path = Path(value).expanduser()
    if not path.is_file():
        raise DataError(
            problems=[
                Problem(where, "must be an existing CSV file", str(path), "check the path (relative paths start at the working directory)")
            ]
        )
    return path


def _labels(table: Table, col: int, classes: list[str] | None, where: str) -> tuple[np.ndarray, list[str]]:
    raw = [clean_label(r[col]) for r in table.rows]
    classes = classes or sorted(set(raw))
    return _data.encode_labels(raw, classes, where), classes


def _features(table: Table, opts: dict[str, Any], target: int) -> list[int]:
    drop = [str(d) for d in opts["drop"] or []]
    missing = [d for d in drop if d not in table.columns]
    if missing:
        raise DataError(
            problems=[Problem("data.options.drop", "must name existing columns", missing, f"columns are: {', '.join(table.columns)}")]
        )
    return [i for i, name in enumerate(table.columns) if i != target and name not in drop]


def _split(config: Config, opts: dict[str, Any]) -> tuple[Table, np.ndarray, Table, np.ndarray, list[str], int]:
    """Training and validation rows with integer labels, the class names and the label column."""
    header, columns = opts["header"], opts["columns"]
    train = read_table(_path(config.data.path, "data.path"), header, columns)
    col = target_index(train, opts["target"], "data.options.target")
    y, classes = _labels(train, col, None, str(config.data.path))
    if opts["val_path"]:
        val = read_table(_path(str(opts["val_path"]), "data.options.val_path"), header, columns or train.columns)
        if val.columns != train.columns:
            val = Table(train.columns, val.rows)  # a headerless validation file takes the training names
        y_val, _ = _labels(val, col, classes, str(opts["val_path"]))
    else:
        train_idx, val_idx = _data.stratified_split(y, config.data.val_fraction, config.seed)
        val, y_val = Table(train.columns, [train.rows[i] for i in val_idx]), y[val_idx]
        train, y = Table(train.columns, [train.rows[i] for i in train_idx]), y[train_idx]
    keep = _data.limit_indices(np.arange(len(y)), y, config.data.limit, config.seed)
    return Table(train.columns, [train.rows[i] for i in keep]), y[keep], val, y_val, classes, col


def build(config: Config) -> Task:
    opts = data_options(config)
    train, y_train, val, y_val, classes, target = _split(config, opts)
    encoder = Encoder.fit(train.rows, _features(train, opts, target))
    x_train, x_val = encoder.transform(train.rows), encoder.transform(val.rows)
    n = len(classes)
    if n < 2:
        raise DataError(
            problems=[Problem("data.options.target", "must have at least two distinct labels", classes, "choose the label column")]
        )
    mo = model_options(config)
    counts = _data.class_counts(y_train, n)
    return Task(
        name="tabular",
        model=mlp(encoder.width, int(mo["hidden"]), int(mo["layers"]), float(mo["dropout"]), n),
        train_data=_data.tensor_dataset(x_train, y_train),
        val_data=_data.tensor_dataset(x_val, y_val),
        num_classes=n,
        class_counts=counts,
        metrics=classification_metrics,
        facts=TaskFacts("mlp", "scratch", len(y_train), n, _data.imbalance(counts)),
    )
