"""``trainwell.train``: the Python API that mirrors ``trainwell train``.

result = train("config.yaml")                        # a built-in or user task from the config
result = train(model=net, train_data=ds, val_data=vs)  # your own model and datasets
result = train(resume="runs/digits-20250101-120000")   # continue a killed run exactly
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainwell.config.io import load_config, validate
from trainwell.config.schema import Config
from trainwell.engine import hooks, rng
from trainwell.engine.callbacks import Callback
from trainwell.engine.device import apply_threads, resolve_device
from trainwell.engine.finish import summarize
from trainwell.engine.loop import Stop, Trainer
from trainwell.engine.run_folder import environment, new_run_dir, write_config, write_json
from trainwell.engine.setup import run_length
from trainwell.errors import CheckpointError, ConfigError, Problem, TrainingError, TrainingInterrupted
from trainwell.tasks.base import Task, classification_metrics


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    model: torch.nn.Module
    history: list[dict[str, Any]]


def _config(config: Config | dict[str, Any] | str | Path | None, resume: str | Path | None) -> Config:
    if config is None and resume is not None:
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
        return load_config(saved)
    return load_config(config)


def _task(config: Config, model: torch.nn.Module | None, train_data: Any, val_data: Any) -> Task:
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
    cfg = _config(config, resume)
    apply_threads(cfg.training)
    if cfg.training.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    rng.seed_everything(cfg.seed)  # the task's model initialisation is part of the run
    task = _task(cfg, model, train_data, val_data)
    # A mistake found now leaves no half-made run folder behind (setup checks again after the finders).
    ConfigError.collect(validate(cfg, run_length(cfg, len(task.train_data))[2]))  # type: ignore[arg-type]
    path = Path(resume) if resume is not None else new_run_dir(cfg, run_dir)
    if resume is None:
        cfg = hooks.run_finders(cfg, task, resolve_device(cfg.training.device), path)
    write_config(path, cfg)
    hooks.write_reasons(path, reasons)
    doctor = hooks.live_doctor(cfg)
    trainer = Trainer(cfg, task, path, [*callbacks, *([doctor] if doctor else [])], resume=resume is not None)
    write_json(
        path / "environment.json",
        environment(cfg, str(trainer.c.device), trainer.c.precision_choice.name, trainer.c.precision_choice.reason),
    )
    try:
        stop = trainer.fit()
    except TrainingError as exc:
        _close(trainer, summarize(trainer, Stop("failed", str(exc), save=False), status="failed"))
        raise
    except KeyboardInterrupt:
        hint = f"interrupted at step {trainer.state.step}; continue with: trainwell train --resume {path}"
        _close(trainer, summarize(trainer, Stop("interrupted", hint, save=False), status="interrupted"))
        raise
    if stop.status == "interrupted":  # a checkpoint at this step exists: stop as Ctrl-C asks, saying how to go on
        _close(trainer, summarize(trainer, stop, status="interrupted"))
        assert trainer.interrupt.signum is not None  # what made the loop stop with "interrupted"
        raise TrainingInterrupted(stop.reason, trainer.interrupt.signum, str(path), trainer.state.step)
    summary = summarize(trainer, stop)
    hooks.write_findings(path, doctor)
    _close(trainer, summary)
    note = hooks.write_report_if_asked(cfg, path)
    if note:
        summary["report_note"] = note
        write_json(path / "summary.json", summary)
    return RunResult(path, summary, trainer.c.model, trainer.state.history)


def _close(trainer: Trainer, summary: dict[str, Any]) -> None:
    trainer.log.close()
    write_json(trainer.run_dir / "summary.json", summary)
    trainer.callbacks.on_train_end(trainer.state, summary)
