"""Search strategies: which Optuna sampler proposes trials, and which trials are enqueued first.

* ``staged`` (default): the priority-order plan of ``staged.plan_next``, fed to Optuna one
  ``enqueue_trial`` at a time; when the plan is finished, Optuna's TPE continues from every result.
* ``tpe``: Optuna's TPESampler, with the starting config enqueued as trial 0.
* ``tpe-plain``: Optuna's TPESampler alone (the usual Optuna baseline).
* ``random``: Optuna's RandomSampler, with the starting config as trial 0.

A strategy's ``prepare`` runs inside the workers' claim lock just before ``study.ask()``, so it sees the
same trials every worker sees. It returns False when the next decision waits on a running trial.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainwell.registry import Registry
from trainwell.tune.spec import SearchSpace
from trainwell.tune.staged import WAIT, Observation, Proposal, State, plan_next


@dataclass
class TuneContext:
    """What every strategy and objective of one study share."""

    space: SearchSpace
    start: dict[str, Any]
    maximize: bool
    budget: int  # trials the plan may use (a staged plan splits it into stage shares)
    anchor_lr: float | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def observations(trials: Sequence[Any]) -> list[Observation]:
    """Optuna trials as the staged planner sees them (waiting trials will run, so they count as running)."""
    from optuna.trial import TrialState

    states: dict[Any, State] = {
        TrialState.COMPLETE: "complete",
        TrialState.PRUNED: "pruned",
        TrialState.RUNNING: "running",
        TrialState.WAITING: "running",
        TrialState.FAIL: "failed",
    }
    return [
        Observation(
            t.number, {**t.system_attrs.get("fixed_params", {}), **t.params}, t.value, states[t.state], str(t.user_attrs.get("tag", ""))
        )
        for t in trials
        if t.state in states and not t.user_attrs.get("interrupted")  # an interrupted trial is to be run again
    ]


def tpe_sampler(ctx: TuneContext, seed: int | None) -> Any:
    import optuna

    # Optuna's default of 10 random start-up trials would make a 10-trial budget pure random search;
    # a third of the budget (3..10) keeps TPE's model in play at small budgets.
    startup = min(10, max(3, ctx.budget // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def _has_waiting(trials: Sequence[Any]) -> bool:
    from optuna.trial import TrialState

    return any(t.state == TrialState.WAITING for t in trials)


def _enqueue_start(study: Any, trials: Sequence[Any], ctx: TuneContext) -> bool:
    if not trials:
        study.enqueue_trial(ctx.start, user_attrs={"tag": "start", "why": "the starting config, as given or recommended"})
    return True


@dataclass(frozen=True)
class Strategy:
    name: str
    sampler: Callable[[TuneContext, int | None], Any]
    prepare: Callable[[Any, Sequence[Any], TuneContext], bool]
    help: str


def _staged_prepare(study: Any, trials: Sequence[Any], ctx: TuneContext) -> bool:
    if _has_waiting(trials):  # a retried trial is queued: run it first
        return True
    step = plan_next(ctx.space, ctx.start, observations(trials), ctx.budget, ctx.maximize, ctx.anchor_lr)
    if step == WAIT:
        return False
    if isinstance(step, Proposal):
        study.enqueue_trial(step.params, user_attrs={"tag": step.tag, "why": step.why})
    return True  # None: the plan is finished; the sampler (TPE) proposes the rest


def _random_sampler(ctx: TuneContext, seed: int | None) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


STRATEGIES: Registry[Strategy] = Registry("tune strategy")
for strategy in (
    Strategy(
        "staged",
        tpe_sampler,
        _staged_prepare,
        "guide 001's priority order: LR, weight decay, warmup/schedule, clipping/dropout, LR re-check",
    ),
    Strategy("tpe", tpe_sampler, _enqueue_start, "Optuna's TPE with the starting config as trial 0"),
    Strategy("tpe-plain", tpe_sampler, lambda study, trials, ctx: True, "Optuna's TPE alone (baseline)"),
    Strategy("random", _random_sampler, _enqueue_start, "Optuna's random search with the starting config as trial 0"),
):
    STRATEGIES.register(strategy.name, strategy, strategy.help)


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Ask the trial for every parameter of the space (enqueued values come back as they are)."""
    params: dict[str, Any] = {}
    for p in space.params:
        if p.kind == "categorical":
            params[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            params[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)  # type: ignore[arg-type]
        else:
            params[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), log=p.log)  # type: ignore[arg-type]
    return params
