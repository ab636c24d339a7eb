"""CSV logs: Lightning ``CSVLogger``'s ``metrics.csv`` (a file, a version folder, or the folder of its versions),
Keras' ``CSVLogger`` file, and hand-written CSVs with an epoch, step or other row-index column.

Lightning's rows are sparse: each ``self.log`` call fills its own columns at its own step, so a validation
row and a train row of one step are two rows. Keras writes one row per epoch, counted from 0. A hand-written
log may count its epochs from 1, log several rows per epoch (per batch), or number its rows by RL episode or
self-play round. The shape fixes the x axis, and the columns' names fix what each series is (naming.py); a
CSV none of whose columns names a loss or a held-out metric is refused with the columns it holds, not guessed at.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from trainwell.config.documents import read_document
from trainwell.doctor.history import History
from trainwell.doctor.naming import INDEX_NAMES, classify
from trainwell.doctor.readers.base import Collector, Reader, csv_header, csv_rows, newest_run, positive, register, renaming
from trainwell.errors import DataError, Problem
from trainwell.values import to_float


def _csv_file(path: Path) -> tuple[Path | None, str | None]:
    """The CSV a path names and, for a folder of Lightning versions, a note saying which version was read."""
    if path.is_file() and path.suffix.lower() == ".csv":
        return path, None
    if not path.is_dir():
        return None, None
    if (path / "metrics.csv").is_file():
        return path / "metrics.csv", None
    versions = [found.parent for found in path.glob("*/metrics.csv")]
    if not versions:
        return None, None
    chosen, note = newest_run(versions, "CSVLogger versions")
    return chosen / "metrics.csv", note


def _x_columns(header: list[str]) -> tuple[str | None, str | None, str | None]:
    """(step, epoch, row-index) columns: the optimizer step, the epoch, an episode/round counter."""
    classified = [(column, *classify(column)) for column in header]
    step = next((c for c, kind, canon in classified if kind == "step" and canon == "step"), None)
    epoch = next((c for c, kind, _ in classified if kind == "epoch"), None)
    index = next(
        (c for c, kind, canon in classified if kind == "step" and canon in INDEX_NAMES and canon not in ("batch", "batch_idx")), None
    )
    return step, epoch, index


def sniff(path: Path) -> bool:
    found, _ = _csv_file(path)
    if found is None or (path.is_dir() and (path / "metrics.jsonl").is_file()):  # a trainwell run folder
        return False
    header = csv_header(found)
    kinds = {classify(column)[0] for column in header}
    return (any(_x_columns(header)) or _names_a_loss(header)) and len(kinds - {"ignore", "step", "epoch"}) >= 1


def _names_a_loss(header: list[str]) -> bool:
    """Whether a CSV names its loss (of any kind) or a held-out metric. Enough to read a file with no step, epoch or
    episode column: ``pd.DataFrame(history.history).to_csv(...)``, the usual way a Keras history reaches disk, writes
    only the metrics (and pandas' unnamed index)."""
    return any(kind in ("train_loss", "eval") or "loss" in canon for kind, canon in map(classify, header))


def _source(found: Path, header: list[str], step: str | None) -> str:
    """Which logger wrote the file, for fixes in its own terms: Lightning's CSVLogger writes a ``step`` column into a
    file named metrics.csv (a copy may carry a prefix); Keras' writes ``epoch`` first and its metric names sorted,
    ``loss`` among them, and no step; ``pd.DataFrame(history.history).to_csv()`` writes a Keras History's own keys
    (``_keras_history_columns``). Any other CSV (a hand-written loop's, a spreadsheet export, one read with renamed
    columns: ``doctor --rename``, whose header is not as a logger wrote it) is "csv"."""
    if step == "step" and found.name.endswith("metrics.csv"):
        return "lightning-csv"
    if renaming():
        return "csv"
    if step is None and header[:1] == ["epoch"] and "loss" in header and header[1:] == sorted(header[1:]):
        return "keras-csv"
    if step is None and _keras_history_columns(header):
        return "keras-csv"
    return "csv"


def _keras_history_columns(header: list[str]) -> bool:
    """Whether the metric columns are a Keras History's keys: its objective ``loss``, metrics under Keras' own names
    (no ``train_`` prefix), each ``val_<name>`` beside its ``<name>``, and the LR a scheduler callback adds; pandas'
    index column and an ``epoch`` column aside (a file with a batch or episode counter is a hand-written loop's)."""
    if any(classify(c)[0] == "step" for c in header):
        return False
    metrics = [c for c in header if c and classify(c)[0] not in ("epoch", "ignore")]
    return (
        "loss" in metrics
        and not any(c.startswith("train_") for c in metrics)
        and all(c.removeprefix("val_") in metrics for c in metrics if c.startswith("val_"))
    )


def read(path: Path) -> History:
    found, note = _csv_file(path)
    header = csv_header(found) if found else []
    if found is None or not header:
        raise DataError(problems=[Problem(str(path), "must be a CSV file with a header row", str(path), "point at metrics.csv")])
    step_column, epoch_column, index_column = _x_columns(header)
    history = History(source=_source(found, header, step_column), path=str(found))
    _refuse_unnamed(history, header, found)
    if note:
        history.notes.append(note)
    collector = Collector()
    # x is the step where there is one; otherwise the row number for now, mapped onto the epoch (or episode) below once
    # it is known that each row is one epoch.
    row_epochs: list[float | None] = []
    for index, row in enumerate(csv_rows(found), start=1):
        step = to_float(row[step_column]) if step_column and step_column in row else None
        x = step if step is not None else float(index)
        if not step_column:
            by = epoch_column or index_column
            # No x column at all: each row is one epoch, in order (the row number from 0, as Keras counts).
            row_epochs.append((to_float(row[by]) if by in row else None) if by else float(index - 1))
        collector.add_record(row, x, skip=(step_column,) if step_column else ())  # csv_rows drops unnamed columns
    if not step_column:
        _index_by_epoch(history, collector, row_epochs, epoch_column or index_column)
    collector.build(history)
    _hparams(found.parent / "hparams.yaml", history)
    return history


def _index_by_epoch(history: History, collector: Collector, row_epochs: list[float | None], column: str | None) -> None:
    """With no step column, one row per epoch (or episode) puts x on that count, from 1 (Keras and Lightning count epochs
    from 0, hand-written loops often from 1: x is always epochs completed). Several rows of one epoch (a per-batch log)
    or rows without one keep x on the row number, in the step unit."""
    known = [e for e in row_epochs if e is not None]
    every_row, one_row_each = len(known) == len(row_epochs), len(set(known)) == len(known)
    if every_row and not one_row_each and _accumulates(collector, known):
        _last_row_per_epoch(history, collector, known, column)
        return
    if not (every_row and one_row_each):
        history.notes.append(f"no step column and several rows per {column or 'epoch'}: x is the row number")
        return
    offset = 1.0 if min(known, default=1.0) == 0 else 0.0
    by_row = {float(row): epoch + offset for row, epoch in enumerate(known, start=1)}
    for series in collector.raw.values():
        series.steps = [by_row[s] for s in series.steps]
    history.x_unit = "epoch"
    if column is None:
        history.notes.append("no step, epoch or episode column: each row is read as one epoch, in file order")
    elif classify(column)[0] == "epoch":
        history.notes.append("no step column: x is the epoch")
    else:
        history.notes.append(f"no step or epoch column: x is the '{column}' column, one row each, read as epochs")


def _epoch_runs(epochs: list[float]) -> list[range]:
    """The row ranges (0-based) of consecutive rows sharing one epoch."""
    runs, start = [], 0
    for i in range(1, len(epochs) + 1):
        if i == len(epochs) or epochs[i] != epochs[start]:
            runs.append(range(start, i))
            start = i
    return runs


def _accumulates(collector: Collector, epochs: list[float]) -> bool:
    """Whether a per-batch log's train loss is a running total reset every epoch (``running_loss += loss.item() /
    len(loader)`` printed each batch): never falling within any epoch and falling back at each new one. Read row by
    row, such a column climbs through every epoch and looks like a loss exploding; its last row per epoch is the
    epoch's mean loss. Every row of every epoch must agree (at least 2 epochs, 3 rows each), so a real per-batch loss,
    which is noisy, never qualifies."""
    runs = _epoch_runs(epochs)
    if len(runs) < 2 or min(len(r) for r in runs) < 3:
        return False
    for key, series in collector.raw.items():
        if classify(key)[0] != "train_loss" or len(series.values) != len(epochs):
            continue
        v = series.values
        rising = all(v[i] <= v[i + 1] for r in runs for i in r[:-1])
        resets = all(v[b.start] < v[a.stop - 1] for a, b in pairwise(runs))
        if rising and resets and v[runs[0].stop - 1] > v[runs[0].start]:
            return True
    return False


def _last_row_per_epoch(history: History, collector: Collector, epochs: list[float], column: str | None) -> None:
    """Keep each epoch's last row (a running total or running mean at the epoch's end), x on epochs completed."""
    runs = _epoch_runs(epochs)
    offset = 1.0 if min(epochs) == 0 else 0.0
    last_rows = {float(r.stop): epochs[r.start] + offset for r in runs}  # x of a row is its 1-based row number
    for series in collector.raw.values():
        kept = [(last_rows[x], y) for x, y in zip(series.steps, series.values) if x in last_rows]
        series.steps, series.values = [x for x, _ in kept], [y for _, y in kept]
    history.x_unit = "epoch"
    history.notes.append(
        f"the train loss accumulates within each {column or 'epoch'} (a running total reset every {column or 'epoch'}): "
        f"each {column or 'epoch'}'s last row is read"
    )


# How the refusal describes what each column was read as.
_ROLES = {
    "step": "a row index",
    "epoch": "the epoch",
    "train_metric": "a train-side metric, better higher or lower unknown",
    "extra": "kept aside",
    "ignore": "bookkeeping",
    "lr": "the learning rate",
    "grad_norm": "the gradient norm",
}


def _refuse_unnamed(history: History, header: list[str], found: Path) -> None:
    """A CSV that is not a known logger's and names no loss (of any kind: a GAN's 'Gen Loss' counts) and no held-out
    metric is refused: a column such as 'Env_1_Reward' could be a score to maximise or a cost, and the doctor does not
    guess; reading it would end in "nothing to fix" about a log it could not interpret."""
    if history.source != "csv" or _names_a_loss(header):
        return
    kinds = [classify(column)[0] for column in header]
    columns = ", ".join(f"{column} ({_ROLES.get(kind, kind)})" for column, kind in zip(header, kinds))
    raise DataError(
        problems=[
            Problem(
                str(found),
                "must name its loss or a held-out metric so the doctor can tell what each column is",
                columns,
                f"name them for the doctor without editing the file, `trainwell doctor {found} --rename COLUMN=NAME` "
                "(repeatable): the training objective 'loss' or 'train_loss', held-out metrics 'val_<name>' (val_loss, "
                "val_accuracy), the row index 'epoch' or 'step'; or rename the header",
            )
        ]
    )


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


READER = register(
    Reader(
        "lightning",
        40,
        sniff,
        read,
        "CSV logs: Lightning CSVLogger metrics.csv (file, version folder or the folder of its versions), Keras CSVLogger files, "
        "hand-written CSVs with an epoch, step, episode or round column",
    )
)
