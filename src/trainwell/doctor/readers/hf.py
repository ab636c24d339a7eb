"""Hugging Face ``trainer_state.json`` (also the copies under ``checkpoint-N/``): ``log_history`` holds
train records (loss, learning_rate, grad_norm), eval records (eval_*), and one closing summary. The same
records saved as a CSV (``pandas.DataFrame(trainer.state.log_history).to_csv(...)``, a common way to keep them:
one row per record, blank where a record has no such key) are read by the same loop, so they give the same findings."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trainwell.doctor.history import History
from trainwell.doctor.naming import classify
from trainwell.doctor.readers.base import Collector, Reader, csv_header, csv_rows, load_json, peek_json, positive, register
from trainwell.doctor.readers.hf_args import beside
from trainwell.errors import DataError, Problem

# Trainer-level keys in a log_history record that are not metrics.
_SKIP = ("step", "epoch")


def _state_file(path: Path) -> Path | None:
    """The trainer_state.json a path names: the file itself, or the one in a folder's latest checkpoint."""
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    if (path / "trainer_state.json").is_file():
        return path / "trainer_state.json"
    checkpoints = sorted(path.glob("checkpoint-*/trainer_state.json"), key=lambda p: _checkpoint_number(p.parent.name))
    return checkpoints[-1] if checkpoints else None


def _checkpoint_number(name: str) -> int:
    tail = name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def _log_history(data: Any) -> list[Any] | None:
    """The records: trainer_state's ``log_history``, or a file that is just that list (``json.dump(
    trainer.state.log_history, f)`` is a common way to save it): a list of objects, some with a ``step``."""
    if isinstance(data, dict):
        records = data.get("log_history")
        return records if isinstance(records, list) else None
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data) and any("step" in r for r in data):
        return data
    return None


# Keys only the Trainer writes into log_history (its speed and FLOP counters), and those of its train records.
_HF_MARKERS = frozenset(
    {"train_runtime", "total_flos", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "train_samples_per_second"}
)
_HF_TRAIN_KEYS = frozenset({"loss", "learning_rate", "grad_norm", "train_loss"})


def _hf_csv(path: Path) -> bool:
    """A CSV of log_history records: ``step`` and ``epoch`` columns and either a key only the Trainer writes, or the
    Trainer's train-record keys (loss and learning_rate) with nothing but HF keys beside them."""
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    header = set(csv_header(path))
    if not {"step", "epoch"} <= header:
        return False
    if header & _HF_MARKERS:
        return True
    others = header - _HF_TRAIN_KEYS - {"step", "epoch"}
    return {"loss", "learning_rate"} <= header and all(k.startswith("eval_") or classify(k)[0] == "ignore" for k in others)


def sniff(path: Path) -> bool:
    found = _state_file(path)
    if found is not None and _hf_csv(found):
        return True
    return _log_history(peek_json(found) if found else None) is not None


def read(path: Path) -> History:
    found = _state_file(path)
    if found is not None and _hf_csv(found):
        history = History(source="hf-log-history-csv", path=str(found))
        history.notes.append(
            "log_history records saved as CSV: no trainer state (max_steps, best checkpoint, callbacks) to read hints from"
        )
        _read_records(history, csv_rows(found))
        _configured(history, found)
        return history
    data = load_json(found) if found else None
    records = _log_history(data)
    if records is None:
        raise DataError(
            problems=[Problem(str(path), "must be a trainer_state.json with a log_history list, or that list alone", type(data).__name__)]
        )
    # The source says what was read: the Trainer's state, or its log_history list saved alone (fixes use HF names for both).
    history = History(source="hf-trainer-state" if isinstance(data, dict) else "hf-log-history", path=str(found))
    _read_records(history, records)
    if isinstance(data, dict):
        _hints(history, data)
        _configured(history, found)
    else:
        history.notes.append("a bare log_history list: no trainer state (max_steps, best checkpoint, callbacks) to read hints from")
    return history


def _read_records(history: History, records: Iterable[Any]) -> None:
    collector = Collector()
    for index, record in enumerate(records):
        if not isinstance(record, dict) or "train_runtime" in record:  # the closing summary averages the whole run
            continue
        step = positive(record.get("step")) or float(index + 1)
        collector.add_record(record, step, skip=_SKIP)
        collector.add("epoch", step, record.get("epoch"))
    collector.build(history)


def _hints(history: History, data: dict[str, Any]) -> None:
    hints = history.hints
    hints.planned_steps = positive(data.get("max_steps"))
    hints.epochs = positive(data.get("num_train_epochs"))
    # eval_steps is not read: HF records it even when evaluation runs per epoch; checks infer the cadence.
    for callback in _callbacks(data):
        args = callback.get("args", {}) if isinstance(callback, dict) else {}
        if "early_stopping_patience" in args:
            patience = positive(args["early_stopping_patience"])
            hints.patience = int(patience) if patience else None
            hints.load_best = True  # HF's EarlyStoppingCallback refuses to run without load_best_model_at_end
    _best_metric(history, data)
    if not history.eval_loss and history.eval:
        history.notes.append("no eval_loss in log_history: the first eval metric stands in for it where a check needs one")


def _configured(history: History, state_file: Path | None) -> None:
    """What the run's TrainingArguments (training_args.bin/.json beside the state) say: the configured LR and
    schedule (so a logged LR that is not the configured one is caught), clipping, weight decay and the
    best-checkpoint metric when the state's best_metric did not already name it."""
    found = beside(state_file) if state_file is not None else None
    if found is None:
        return
    from trainwell.optim.schedules import SCHEDULE_FROM_HF  # only when TrainingArguments are found: it costs imports

    args, where = found
    hints = history.hints
    hints.lr = positive(args.get("learning_rate"))
    schedule = args.get("lr_scheduler_type")
    hints.schedule = SCHEDULE_FROM_HF.get(schedule, schedule) if isinstance(schedule, str) else None
    warmup, ratio = positive(args.get("warmup_steps")), positive(args.get("warmup_ratio"))
    if warmup is not None and warmup < 1:  # transformers 5: a warmup_steps below 1 is a ratio
        warmup, ratio = None, warmup
    planned = hints.planned_steps or positive(args.get("max_steps"))
    hints.warmup_steps = warmup if warmup is not None else (ratio * planned if ratio and planned else 0.0)
    hints.max_grad_norm = positive(args.get("max_grad_norm"))
    hints.weight_decay = args.get("weight_decay") if isinstance(args.get("weight_decay"), (int, float)) else None
    if isinstance(args.get("load_best_model_at_end"), bool):
        hints.load_best = hints.load_best or args["load_best_model_at_end"]
    metric = args.get("metric_for_best_model")
    if hints.metric is None and isinstance(metric, str) and metric:
        _, name = classify(metric if metric.startswith("eval_") else f"eval_{metric}")
        if name in history.eval:
            better = args.get("greater_is_better")
            hints.metric = name
            hints.mode = ("max" if better else "min") if isinstance(better, bool) else _default_mode(name)
    history.notes.append(
        f"configured (from {where.name}): learning_rate {args.get('learning_rate')}, lr_scheduler_type {schedule}, "
        f"warmup {hints.warmup_steps:g} steps"
    )


def _best_metric(history: History, data: dict[str, Any]) -> None:
    """The metric the run selected its best checkpoint by (HF ``metric_for_best_model``).

    trainer_state.json does not name the metric, but it records ``best_metric`` and
    ``best_model_checkpoint``: the eval series whose value at that checkpoint's step equals
    ``best_metric`` is the one. Its mode follows from whether that value is the series' min or max so far (``_mode``).
    """
    best = positive(data.get("best_metric")) if not isinstance(data.get("best_metric"), bool) else None
    checkpoint = data.get("best_model_checkpoint")
    if best is None or not isinstance(checkpoint, str) or "checkpoint-" not in checkpoint:
        return
    step = positive(checkpoint.rsplit("checkpoint-", 1)[-1])
    if step is None:
        return
    for name, series in sorted(history.eval.items(), key=lambda item: "loss" in item[0]):
        pairs = [(s, v) for s, v in zip(series.steps, series.values) if s <= step]
        if not pairs or pairs[-1][0] != step or abs(pairs[-1][1] - best) > 1e-9 * max(1.0, abs(best)):
            continue
        values = [v for _, v in pairs]
        history.hints.metric = name
        history.hints.mode = _mode(name, best, values)
        history.notes.append(f"best checkpoint chosen by {name} ({history.hints.mode}): {checkpoint}")
        return


def _mode(name: str, best: float, values: list[float]) -> str:
    """Whether the best checkpoint's metric was minimised or maximised: the extreme of the evaluations so far that
    ``best_metric`` equals. Neither (the Trainer compares only the evaluations it saved a checkpoint at, so with
    save_steps a multiple of eval_steps the best checkpoint need not hold the best evaluation) leaves the Trainer's own
    default for ``greater_is_better``: False for a metric whose name ends in "loss", True otherwise."""
    if best <= min(values) and best < max(values):
        return "min"
    if best >= max(values) and best > min(values):
        return "max"
    return _default_mode(name)


def _default_mode(name: str) -> str:
    """TrainingArguments' default: greater_is_better = not metric_for_best_model.endswith("loss")."""
    return "min" if name.endswith("loss") else "max"


def _callbacks(data: dict[str, Any]) -> list[Any]:
    stateful = data.get("stateful_callbacks")
    if not isinstance(stateful, dict):
        return []
    entries = []
    for value in stateful.values():
        entries.extend(value if isinstance(value, list) else [value])
    return entries


READER = register(
    Reader(
        "hf",
        30,
        sniff,
        read,
        "Hugging Face trainer_state.json (file, output folder or checkpoint folder), or its log_history list saved alone",
    )
)
