"""The reader contract and the one helper every reader shares: collect raw ``(key, step, value)``
records, then let ``naming.classify`` decide which become the train loss, LR, eval metrics ...

A reader is a ``sniff(path) -> bool`` that never raises and a ``read(path) -> History`` that raises
``DataError`` (with a Problem naming the file) only when nothing usable is in the file.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from trainwell.config.documents import LOG_LIMITS, read_document
from trainwell.doctor.history import History, Series
from trainwell.doctor.naming import classify, head_of, lone_loss_name, output_heads, percent_to_fraction
from trainwell.doctor.signal import memo_scope
from trainwell.errors import DataError, Problem
from trainwell.registry import Registry
from trainwell.values import to_float


@dataclass(frozen=True)
class Reader:
    """One log format. ``priority``: lower sniffs first (a run folder also holds TensorBoard events)."""

    name: str
    priority: int
    sniff: Callable[[Path], bool]
    read: Callable[[Path], History]
    help: str


READERS: Registry[Reader] = Registry("log reader")

# Which canonical slot a classified key fills; several raw keys can compete for one slot.
_SLOTS = ("train_loss", "lr", "grad_norm")


class Collector:
    """Accumulates raw series by their logged name; ``build`` maps them onto a History."""

    def __init__(self) -> None:
        self.raw: dict[str, Series] = {}

    def add(self, key: str, step: float, value: Any) -> None:
        self.add_record({key: value}, step)

    def add_record(self, record: dict[str, Any], step: float, skip: tuple[str, ...] = ()) -> None:
        # One loop with plain numbers skipping to_float's checks: a 24,000-record trainer_state.json adds 72,000 values.
        x = float(step)
        for key, value in record.items():
            if key in skip:
                continue
            number = float(value) if type(value) is float or type(value) is int else to_float(value)
            if number is None:
                continue
            series = self.raw.get(key)
            if series is None:
                series = self.raw[key] = Series()
            series.steps.append(x)
            series.values.append(number)

    def build(self, history: History) -> History:
        slots: dict[str, list[tuple[str, Series]]] = {}
        heads = output_heads(list(self.raw))
        if heads:
            history.notes.append(
                f"a multi-output model (outputs {', '.join(heads)}): its total loss and val_loss are read; the per-output "
                "losses and metrics are kept aside, as which output is the model's answer cannot be told from their names"
            )
        for key, series in self.raw.items():
            if heads and head_of(key, heads):
                history.extra[key] = series
                continue
            kind, canon = classify(key)
            if kind in ("ignore", "step"):
                continue
            if kind == "extra":
                history.extra[canon] = series
                continue
            slot = kind if kind in (*_SLOTS, "epoch") else f"{kind}:{canon}"
            slots.setdefault(slot, []).append((key, series))
        _lone_loss(self.raw, slots, history)
        for slot, candidates in slots.items():
            # The most populated candidate wins (train_loss_step over train_loss_epoch); the rest are kept as extras.
            # Not for an eval metric: Lightning's val_loss_step is one validation batch, val_loss_epoch the metric.
            per_batch = slot.startswith("eval:")
            candidates.sort(key=lambda kv: (per_batch and kv[0].lower().endswith("_step"), -len(kv[1])))
            (key, series), rest = candidates[0], candidates[1:]
            for other_key, other in rest:
                history.extra[other_key] = other
            self._place(history, slot, key, series)
        for group in (history.eval, history.train_metrics):
            _drop_unset_accuracy(history, group)
        return history.finish()

    @staticmethod
    def _place(history: History, slot: str, key: str, series: Series) -> None:
        if slot == "epoch":
            history.epochs = series
        elif slot in _SLOTS:
            setattr(history, slot, series)
        else:
            kind, canon = slot.split(":", 1)
            values, scaled = percent_to_fraction(canon, series.values)
            if scaled:
                history.notes.append(f"{key} looks like a percentage; read as a fraction")
            target = history.eval if kind == "eval" else history.train_metrics
            target[canon] = Series(series.steps, values)


def _lone_loss(raw: dict[str, Series], slots: dict[str, list[tuple[str, Series]]], history: History) -> None:
    """A run that logs one train-side loss under its own name and none under an aggregate's ('train/nll_loss' alone,
    or its _step and _epoch copies) trains on that loss: it fills the train-loss slot. Two or more (a GAN's generator and
    discriminator, a multi-term loss without its total) stay extras: which one, or what sum, is the objective is unknown."""
    if "train_loss" in slots:
        return
    named = {key: lone_loss_name(key) for key in raw}
    losses = {name for name in named.values() if name}
    if len(losses) != 1:
        return
    keys = [key for key, name in named.items() if name]
    for key in keys:
        history.extra.pop(classify(key)[1], None)
    slots["train_loss"] = [(key, raw[key]) for key in keys]
    history.notes.append(f"{keys[0]} is the only train-side loss logged: read as the train loss")


def _accuracy_like(name: str) -> bool:
    return any(part == "acc" or "accura" in part for part in name.split("_"))


def _drop_unset_accuracy(history: History, group: dict[str, Series]) -> None:
    """Accuracy values of exactly 0.0 that are not measurements: torchmetrics' ``compute()`` before any ``update()``
    returns 0.0 (with a warning), and Lightning logs it. Two shapes: a few 0.0 points in a series whose other values are
    positive (a row logged outside the epoch, e.g. at the test stage), and a column at 0.0 throughout beside another
    accuracy column of the same side that is not (a metric logged but never updated). A column at 0.0 with no such
    sibling is kept: a model whose held-out accuracy is exactly 0 (labels shifted against the inputs) is a finding."""
    names = [k for k in group if _accuracy_like(k)]
    live = [k for k in names if any(v != 0.0 for v in group[k].values)]
    for key in names:
        series = group[key]
        zeros = sum(1 for v in series.values if v == 0.0)
        if zeros == len(series) and live:
            history.extra[key] = group.pop(key)
            history.notes.append(f"{key} is 0.0 at all {zeros} logged points while {live[0]} is not: a metric never updated; ignored")
        elif 0 < zeros < len(series) / 2 and all(v > 0 for v in series.values if v != 0.0):
            kept = [(s, v) for s, v in zip(series.steps, series.values) if v != 0.0]
            group[key] = Series([s for s, _ in kept], [v for _, v in kept])
            history.notes.append(
                f"{key}: {zeros} value(s) of exactly 0.0 among positive ones read as a metric computed before any update; ignored"
            )


# The JSON documents parsed during one ``parse_once`` block, by path: the sniffers peek at a file and then its reader
# loads it, and a 3 MB trainer_state.json parsed twice cost 0.07 CPU s of the doctor's 0.3 s budget. Scoped to the block
# (a ContextVar reset on exit), so nothing stays cached after a read and a file edited between reads is read afresh.
_PARSED: ContextVar[dict[Path, Any] | None] = ContextVar("trainwell_doctor_parsed_json", default=None)


def parse_once() -> AbstractContextManager[None]:
    """Within the block each JSON log is parsed at most once; readers must not mutate what ``load_json`` returns."""
    return memo_scope(_PARSED)


def load_json(path: Path) -> Any:
    """JSON with the NaN/Infinity tokens HF and Keras write, within the log limits (config/documents.py):
    a truncated, malformed, oversized or too deeply nested file is a DataError saying which."""
    parsed = _PARSED.get()
    if parsed is not None and path in parsed:
        return parsed[path]
    value = read_document(path, DataError, LOG_LIMITS, fmt="json")
    if parsed is not None:
        parsed[path] = value
    return value


def peek_json(path: Path) -> Any:
    """``load_json`` for sniffers: None instead of an error."""
    # Sniffers must stay cheap and quiet: skip CSVs, event files and anything too big to be a log.
    if not path.is_file() or path.suffix.lower() == ".csv" or "tfevents" in path.name or path.stat().st_size > LOG_LIMITS.max_bytes:
        return None
    try:
        return load_json(path)
    except DataError:
        return None


def within_limit(path: Path) -> None:
    """A DataError when a text log (CSV, metrics.jsonl) is over the log size limit: its rows would all be held as
    numbers, and no training log a person reads is that big (the same 200 MiB limit as a JSON log's)."""
    size = path.stat().st_size
    if size > LOG_LIMITS.max_bytes:
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    f"must be at most {LOG_LIMITS.max_bytes:,} bytes to be read as a log",
                    f"{size:,} bytes",
                    "is this the right file?",
                )
            ]
        )


@dataclass
class Renames:
    """A CSV log's columns read under other names (``doctor --rename OLD=NEW``): a loss column the doctor does not
    recognise is named for it without editing the file. ``seen`` gathers the header names read, to tell a rename that
    matched no column."""

    names: dict[str, str]
    seen: set[str] = field(default_factory=set)


# The renames of one read_history call, scoped to it as _PARSED is (a ContextVar reset on exit): the CSV reader's sniff,
# its x-axis and refusal decisions and its rows all read the header through csv_header/csv_rows, so all see the same names.
_RENAMES: ContextVar[Renames | None] = ContextVar("trainwell_doctor_renames", default=None)


@contextmanager
def renamed(names: Mapping[str, str]) -> Iterator[Renames]:
    """Within the block a CSV log's column ``old`` is read as ``names[old]``."""
    scope = Renames(dict(names))
    token = _RENAMES.set(scope)
    try:
        yield scope
    finally:
        _RENAMES.reset(token)


def _header(row: list[str]) -> list[str]:
    columns = [column.strip() for column in row]
    scope = _RENAMES.get()
    if scope is None or not scope.names:
        return columns
    scope.seen.update(columns)
    return [scope.names.get(column, column) for column in columns]


def renaming() -> bool:
    """Whether the CSV being read had a column renamed: its header is then not as its logger wrote it."""
    scope = _RENAMES.get()
    return scope is not None and not scope.seen.isdisjoint(scope.names)


# Keras' CSVLogger(separator=...) and spreadsheets in comma-decimal locales write ';' or tabs between the columns.
_SEPARATORS = (",", ";", "\t")
_HEADER_PEEK = 65536  # characters of the first line read to choose the separator: far more than any header


def _separator(handle: TextIO) -> str:
    """The separator the header line uses most (',' on a tie or when it has none); the handle is rewound."""
    first = handle.readline(_HEADER_PEEK)
    handle.seek(0)
    return max(_SEPARATORS, key=first.count)


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV (a byte-order mark dropped, columns renamed), or [] when the file is not readable text;
    never raises."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _header(next(csv.reader(handle, delimiter=_separator(handle)), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def csv_rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a CSV log as {column: text}, blank cells left out, read one at a time. A file over the size limit,
    bytes that are not UTF-8, or a field longer than the csv module's limit (131,072 characters: no metric is; the
    limit is not raised, since it is the csv module's global state) is a DataError saying which."""
    within_limit(path)
    reader = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=_separator(handle))
            header = _header(next(reader, []))
            for row in reader:
                yield {column: cell for column, cell in zip(header, row) if column and cell.strip()}
    except (UnicodeDecodeError, csv.Error) as exc:
        if isinstance(exc, UnicodeDecodeError):  # decoded a block at a time: the line number would not be this byte's
            rule, value = "must be UTF-8 text", str(exc)
        else:
            rule, value = "must be a well-formed CSV", f"line {reader.line_num if reader else 1}: {exc}"
        raise DataError(problems=[Problem(str(path), rule, value, "check that this is the CSV the logger wrote")]) from None


def _natural(name: str) -> list[tuple[int, int, str]]:
    """'version_10' after 'version_9': digit runs compare as numbers (and before text, so any two names compare)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def newest_run(folders: list[Path], kind: str) -> tuple[Path, str | None]:
    """The highest-numbered of the run folders a logger made side by side (Lightning's version_0, version_1 ...) and,
    when there was more than one, a note saying which was read and how to read another."""
    ordered = sorted(set(folders), key=lambda f: _natural(f.name))
    if len(ordered) == 1:
        return ordered[0], None
    names = ", ".join(f.name for f in ordered)
    return (
        ordered[-1],
        f"{len(ordered)} {kind} in {ordered[-1].parent}: {names}; read {ordered[-1].name}, the highest-numbered (point at a folder to read another)",
    )


def positive(value: Any) -> float | None:
    """A config number (PyYAML leaves '2e-5' as a string) if finite and > 0, else None."""
    number = to_float(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def register(reader: Reader) -> Reader:
    return READERS.register(reader.name, reader, reader.help)
