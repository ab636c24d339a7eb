"""The objective that trains one trial with the engine, and the pruning callback it hands the engine.

Each trial writes its own run folder (``RUN_DIR/trials/trial-NNNN``) through ``trainwell.run.train``.
After every evaluation the callback reports the monitored metric to Optuna; when Optuna's pruner says
stop, the callback returns a stop reason (the engine ends the run cleanly) and the objective raises
``optuna.TrialPruned``. A trial's ``cost`` is the share of its planned steps it used, so a trial pruned
at a quarter of its run costs a quarter of a full training.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trainwell.engine.callbacks import Callback
from trainwell.errors import TrainingError
from trainwell.tune.space import apply_params, build_space, current_values
from trainwell.tune.spec import SearchSpace
from trainwell.tune.strategies import TuneContext, suggest


class PruneOnEvaluate(Callback):
    """Reports each evaluation's ``metric`` to an Optuna trial and stops the run when it should prune."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None
        self.evaluations = 0

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> str | None:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return None  # a missing or non-finite metric is the doctor's and NaN policy's business
        # Report by evaluation index, not optimizer step: trials with other batch sizes then line up.
        self.evaluations += 1
        step = self.evaluations
        self.trial.report(float(value), step)
        if self.trial.should_prune():
            self.pruned_at = step
            return f"pruned by Optuna at evaluation {step} (step {getattr(state, 'step', '?')}): {self.metric}={float(value):.4g} is behind earlier trials"
        return None


def trial_config(config: Any, space: SearchSpace, params: dict[str, Any]) -> Any:
    """The config a trial trains with: the parameters written in, no per-trial report or progress bar."""
    from trainwell.config.resolved import replace_paths

    return replace_paths(apply_params(config, space, params), {"report": False, "logging.progress": "off"})


def engine_setup(payload: dict[str, Any]) -> tuple[Any, TuneContext]:
    """Objective factory (see ``runner.load_factory``): payload holds ``config`` (a dict), ``run_dir`` and
    ``budget``."""
    from trainwell.config import load_config

    config = load_config(payload["config"])
    space = build_space(config)
    ctx = TuneContext(space, current_values(space, config), config.evaluation.mode == "max", int(payload["budget"]), seed=config.seed)
    trials_dir = Path(payload["run_dir"]) / "trials"

    def objective(trial: Any) -> float:
        import optuna

        from trainwell.run import train

        params = suggest(trial, space)
        cfg = trial_config(config, space, params)
        pruning = PruneOnEvaluate(trial, cfg.evaluation.metric)
        run_dir = trials_dir / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        result = train(cfg, run_dir=run_dir, callbacks=[pruning])
        summary = result.summary
        used = summary.get("steps", 0) / max(1, summary.get("total_steps") or 1)
        trial.set_user_attr("epochs", float(summary.get("epochs") or 0.0))
        trial.set_user_attr("cost", min(1.0, used) if pruning.pruned_at is not None else 1.0)
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(summary.get("stop_reason") or "pruned")
        value = summary.get("best_metric")
        if value is None or not math.isfinite(float(value)):
            raise TrainingError(f"trial {trial.number} ended without a finite {cfg.evaluation.metric} ({summary.get('stop_reason')})")
        return float(value)

    return objective, ctx
