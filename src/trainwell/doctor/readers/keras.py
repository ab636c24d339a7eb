"""Keras ``History.history`` dumped as JSON: a dict of per-epoch lists (``loss``, ``val_loss``,
``accuracy`` ...). Hand-written training scripts often dump the same shape with their own keys
(``train_loss``, ``val_acc``) plus metadata; those are read too, metadata ignored with a note. A history written
with ``json.dump(str(history.history), f)`` is a JSON string holding a Python dict literal, and a history kept as a list
of per-epoch records (``[{"epoch": 1, "loss": ...}, ...]``, a common hand-written loop's ``history.append(row)``);
both are read the same way."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Any

from trainwell.doctor.history import History
from trainwell.doctor.readers.base import Collector, Reader, load_json, peek_json, register
from trainwell.errors import DataError, Problem
from trainwell.values import to_float


def _numeric_lists(data: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: v for k, v in data.items() if isinstance(v, list) and v and all(to_float(x) is not None for x in v)}


def _unquoted(data: Any) -> Any:
    """The dict a JSON string holding a Python dict literal stands for (``str(history.history)`` saved as JSON);
    anything else unchanged. ``ast.literal_eval`` evaluates literals only, so nothing in the file can run."""
    if not (isinstance(data, str) and data.lstrip().startswith("{")):
        return data
    try:
        value = ast.literal_eval(data.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):  # 'nan' or code, not a dict literal
        return data
    return value if isinstance(value, dict) else data


def _columns(data: Any) -> Any:
    """A list of per-epoch records as the dict of per-epoch lists it stands for; anything else unchanged. A list whose
    records carry a ``step`` is HF's bare log_history (readers/hf.py), not this. A key missing from some records gets a
    shorter list, which ``read`` ignores with a note, as it does any list that is not one value per epoch."""
    if not (isinstance(data, list) and len(data) >= 2 and all(isinstance(r, dict) for r in data)) or any("step" in r for r in data):
        return data
    if not set.intersection(*(set(r) for r in data)):
        return data  # records sharing no key are not rows of one history
    columns: dict[str, list[Any]] = {}
    for record in data:
        for key, value in record.items():
            columns.setdefault(str(key), []).append(value)
    return columns


def _parsed(data: Any) -> Any:
    return _columns(_unquoted(data))


def sniff(path: Path) -> bool:
    data = _parsed(peek_json(path))
    return isinstance(data, dict) and "log_history" not in data and bool(_numeric_lists(data))


def read(path: Path) -> History:
    data = _parsed(load_json(path))
    lists = _numeric_lists(data) if isinstance(data, dict) else {}
    if not lists:
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    "must be a JSON object of per-epoch lists (a Keras History) or a list of per-epoch records",
                    type(data).__name__,
                )
            ]
        )
    # Per-epoch series share one length; shorter lists are metadata such as phase boundaries.
    length = Counter(len(v) for v in lists.values()).most_common(1)[0][0]
    # Keras' History always holds its objective under "loss"; a hand-written loop's dict of lists names its own keys
    # (train_loss, val_cos) and its fixes are written in trainwell's names, not Keras'.
    history = History(source="keras-history" if "loss" in lists else "json-history", path=str(path), x_unit="epoch")
    collector = Collector()
    for key, values in lists.items():
        if len(values) != length:
            history.notes.append(f"'{key}' has {len(values)} values, not one per epoch ({length}): ignored")
            continue
        for epoch, value in enumerate(values, start=1):
            collector.add(key, float(epoch), value)
    skipped = sorted(k for k, v in data.items() if k not in lists and not isinstance(v, list))
    if skipped:
        history.notes.append(f"metadata keys ignored: {', '.join(skipped)}")
    classes = data.get("classes")
    if isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes):
        history.hints.num_classes = len(classes)
    return collector.build(history)


READER = register(
    Reader(
        "keras",
        50,
        sniff,
        read,
        "Keras History JSON (dict of per-epoch lists), custom JSON of the same shape, or a list of per-epoch records",
    )
)
