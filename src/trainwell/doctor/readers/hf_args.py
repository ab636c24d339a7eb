"""The ``TrainingArguments`` saved beside a ``trainer_state.json``: the LR, warmup, schedule, clipping, weight
decay and best-checkpoint metric the run was configured with, read without importing torch or transformers.

HF's Trainer saves them as ``training_args.bin`` (``torch.save`` of the TrainingArguments object) in its output
folder and in every ``checkpoint-N`` folder; scripts often dump ``training_args.json`` (``args.to_dict()``) too.
The .bin is a zip archive whose ``*/data.pkl`` pickles the dataclass. It is read with an unpickler that resolves
no global at all: every class or function the pickle names becomes an inert stand-in that only records its
arguments, so nothing in the file can run code; only the dataclass's plain field values are kept.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

# A training_args.bin is a few kilobytes; a bigger file is not one (and is not read into memory).
_MAX_BYTES = 1 << 20
# The TrainingArguments fields the doctor uses; enums (lr_scheduler_type, ...) are kept as their value.
FIELDS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "warmup_ratio",
    "max_grad_norm",
    "weight_decay",
    "max_steps",
    "metric_for_best_model",
    "greater_is_better",
    "load_best_model_at_end",
)


class _Inert:
    """Stands in for any class or function a pickle names: it keeps its arguments and state, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # the names are deliberately ignored
        return type(name, (_Inert,), {})

    def persistent_load(self, pid: Any) -> Any:  # torch's tensor storages; TrainingArguments holds none
        return None


def _plain(value: Any) -> Any:
    """An enum stand-in (``IntervalStrategy('steps')``) as its value; plain values as they are; else None."""
    if isinstance(value, _Inert):
        return value.args[0] if len(value.args) == 1 and isinstance(value.args[0], (str, int, float)) else None
    return value if isinstance(value, (str, int, float, bool)) or value is None else None


def _fields(state: Any) -> dict[str, Any]:
    if isinstance(state, tuple) and state and isinstance(state[0], dict):  # (dict, slots) state
        state = state[0]
    if not isinstance(state, dict):
        return {}
    return {key: _plain(state[key]) for key in FIELDS if key in state}


def read_bin(path: Path) -> dict[str, Any] | None:
    """The fields of a ``training_args.bin``, or None when the file is not a readable torch zip of one."""
    try:
        if path.stat().st_size > _MAX_BYTES or not zipfile.is_zipfile(path):
            return None  # the pre-1.6 torch format is not a zip; it is not read
        with zipfile.ZipFile(path) as archive:
            info = next((i for i in archive.infolist() if i.filename.endswith("data.pkl")), None)
            if info is None or info.file_size > _MAX_BYTES:  # a member that inflates past the limit is not read
                return None
            obj = _InertUnpickler(io.BytesIO(archive.read(info))).load()
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError):
        return None
    found = _fields(getattr(obj, "state", None))
    return found or None


def read_json(path: Path) -> dict[str, Any] | None:
    """The fields of a ``training_args.json`` (``TrainingArguments.to_dict()`` dumped as JSON)."""
    try:
        if path.stat().st_size > _MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or "learning_rate" not in data:
        return None
    return {key: _plain(data[key]) for key in FIELDS if key in data}


def beside(state_file: Path) -> tuple[dict[str, Any], Path] | None:
    """The TrainingArguments saved next to a trainer_state.json (its own folder first, then the output folder
    above a ``checkpoint-N``), with the file they came from; None when there are none."""
    folders = [state_file.parent]
    if state_file.parent.name.startswith("checkpoint-"):
        folders.append(state_file.parent.parent)
    for folder in folders:
        for name, reader in (("training_args.json", read_json), ("training_args.bin", read_bin)):
            candidate = folder / name
            if candidate.is_file():
                found = reader(candidate)
                if found:
                    return found, candidate
    return None
