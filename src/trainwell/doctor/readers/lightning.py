"""Lightning ``CSVLogger`` ``metrics.csv`` (and any CSV with an epoch or step column, such as Keras'
``CSVLogger``). Rows are sparse: each ``self.log`` call fills its own columns at its own step."""

from __future__ import annotations

import csv
from pathlib import Path

from trainwell.config.documents import read_document
from trainwell.doctor.history import History
from trainwell.doctor.naming import classify
from trainwell.doctor.readers.base import Collector, Reader, positive, register
from trainwell.errors import DataError, Problem
from trainwell.values import to_float


def _csv_file(path: Path) -> Path | None:
    if path.is_file() and path.suffix.lower() == ".csv":
        return path
    if path.is_dir():
        found = sorted(path.glob("metrics.csv")) or sorted(path.glob("*/metrics.csv"))
        return found[-1] if found else None
    return None


def _header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def sniff(path: Path) -> bool:
    found = _csv_file(path)
    if found is None or (path.is_dir() and (path / "metrics.jsonl").is_file()):  # a trainwell run folder
        return False
    kinds = {classify(column)[0] for column in _header(found)}
    return bool(kinds & {"step", "epoch"}) and len(kinds - {"ignore"}) > 1


def read(path: Path) -> History:
    found = _csv_file(path)
    header = _header(found) if found else []
    if found is None or not header:
        raise DataError(problems=[Problem(str(path), "must be a CSV file with a header row", str(path), "point at metrics.csv")])
    step_column = next((c for c in header if classify(c)[0] == "step"), None)
    epoch_column = next((c for c in header if classify(c)[0] == "epoch"), None)
    history = History(source="lightning-csv", path=str(found), x_unit="step" if step_column else "epoch")
    collector = Collector()
    with found.open(newline="", encoding="utf-8") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            x = to_float(row.get(step_column or epoch_column or "", ""))
            if x is None:
                x = float(index)
            elif not step_column:
                x += 1.0  # epochs count from 0 in Lightning; x = epochs completed
            for column, value in row.items():
                if column and column != step_column:
                    collector.add(column, x, value)
    if not step_column:
        history.notes.append("no step column: x is the epoch")
    collector.build(history)
    _hparams(found.parent / "hparams.yaml", history)
    return history


def _hparams(path: Path, history: History) -> None:
    """The LR and weight decay that ``self.save_hyperparameters()`` wrote beside metrics.csv, when it did."""
    if not path.is_file():
        return
    try:
        data = read_document(path, DataError)
    except DataError as exc:
        history.notes.append(f"hparams.yaml ignored: {exc.problems[0].rule}")
        return
    if not isinstance(data, dict):
        return
    history.hints.lr = positive(data.get("lr", data.get("learning_rate")))
    history.hints.weight_decay = to_float(data.get("weight_decay"))


READER = register(Reader("lightning", 40, sniff, read, "Lightning CSVLogger metrics.csv (file or version folder), Keras CSVLogger files"))
