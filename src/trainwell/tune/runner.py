"""The worker loop: claim a trial, run it with a heartbeat, report it; many workers share one study.

A worker repeats: under the claim lock, fail the trials of dead workers (their copies are re-queued),
count what is finished and running against the target, let the strategy enqueue its next point, and
``study.ask()``; then, outside the lock, run the objective while Optuna's heartbeat thread beats, and
``study.tell()`` the result. Because counting and asking happen under one lock, K workers finish with
exactly the target number of trials. A worker whose count is reached while another worker's trial still
runs waits for it (it may die and need a retry) instead of leaving.

``--workers K`` spawns K processes (``multiprocessing`` spawn context), each opening the storage itself;
the same command on another machine, pointed at the same storage, joins the study.
"""

from __future__ import annotations

import contextlib
import importlib
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainwell.compat import heartbeat, heartbeat_enabled
from trainwell.errors import TrainingError, TrainwellError
from trainwell.registry import Registry
from trainwell.tune.storage import Heartbeat, claim_lock, fail_stale, open_storage
from trainwell.tune.strategies import STRATEGIES, TuneContext

Objective = Callable[[Any], float]
Status = Literal["done", "wait", "go"]

PRUNERS: Registry[Callable[[], Any]] = Registry("pruner")


def _median() -> Any:
    import optuna

    # Steps are evaluation indices. Prune below the median only after 3 finished trials and from the third
    # evaluation on: the first evaluations are noisy and favour short warmups and fast-decaying schedules.
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)


def _halving() -> Any:
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner()


def _none() -> Any:
    import optuna

    return optuna.pruners.NopPruner()


PRUNERS.register("median", _median, "Optuna's MedianPruner: stop a trial below the median of earlier trials at the same step")
PRUNERS.register("halving", _halving, "Optuna's SuccessiveHalvingPruner (asynchronous successive halving)")
PRUNERS.register("none", _none, "never prune")


@dataclass(frozen=True)
class Target:
    """When the study is done: ``trials`` finished trials, or ``trainings`` full-training equivalents
    (each trial costs its ``cost`` user attribute: epochs used / epochs planned; 1 when absent)."""

    trials: int | None = None
    trainings: float | None = None

    def status(self, trials: Sequence[Any], can_wait: bool = True) -> Status:
        from optuna.trial import TrialState

        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        if self.trials is not None:
            done, taken = len(finished) >= self.trials, len(finished) + running >= self.trials
        else:
            spent = sum(float(t.user_attrs.get("cost", 1.0)) for t in finished)
            done, taken = spent >= (self.trainings or 0.0) - 1e-9, spent + running >= (self.trainings or 0.0) - 1e-9
        if done:
            return "done"
        if taken:
            # Without heartbeats a dead worker's trial would stay RUNNING forever: do not wait for it.
            return "wait" if can_wait else "done"
        return "go"


@dataclass
class Worker:
    """One worker's view of the study: the Optuna objects, its objective, strategy and lock."""

    study: Any
    storage: Any
    objective: Objective
    ctx: TuneContext
    strategy: str
    target: Target
    lock: Callable[[], contextlib.AbstractContextManager[None]] | None = None  # a fresh lock context per claim
    poll: float = 0.5
    max_failures: int = 5
    on_trial: Callable[[Any, Any], None] | None = None
    failures: int = field(default=0)

    def claim(self) -> tuple[Status, Any]:
        """Under the lock: (status, trial or None)."""
        with self.lock() if self.lock is not None else contextlib.nullcontext():
            fail_stale(self.study)
            trials = self.study.get_trials(deepcopy=False)
            status = self.target.status(trials, can_wait=heartbeat_enabled(self.storage))
            if status != "go":
                return status, None
            if not STRATEGIES.get(self.strategy).prepare(self.study, trials, self.ctx):
                return "wait", None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with Study.optimize": run_trial beats
                return "go", self.study.ask()

    def run(self) -> None:
        while True:
            status, trial = self.claim()
            if status == "done":
                return
            if trial is None:
                time.sleep(self.poll)
                continue
            self.run_trial(trial)

    def run_trial(self, trial: Any) -> None:
        import optuna
        from optuna.trial import TrialState

        value, state = None, TrialState.COMPLETE
        with heartbeat(self.storage, trial):  # Optuna's own heartbeat thread, as in Study.optimize
            try:
                value = self.objective(trial)
            except optuna.TrialPruned:
                state = TrialState.PRUNED
            except TrainwellError as exc:  # this configuration cannot train; the search goes on
                trial.set_user_attr("error", str(exc).splitlines()[0][:500])
                state = TrialState.FAIL
            except BaseException as exc:  # a bug or Ctrl-C: record the failure, then let it propagate
                if isinstance(exc, KeyboardInterrupt):  # not the configuration's fault: a resume runs it again
                    trial.set_user_attr("interrupted", True)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.study.tell(trial, state=TrialState.FAIL)
                raise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frozen = self.study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        self.failures = self.failures + 1 if state == TrialState.FAIL else 0
        if self.failures >= self.max_failures:
            raise TrainingError(f"{self.failures} trials in a row failed; the last said: {trial.user_attrs.get('error', '?')}")
        if self.on_trial is not None:
            self.on_trial(self.study, frozen)


def load_factory(target: str) -> Callable[[dict[str, Any]], tuple[Objective, TuneContext]]:
    """'package.module:function' -> the function that builds (objective, context) from a payload."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a spawned worker needs, picklable: it rebuilds the objective from ``factory``."""

    url: str
    study_name: str
    factory: str  # "package.module:function" taking ``payload``
    payload: dict[str, Any]
    strategy: str
    target: Target
    lock_dir: str
    pruner: str = "median"
    seed: int | None = None
    heartbeat: Heartbeat | None = field(default_factory=Heartbeat)
    poll: float = 0.5


def make_worker(spec: WorkerSpec, on_trial: Callable[[Any, Any], None] | None = None) -> Worker:
    """Open the storage and study (the study must exist) and build a worker for it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective, ctx = load_factory(spec.factory)(spec.payload)
    storage = open_storage(spec.url, spec.heartbeat)
    sampler = STRATEGIES.get(spec.strategy, "--strategy").sampler(ctx, spec.seed)
    study = optuna.load_study(study_name=spec.study_name, storage=storage, sampler=sampler, pruner=PRUNERS.get(spec.pruner, "--pruner")())
    attrs = study.user_attrs
    if spec.target.trials is not None:
        ctx.budget = spec.target.trials  # a resumed study with a larger --trials extends the plan
    ctx.start = attrs.get("start", ctx.start)
    ctx.anchor_lr = attrs.get("anchor_lr", ctx.anchor_lr)

    def lock() -> contextlib.AbstractContextManager[None]:
        return claim_lock(spec.url, storage, spec.study_name, Path(spec.lock_dir))

    return Worker(study, storage, objective, ctx, spec.strategy, spec.target, lock, spec.poll, on_trial=on_trial)


def worker_main(spec: WorkerSpec) -> None:
    """Entry point of a spawned worker process."""
    make_worker(spec).run()


def spawn_workers(specs: Sequence[WorkerSpec], monitor: Callable[[], None] | None = None, every: float = 1.0) -> list[int]:
    """Start one process per spec, call ``monitor`` every ``every`` s until all exit; their exit codes."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(s,), name=f"trainwell-tune-{i}") for i, s in enumerate(specs)]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            if monitor is not None:
                monitor()
            for p in procs:
                p.join(timeout=every / max(1, len(procs)))
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    return [p.exitcode or 0 for p in procs]


def create_study(url: str, study_name: str, maximize: bool, heartbeat: Heartbeat | None) -> Any:
    """Create the study, or load it to resume (``tune`` then stores the shared start in its attributes once)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(url, heartbeat)
    return optuna.create_study(
        study_name=study_name, storage=storage, load_if_exists=True, direction="maximize" if maximize else "minimize"
    )
