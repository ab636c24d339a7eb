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
    keras_epochs = True  # every tag read is a Keras per-epoch one: the x axis is the epoch
    for events in files:
        accumulator = module.EventAccumulator(str(events), size_guidance={module.SCALARS: 0, module.TENSORS: 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        every = [*tags.get("scalars", []), *tags.get("tensors", [])]
        side = _KERAS_SIDES.get(events.parent.name.lower()) or ("val_" if any(map(_keras_evaluation, every)) else None)
        for tag in every:
            name = _keras_name(tag, side, history)
            if name is None:
                continue
            # Keras numbers its epochs from 0 in event files: from 1, as its History and CSVLogger logs are read.
            first = 1.0 if name != tag else 0.0
            keras_epochs = keras_epochs and name != tag
            if tag in tags.get("scalars", []):
                for event in accumulator.Scalars(tag):
                    collector.add(name, event.step + first, event.value)
                continue
            for event in accumulator.Tensors(tag):
                value = _scalar(event.tensor_proto)
                if value is not None:
                    collector.add(name, event.step + first, value)
    if not collector.raw:
        history.notes.append("the event files hold no scalar summaries")
    elif keras_epochs:
        history.x_unit = "epoch"
    return collector.build(history)


# Keras' TensorBoard callback writes one run folder per side, logs/train and logs/validation, with the same tags in both:
# epoch_loss, epoch_accuracy (the epoch-end values, x = epoch) and, from its validation writer only,
# evaluation_<metric>_vs_iterations (the same evaluations indexed by train step): those tags mark a validation file
# whose folder name was lost (a copied or renamed event file).
_KERAS_SIDES = {"train": "train_", "validation": "val_", "val": "val_", "valid": "val_"}


def _keras_evaluation(tag: str) -> bool:
    return tag.startswith("evaluation_") and tag.endswith("_vs_iterations")


def _keras_name(tag: str, side: str | None, history: History) -> str | None:
    """The name a tag is read under: Keras' ``epoch_<metric>`` in a train/ or validation/ folder becomes ``train_<metric>``
    or ``val_<metric>`` (a validation event file read alone is the validation curve, not a train loss); its
    ``evaluation_*_vs_iterations`` copies are dropped (None); any other tag keeps its name."""
    if side is None:
        return tag
    if _keras_evaluation(tag):
        note = "evaluation_*_vs_iterations: Keras' copies of the epoch-end evaluations indexed by train step; ignored"
        if note not in history.notes:
            history.notes.append(note)
        return None
    return side + tag.removeprefix("epoch_") if tag.startswith("epoch_") else tag


def _scalar(proto: Any) -> float | None:
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(proto)
    except (ValueError, TypeError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 and array.dtype.kind in "fiu" else None


READER = register(Reader("tensorboard", 20, sniff, read, "TensorBoard event files (needs trainwell[tensorboard])"))
