"""TensorBoard event files, read with tensorboard's own EventAccumulator (optional extra).

Both scalar encodings are read: ``simple_value`` summaries (torch's SummaryWriter, Lightning) and the
tensor summaries TF2 writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainwell.doctor.history import History
from trainwell.doctor.readers.base import Collector, Reader, register
from trainwell.errors import DataError, Problem, require


def _event_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if "tfevents" in path.name else []
    if path.is_dir():
        return sorted(path.glob("*tfevents*")) or sorted(path.glob("*/*tfevents*"))
    return []


def sniff(path: Path) -> bool:
    return bool(_event_files(path))


def read(path: Path) -> History:
    files = _event_files(path)
    if not files:
        raise DataError(problems=[Problem(str(path), "must be a TensorBoard event file or a folder holding one", str(path))])
    module = require("tensorboard.backend.event_processing.event_accumulator", "tensorboard", "Reading TensorBoard logs")
    history = History(source="tensorboard", path=str(path))
    collector = Collector()
    for events in files:
        accumulator = module.EventAccumulator(str(events), size_guidance={module.SCALARS: 0, module.TENSORS: 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        for tag in tags.get("scalars", []):
            for event in accumulator.Scalars(tag):
                collector.add(tag, float(event.step), event.value)
        for tag in tags.get("tensors", []):
            for event in accumulator.Tensors(tag):
                value = _scalar(event.tensor_proto)
                if value is not None:
                    collector.add(tag, float(event.step), value)
    if not collector.raw:
        history.notes.append("the event files hold no scalar summaries")
    return collector.build(history)


def _scalar(proto: Any) -> float | None:
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(proto)
    except (ValueError, TypeError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 and array.dtype.kind in "fiu" else None


READER = register(Reader("tensorboard", 20, sniff, read, "TensorBoard event files (needs trainwell[tensorboard])"))
