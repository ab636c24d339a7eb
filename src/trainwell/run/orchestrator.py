"""``trainwell.train``: the Python API that mirrors ``trainwell train``.

result = train("config.yaml")                        # a built-in or user task from the config
result = train(model=net, train_data=ds, val_data=vs)  # your own model and datasets
result = train(resume="runs/digits-20250101-120000")   # continue a killed run exactly

One run, in order: load the config; set threads, determinism and seeds; build the task (its model
initialisation is part of the run); check the config against the task; make the run folder; run the
finders (a fresh run only: a resumed run's config.yaml already holds what they found); hand the live
doctor to the engine as a callback; write the findings and the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.config.io import load_config
from trainwell.config.schema import Config
from trainwell.errors import CheckpointError, ConfigError, Problem
from trainwell.run import features
from trainwell.runtime import restores_globals

if TYPE_CHECKING:
    import torch

    from trainwell.engine.api import RunResult
    from trainwell.engine.callbacks import Callback
    from trainwell.engine.resume import Change
    from trainwell.tasks.base import Task


@restores_globals  # threads, determinism, RNGs and environment are as they were when train returns
def train(
    config: Config | dict[str, Any] | str | Path | None = None,
    *,
    model: torch.nn.Module | None = None,
    train_data: Any = None,
    val_data: Any = None,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    callbacks: Iterable[Callback] = (),
    reasons: list[dict[str, Any]] | None = None,
) -> RunResult:
    """Train and return the run folder, summary, model (best weights when load_best_at_end) and history."""
    from trainwell.engine import api as engine
    from trainwell.engine.device import resolve_device
    from trainwell.engine.resume import init_weights
    from trainwell.engine.run_folder import new_run_dir, write_json

    cfg, changes = _config(config, resume, passed=model is not None)
    engine.prepare(cfg)
    task = _task(cfg, model, train_data, val_data)
    if cfg.init_from is not None and resume is None:  # a resumed run's weights come from its own checkpoint
        # config.yaml names the checkpoint folder itself: "the run's latest" would move if that run went on
        cfg = dataclasses.replace(cfg, init_from=init_weights(task.model, cfg.init_from))
    engine.check(cfg, task)  # a mistake found now leaves no half-made run folder behind
    label = type(model).__name__ if model is not None else None  # not the config's task: it was not trained
    path = Path(resume) if resume is not None else new_run_dir(cfg, run_dir, label)
    if resume is None:
        cfg = features.run_finders(cfg, task, resolve_device(cfg.training.device), path)
    features.write_reasons(path, reasons)
    doctor = features.live_doctor(cfg)
    result = engine.run(cfg, task, path, [*callbacks, *([doctor] if doctor else [])], resume=resume is not None, changes=changes)
    features.write_findings(path, doctor)
    note = features.write_report_if_asked(cfg, path)
    if note:
        result.summary["report_note"] = note
        write_json(path / "summary.json", result.summary)
    return result


def _config(
    config: Config | dict[str, Any] | str | Path | None, resume: str | Path | None, passed: bool = False
) -> tuple[Config, list[Change]]:
    """The config to train with and, on resume, what it changes against the run's saved config (a change
    that would break the checkpoint's meaning is refused: engine/resume.py). With a model ``passed`` to
    train(), config.task was not what trained, so the config names the task that says so (tasks/passed.py)."""
    if resume is None:
        return _passed(load_config(config), passed), []
    saved = Path(resume) / "config.yaml"
    if not saved.is_file():
        raise CheckpointError(
            problems=[
                Problem(
                    str(resume),
                    "a run folder to resume must hold config.yaml",
                    str(saved),
                    "pass the folder a previous `trainwell train` created",
                )
            ]
        )
    before = load_config(saved)
    if config is None:
        return _passed(before, passed), []
    from trainwell.engine.resume import resume_changes

    cfg = _passed(load_config(config), passed)
    return cfg, resume_changes(before, cfg, Path(resume))


def _passed(config: Config, passed: bool) -> Config:
    from trainwell.tasks.passed import PASSED

    return dataclasses.replace(config, task=PASSED) if passed else config


def _task(config: Config, model: torch.nn.Module | None, train_data: Any, val_data: Any) -> Task:
    from trainwell.tasks.base import Task, classification_metrics

    if model is None and train_data is None:
        from trainwell.tasks.catalog import build_task

        return build_task(config)
    if model is None or train_data is None:
        raise ConfigError(
            problems=[
                Problem(
                    "train()",
                    "model and train_data go together",
                    "model" if model is None else "train_data",
                    "pass both model= and train_data=, or neither to use config.task",
                )
            ]
        )
    return Task(name="custom", model=model, train_data=train_data, val_data=val_data, kind="classification", metrics=classification_metrics)
