"""A cheap, deterministic objective with the shape of a real one, for contract tests and demos.

It searches the guides' default space for AdamW from scratch; the "validation loss" is a bowl in
log10(LR) (best near 3e-3) plus smaller effects of weight decay, warmup, schedule and dropout, so the
priority order matters the way guide 001 says it does. It reports ``evals`` intermediate values (for
pruners), can sleep between them (to let tests kill a worker mid-trial), and appends one line per
evaluation to ``payload['log']`` (so tests can check that no trial ran twice).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

from trainwell.tune.space import default_params
from trainwell.tune.spec import SearchSpace
from trainwell.tune.strategies import TuneContext, suggest

START = {"lr": 1e-4, "weight_decay": 0.01, "warmup": 0.1, "schedule": "cosine", "max_grad_norm": 1.0, "dropout": 0.1}


def loss(params: dict[str, Any]) -> float:
    """The synthetic final validation loss (lower is better); minimum about 0.20."""
    lr_term = (math.log10(params["lr"]) - math.log10(3e-3)) ** 2
    wd_term = 0.02 * (math.log10(params["weight_decay"]) + 3.0) ** 2
    warm_term = 0.3 * (params["warmup"] - 0.06) ** 2
    sched_term = {"cosine": 0.0, "linear": 0.01, "one_cycle": 0.02, "constant_with_warmup": 0.05}.get(params["schedule"], 0.05)
    drop_term = 0.2 * (params["dropout"] - 0.2) ** 2
    return 0.2 + 0.5 * lr_term + wd_term + warm_term + sched_term + drop_term


def synthetic(payload: dict[str, Any]) -> tuple[Any, TuneContext]:
    """Objective factory (see ``runner.load_factory``) for the synthetic problem."""
    space = SearchSpace(tuple(default_params("adam", "scratch", "adamw", has_dropout=True)))
    ctx = TuneContext(space, dict(START), maximize=False, budget=int(payload.get("budget", 20)))
    evals, sleep, log = int(payload.get("evals", 4)), float(payload.get("sleep", 0.0)), payload.get("log")
    interrupt_at = payload.get("interrupt_at")  # a trial number at which to simulate Ctrl-C

    def objective(trial: Any) -> float:
        import optuna

        params = suggest(trial, space)
        if trial.number == interrupt_at:
            raise KeyboardInterrupt
        final = loss(params)
        for step in range(1, evals + 1):
            value = final + 1.0 / step - 1.0 / evals  # converges to the final loss
            if log:
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"trial": trial.number, "step": step, "pid": os.getpid(), "params": params}) + "\n")
            if sleep:
                time.sleep(sleep)
            trial.report(value, step)
            if trial.should_prune():
                trial.set_user_attr("cost", step / evals)
                raise optuna.TrialPruned(f"pruned at evaluation {step}")
        trial.set_user_attr("cost", 1.0)
        return final

    return objective, ctx
