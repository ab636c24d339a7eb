"""TensorBoard event files, decoded with tensorboard's own protocol buffers (optional extra).

Both scalar encodings are read: ``simple_value`` summaries (torch's SummaryWriter, Lightning) and the
scalar tensor summaries TF2 and Keras write. The records are read here rather than through tensorboard's
``EventAccumulator``: importing that pulls in tensorboard's TensorFlow stub (numpy, and boto3 where installed),
0.3-0.4 CPU s, more than the doctor's whole budget for a log; the event protos alone cost 0.02 s."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainwell.doctor.history import History
from trainwell.doctor.readers.base import Collector, Reader, newest_run, register
from trainwell.errors import DataError, Problem, require


def _event_files(path: Path) -> tuple[list[Path], str | None]:
    """The event files of one run and, when a folder holds several runs, a note saying which was read.

    A folder's own event files are one run (a resumed writer adds a file beside the first), and the subfolders
    ``SummaryWriter.add_scalars`` makes beside them belong to it. With no event file of its own, a folder whose
    subfolders are Keras' train/ and validation/ sides is one run; other subfolders (Lightning's version_0,
    version_1 ..., one per fit) are separate runs, and the highest-numbered is read rather than all merged into one.
    """
    if path.is_file():
        return ([path] if "tfevents" in path.name else []), None
    if not path.is_dir():
        return [], None
    own, nested = sorted(path.glob("*tfevents*")), sorted(path.glob("*/*tfevents*"))
    folders = sorted({f.parent for f in nested})
    if own or len(folders) <= 1 or all(f.name.lower() in _KERAS_SIDES for f in folders):
        return own + nested, None
    chosen, note = newest_run([f for f in folders if f.name.lower() not in _KERAS_SIDES], "TensorBoard runs")
    return [f for f in nested if f.parent == chosen], note


def sniff(path: Path) -> bool:
    return bool(_event_files(path)[0])


def read(path: Path) -> History:
    files, note = _event_files(path)
    if not files:
        raise DataError(problems=[Problem(str(path), "must be a TensorBoard event file or a folder holding one", str(path))])
    module = require("tensorboard.compat.proto.event_pb2", "tensorboard", "Reading TensorBoard logs")
    history = History(source="tensorboard", path=str(path))
    if note:
        history.notes.append(note)
    collector = Collector()
    keras_epochs = True  # every tag read is a Keras per-epoch one: the x axis is the epoch
    for events in files:
        scalars = list(_scalars(events, module, history))
        tags = list(dict.fromkeys(tag for tag, _, _ in scalars))
        side = _keras_side(events, tags, history)
        if side is None and events.parent != path and path.is_dir():
            names: dict[str, str | None] = {tag: _add_scalars_name(tag, events.parent.name) for tag in tags}
            shifted: set[str] = set()
        else:
            names = {tag: _keras_name(tag, side, history) for tag in tags}
            shifted = {tag for tag, name in names.items() if name is not None and name != tag}
        for tag, step, value in scalars:
            name = names[tag]
            if name is None:
                continue
            # Keras numbers its epochs from 0 in event files: from 1, as its History and CSVLogger logs are read.
            collector.add(name, step + (1.0 if tag in shifted else 0.0), value)
        keras_epochs = keras_epochs and all(tag in shifted for tag, name in names.items() if name is not None)
    if not collector.raw:
        history.notes.append("the event files hold no scalar summaries")
    elif keras_epochs:
        history.x_unit = "epoch"
        history.source = "keras-tensorboard"  # Keras' TensorBoard callback wrote every tag read: fixes in Keras' names
    return collector.build(history)


# Keras' TensorBoard callback writes one run folder per side, logs/train and logs/validation, with the same tags in both:
# epoch_loss, epoch_accuracy (the epoch-end values, x = epoch) and, from its validation writer only,
# evaluation_<metric>_vs_iterations (the same evaluations indexed by train step): those tags mark a validation file
# whose folder name was lost (a copied or renamed event file).
_KERAS_SIDES = {"train": "train_", "validation": "val_", "val": "val_", "valid": "val_"}


def _keras_side(events: Path, tags: list[str], history: History) -> str | None:
    """'train_' or 'val_' for a Keras event file, by its folder, else by its tags: the validation writer's
    ``evaluation_*_vs_iterations``, or only ``epoch_*`` tags (Keras' epoch-end names; its validation writer adds the
    evaluation tags), which a file moved out of logs/train keeps; None for any other writer's file."""
    side = _KERAS_SIDES.get(events.parent.name.lower())
    if side or any(map(_keras_evaluation, tags)):
        return side or "val_"
    if tags and all(tag.startswith("epoch_") and len(tag) > len("epoch_") for tag in tags):
        history.notes.append(f"{events.name}: only Keras epoch_* tags, outside a train/ or validation/ folder: read as the train side")
        return "train_"
    return None


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


def _add_scalars_name(tag: str, folder: str) -> str:
    """``SummaryWriter.add_scalars("loss", {"train": a, "val": b})`` writes tag 'loss' into subfolders 'loss_train' and
    'loss_val': the folder's tail names the series ('train/loss', 'val/loss'), or the two would merge into one 'loss'."""
    prefix = tag.replace("/", "_") + "_"
    if not folder.startswith(prefix) or len(folder) == len(prefix):
        return tag
    return f"{folder[len(prefix) :]}/{tag}"


def _records(path: Path) -> Iterator[bytes]:
    """The records of an event file (TFRecord framing: a little-endian uint64 length, a 4-byte CRC of it, the data, a
    4-byte CRC of the data). A record cut short, or a length longer than what is left of the file, ends the read: a log
    copied while its writer was still appending. The CRCs are not checked; a damaged record fails to decode instead."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        while True:
            header = handle.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            if length > size - handle.tell():
                return
            data = handle.read(length)
            if len(data) < length or len(handle.read(4)) < 4:
                return
            yield data


def _scalars(path: Path, event_pb2: Any, history: History) -> Iterator[tuple[str, float, float]]:
    """(tag, step, value) of every scalar summary in one event file, in file order."""
    from google.protobuf.message import DecodeError

    for record in _records(path):
        try:
            event = event_pb2.Event.FromString(record)
        except DecodeError:
            history.notes.append(f"{path.name}: a damaged record; the events after it are not read")
            return
        if not event.HasField("summary"):
            continue
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            number = value.simple_value if kind == "simple_value" else _scalar(value.tensor) if kind == "tensor" else None
            if number is not None:
                yield value.tag, float(event.step), float(number)


# TensorProto dtypes (tensorflow/core/framework/types.proto) that hold a number, and their little-endian encodings in
# ``tensor_content``: float, double, int32, int64, half, bfloat16 (the top half of a float32).
_PACKED = {1: "<f", 2: "<d", 3: "<i", 9: "<q", 19: "<e", 14: "<H"}


def _scalar(tensor: Any) -> float | None:
    """The number a one-element numeric tensor holds, or None (strings, histograms, images)."""
    if any(dim.size != 1 for dim in tensor.tensor_shape.dim) or tensor.dtype not in _PACKED:
        return None
    if tensor.tensor_content:
        code = _PACKED[tensor.dtype]
        if len(tensor.tensor_content) != struct.calcsize(code):
            return None
        (number,) = struct.unpack(code, tensor.tensor_content)
        return _from_bfloat16(number) if tensor.dtype == 14 else float(number)
    for field in (tensor.float_val, tensor.double_val, tensor.int_val, tensor.int64_val):
        if len(field) == 1:
            return float(field[0])
    if len(tensor.half_val) == 1:  # half and bfloat16 values are stored as their bits in an int
        bits = tensor.half_val[0]
        return _from_bfloat16(bits) if tensor.dtype == 14 else float(struct.unpack("<e", struct.pack("<H", bits))[0])
    return None


def _from_bfloat16(bits: int) -> float:
    return float(struct.unpack("<f", struct.pack("<I", bits << 16))[0])


READER = register(Reader("tensorboard", 20, sniff, read, "TensorBoard event files (needs trainwell[tensorboard])"))
