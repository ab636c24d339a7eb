"""trainwell run folders (docs/ARCHITECTURE.md, "Run folder"): ``metrics.jsonl`` holds train and eval
events; ``config.yaml`` supplies what a log alone cannot say (classes, clip threshold, eval cadence,
patience, schedule), and ``summary.json`` why the run ended."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainwell.config.documents import read_document
from trainwell.doctor.history import History, RunHints
from trainwell.doctor.readers.base import Collector, Reader, load_json, positive, register, within_limit
from trainwell.errors import DataError, Problem
from trainwell.values import to_float

# Record keys that are bookkeeping, not series (``samples`` counts examples seen, ``time`` is wall time);
# the live doctor reads the engine's records with the same rule.
RECORD_SKIP = ("event", "step", "samples", "time")


def _run_dir(path: Path) -> Path | None:
    if path.is_dir() and (path / "metrics.jsonl").is_file():
        return path
    if path.is_file() and path.name == "metrics.jsonl":
        return path.parent
    return None


def sniff(path: Path) -> bool:
    return _run_dir(path) is not None


def read(path: Path) -> History:
    run = _run_dir(path)
    if run is None:
        raise DataError(problems=[Problem(str(path), "must be a trainwell run folder holding metrics.jsonl", str(path))])
    history = History(source="trainwell-run", path=str(run))
    collector = Collector()
    for number, record in metrics_records(run / "metrics.jsonl"):
        if record is None:
            history.notes.append(f"metrics.jsonl line {number} is not JSON: skipped")
            continue
        step = to_float(record.get("step"))
        if step is None:
            history.notes.append(f"metrics.jsonl line {number} has no step: skipped")
            continue
        collector.add_record(record, step, skip=RECORD_SKIP)
    collector.build(history)
    config = _yaml(run / "config.yaml", history)
    if config:
        history.hints = hints_from_config(config, history)
    _summary(run / "summary.json", history)
    return history


def metrics_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) for each non-blank line of a metrics.jsonl; the record is None where the line
    is not a JSON object (a run killed mid-write leaves a torn last line, a disk fault bytes that are not UTF-8).
    Read line by line, and a file over the log size limit is a DataError. The report reads the file with this too."""
    within_limit(path)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)  # bytes: json decodes UTF-8 itself and raises ValueError on anything else
            except ValueError:
                record = None
            yield number, record if isinstance(record, dict) else None


def _yaml(path: Path, history: History) -> dict[str, Any]:
    if not path.is_file():
        history.notes.append("no config.yaml: checks that need the config (classes, patience, clipping) use the log alone")
        return {}
    try:
        data = read_document(path, DataError)
    except DataError as exc:
        history.notes.append(f"config.yaml ignored: {exc.problems[0].rule}")
        return {}
    return data if isinstance(data, dict) else {}


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name)
    return value if isinstance(value, dict) else {}


def steps_per_epoch(history: History) -> float | None:
    """Optimizer steps per epoch, from any record that logged both (step / epoch)."""
    for step, epoch in zip(history.epochs.steps, history.epochs.values):
        if epoch > 0 and math.isfinite(epoch):
            return step / epoch
    return None


def hints_from_config(config: dict[str, Any], history: History) -> RunHints:
    """RunHints from a resolved trainwell config (a plain dict: the reader must not need torch)."""
    optimizer, schedule, training = _section(config, "optimizer"), _section(config, "schedule"), _section(config, "training")
    evaluation, early = _section(config, "evaluation"), _section(config, "early_stopping")
    checkpoint = _section(config, "checkpoint")
    spe = steps_per_epoch(history)
    epochs = positive(training.get("epochs"))
    planned = positive(training.get("max_steps")) or (epochs * spe if epochs and spe else None)
    warmup = positive(schedule.get("warmup"))
    if warmup is not None and warmup < 1 and planned:
        warmup *= planned
    every = positive(evaluation.get("every"))
    if evaluation.get("strategy") == "epoch" and every:
        every = every * spe if spe else None
    elif evaluation.get("strategy") == "no":
        every = None
    patience = positive(early.get("patience"))
    return RunHints(
        num_classes=_num_classes(config),
        max_grad_norm=positive(training.get("max_grad_norm")),
        lr=positive(optimizer.get("lr")),
        warmup_steps=warmup or (0.0 if "warmup" in schedule else None),
        schedule=str(schedule["name"]) if "name" in schedule else None,
        eval_every=every,
        patience=int(patience) if patience else None,
        planned_steps=planned,
        epochs=epochs,
        metric=str(evaluation["metric"]) if "metric" in evaluation else None,
        mode=str(evaluation["mode"]) if "mode" in evaluation else None,
        weight_decay=to_float(optimizer.get("weight_decay")),
        load_best=checkpoint["load_best_at_end"] if isinstance(checkpoint.get("load_best_at_end"), bool) else None,
        lora_r=_lora_rank(_section(config, "model")),
        lr_scaled=any(isinstance(g, dict) and to_float(g.get("lr_scale", 1.0)) != 1.0 for g in optimizer.get("param_groups") or []),
    )


def _lora_rank(model: dict[str, Any]) -> int | None:
    """The adapter's rank of a causal-lm LoRA run (16, the task's default, when the config leaves it out)."""
    if model.get("adapter") != "lora":
        return None
    rank = positive(model.get("lora_r", 16))
    return int(rank) if rank else None


def _num_classes(config: dict[str, Any]) -> int | None:
    """The class count of a built-in task; text-classification depends on its data file, so it is left unknown."""
    from trainwell.tasks.catalog import TASKS

    task = str(config.get("task", ""))
    if task not in TASKS or task == "text-classification":
        return None
    return TASKS.get(task).facts.num_classes


def _summary(path: Path, history: History) -> None:
    if not path.is_file():
        return
    summary = load_json(path)
    if isinstance(summary, dict) and summary.get("stop_reason"):
        history.notes.append(f"run ended: {summary.get('status', '?')} ({summary['stop_reason']})")


READER = register(Reader("trainwell", 10, sniff, read, "trainwell run folder (metrics.jsonl + config.yaml + summary.json)"))
