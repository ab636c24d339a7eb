"""Keras ``History.history`` dumped as JSON: a dict of per-epoch lists (``loss``, ``val_loss``,
``accuracy`` ...). Hand-written training scripts often dump the same shape with their own keys
(``train_loss``, ``val_acc``) plus metadata; those are read too, metadata ignored with a note. A history written
with ``json.dump(str(history.history), f)`` is a JSON string holding a Python dict literal; it is read the same way."""

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


def sniff(path: Path) -> bool:
    data = _unquoted(peek_json(path))
    return isinstance(data, dict) and "log_history" not in data and bool(_numeric_lists(data))


def read(path: Path) -> History:
    data = _unquoted(load_json(path))
    lists = _numeric_lists(data) if isinstance(data, dict) else {}
    if not lists:
        raise DataError(problems=[Problem(str(path), "must be a JSON object of per-epoch lists (a Keras History)", type(data).__name__)])
    # Per-epoch series share one length; shorter lists are metadata such as phase boundaries.
    length = Counter(len(v) for v in lists.values()).most_common(1)[0][0]
    history = History(source="keras-history", path=str(path), x_unit="epoch")
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


READER = register(Reader("keras", 50, sniff, read, "Keras History JSON (dict of per-epoch lists), and custom JSON of the same shape"))
