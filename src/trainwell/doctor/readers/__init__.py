"""Log readers: each format registers a ``Reader`` (sniff + read) in ``READERS``; ``read_history``
tries them in priority order. Importing this package imports no torch and no tensorboard."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from trainwell.doctor.history import History
from trainwell.doctor.readers import hf, keras, lightning, tensorboard, trainwell_run
from trainwell.doctor.readers.base import READERS, Reader, Renames, csv_rows, load_json, parse_once, renamed
from trainwell.errors import DataError, Problem

__all__ = ["READERS", "Reader", "hf", "keras", "lightning", "read_history", "sniff_format", "tensorboard", "trainwell_run"]


def sniff_format(path: str | Path) -> Reader | None:
    """The first reader, by priority, that recognises ``path``."""
    p = Path(path)
    for _, reader in sorted(READERS.items(), key=lambda item: item[1].priority):
        if reader.sniff(p):
            return reader
    return None


def read_history(path: str | Path, rename: Mapping[str, str] | None = None) -> History:
    """Read any supported log into a History; an unknown file is a DataError listing the formats. ``rename`` reads a CSV
    log's column OLD as NEW (``{"cost": "loss"}``; ``doctor --rename``); one that names no column is a DataError."""
    p = Path(path)
    if not p.exists():
        raise DataError(problems=[Problem(str(p), "log file or folder must exist", str(p), "check the path")])
    # the sniffers and the reader share one parse of a JSON log, and read a CSV's header renamed
    with parse_once(), renamed(rename or {}) as renames:
        reader = sniff_format(p)
        if reader is None and p.is_file() and p.suffix.lower() == ".json":
            load_json(p)  # a JSON log no reader recognises may be truncated or malformed: say that, not "unsupported"
        if reader is None and p.is_file() and p.suffix.lower() == ".csv":
            next(csv_rows(p), None)  # likewise a CSV that is too big, not UTF-8 text or not well-formed
        if reader is None:
            formats = "; ".join(READERS.describe(name) for name in READERS.names())
            raise DataError(problems=[Problem(str(p), "must be a supported training log", p.name, f"supported: {formats}")])
        try:
            history = reader.read(p)
        except DataError as exc:  # a CSV refused for want of a loss column, with the rename that missed it first
            raise DataError(problems=[*_unmatched(p, reader, renames), *exc.problems]) from None
    unmatched = _unmatched(p, reader, renames)
    if unmatched:
        raise DataError(problems=unmatched)
    if not any(len(series) for series in [*history.all_series().values(), *history.extra.values()]):
        # A header-only CSV or a run killed before its first log: "nothing to fix" would be a claim about no data.
        raise DataError(
            problems=[
                Problem(
                    str(p),
                    "must hold at least one logged value",
                    f"a {reader.name} log with no rows",
                    "point the doctor at a log written after training started",
                )
            ]
        )
    return history


def _unmatched(path: Path, reader: Reader, renames: Renames) -> list[Problem]:
    """A problem for each rename that named no column of the CSV read (a typo would leave the column unread, silently)."""
    columns = ", ".join(sorted(renames.seen))
    fix = f"its columns: {columns}" if columns else f"this is a {reader.name} log: --rename reads a CSV log's columns only"
    return [
        Problem(str(path), "a renamed column must be one of the log's CSV columns", f"{old}={new}", fix)
        for old, new in renames.names.items()
        if old not in renames.seen
    ]
