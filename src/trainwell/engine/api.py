"""The engine's entry point for one run over a resolved config (``trainwell.config.resolved``: every value a
number, validated once with the run's length) and a built task: ``prepare`` the process, then ``run`` the
loop into a run folder. The orchestrator above it (``trainwell.run``) resolves the config, runs the
finders and hands the live doctor in as a callback; the engine knows nothing of them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainwell import runtime
from trainwell.config.resolved import ResolvedConfig
from trainwell.config.schema import Config
from trainwell.engine import distributed, rng
from trainwell.engine.callbacks import Callback
from trainwell.engine.finish import summarize
from trainwell.engine.loop import Stop, Trainer
from trainwell.engine.resume import Change
from trainwell.engine.run_folder import environment, write_config, write_json
from trainwell.errors import TrainingError, TrainingInterrupted
from trainwell.tasks.base import Task
from trainwell.tasks.catalog import with_model_options


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    model: torch.nn.Module
    history: list[dict[str, Any]]


def prepare(config: Config, seed: bool = True) -> None:
    """Threads, deterministic kernels and (with ``seed``) seeds, before the task is built: the task's model
    initialisation is part of the run, so it draws from the run's seed. The caller restores them
    (``trainwell.train`` runs inside ``trainwell.runtime.preserved``)."""
    runtime.apply(config.training.threads, config.training.deterministic)
    if seed:
        rng.seed_everything(config.seed)


def run(
    resolved: ResolvedConfig,
    task: Task,
    run_dir: Path,
    callbacks: Iterable[Callback] = (),
    resume: bool = False,
    changes: Sequence[Change] = (),
) -> RunResult:
    """Train ``task`` with ``resolved`` into ``run_dir`` (continuing its latest checkpoint with ``resume``,
    applying and recording ``changes``: engine/resume.py) and return the run folder, summary, model (best
    weights when load_best_at_end) and history."""
    config = resolved.config
    main = distributed.world().main  # under torchrun rank 0 alone writes the run folder
    if main:
        # a built-in task builds its model from its option defaults under the config's `model:` section: record
        # them all, so config.yaml describes the model that was trained (not only the options someone set)
        write_config(run_dir, with_model_options(config))
    trainer = Trainer(resolved, task, run_dir, callbacks, resume=resume, changes=changes)
    c = trainer.c
    if main:
        env = environment(config, str(c.device), c.precision_choice.name, c.precision_choice.reason)
        write_json(run_dir / "environment.json", {**env, "processes": trainer.world.size})
    try:
        stop = trainer.fit()
        if trainer.world.size > 1:
            distributed.barrier()  # rank 0's last checkpoint is on disk before any rank loads the best one
    except TrainingError as exc:
        _close(trainer, summarize(trainer, Stop("failed", str(exc), save=False), status="failed"))
        raise
    except KeyboardInterrupt:
        hint = f"interrupted at step {trainer.state.step}; continue with: trainwell train --resume {run_dir}"
        _close(trainer, summarize(trainer, Stop("interrupted", hint, save=False), status="interrupted"))
        raise
    except Exception:  # e.g. a full disk mid-checkpoint: release the run folder's open files before the error goes up
        trainer.log.close()
        raise
    if stop.status == "interrupted":  # a checkpoint at this step exists: stop as Ctrl-C asks, saying how to go on
        _close(trainer, summarize(trainer, stop, status="interrupted"))
        # what made the loop stop with "interrupted" (under torchrun it may have reached another rank only)
        signum = trainer.interrupt.signum if trainer.interrupt.signum is not None else int(signal.SIGTERM)
        raise TrainingInterrupted(stop.reason, signum, str(run_dir), trainer.state.step)
    summary = summarize(trainer, stop)
    if task.save_final is not None and main:  # the trained model in its library's format (e.g. a peft adapter folder)
        summary["saved"] = task.save_final(trainer.c.model, run_dir)
    _close(trainer, summary)
    return RunResult(run_dir, summary, trainer.c.model, trainer.state.history)


def _close(trainer: Trainer, summary: dict[str, Any]) -> None:
    trainer.log.close()
    if trainer.world.main:
        write_json(trainer.run_dir / "summary.json", summary)
    trainer.callbacks.on_train_end(trainer.state, summary)
