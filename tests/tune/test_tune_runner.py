"""The worker loop on real Optuna storages with the synthetic objective: exact counts, resume, retry of a
dead worker's trial, every strategy."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

optuna = pytest.importorskip("optuna")

from trainwell.tune.runner import PRUNERS, Target, Worker, WorkerSpec, create_study, make_worker  # noqa: E402
from trainwell.tune.storage import Heartbeat, default_url, open_storage  # noqa: E402
from trainwell.tune.strategies import STRATEGIES, suggest  # noqa: E402
from trainwell.tune.testing import START, synthetic  # noqa: E402

FACTORY = "trainwell.tune.testing:synthetic"


def memory_worker(strategy: str, n: int, seed: int = 0) -> Worker:
    objective, ctx = synthetic({"budget": n})
    sampler = STRATEGIES.get(strategy).sampler(ctx, seed)
    study = optuna.create_study(sampler=sampler, pruner=PRUNERS.get("median")())
    return Worker(study, study._storage, objective, ctx, strategy, Target(trials=n))


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_every_strategy_runs_the_exact_number_of_trials(strategy: str) -> None:
    worker = memory_worker(strategy, 8)
    worker.run()
    trials = worker.study.get_trials()
    assert len(trials) == 8
    if strategy != "tpe-plain":  # the start config is trial 0 for every strategy but plain TPE
        assert trials[0].params == START and trials[0].user_attrs["tag"] == "start"


def test_staged_beats_random_on_the_synthetic_problem() -> None:
    staged, rand = memory_worker("staged", 15), memory_worker("random", 15)
    staged.run()
    rand.run()
    assert staged.study.best_value < rand.study.best_value


def spec(tmp_path: Path, n: int, url: str | None = None, name: str = "s", **payload: Any) -> WorkerSpec:
    heartbeat = Heartbeat(1, 1) if url is None or not url.startswith("journal:") else None
    return WorkerSpec(
        url or default_url(tmp_path),
        name,
        FACTORY,
        {"budget": n, **payload},
        "staged",
        Target(trials=n),
        str(tmp_path),
        "none",
        0,
        heartbeat,
        poll=0.05,
    )


def journal(tmp_path: Path) -> str:
    return f"journal:{tmp_path / 'study.log'}"


@pytest.mark.parametrize("storage", ["journal", pytest.param("sqlite", marks=pytest.mark.slow)])
def test_resume_counts_trials_already_in_the_study(tmp_path: Path, storage: str) -> None:
    s = spec(tmp_path, 4, journal(tmp_path) if storage == "journal" else None)
    create_study(s.url, s.study_name, False, s.heartbeat)
    first_worker = make_worker(s)
    first_worker.run()
    first = [(t.number, t.params) for t in first_worker.study.get_trials()]
    assert len(first) == 4
    more = make_worker(WorkerSpec(**{**s.__dict__, "target": Target(trials=7)}))  # the same command with --trials 7
    more.run()
    trials = more.study.get_trials()
    assert len(trials) == 7 and [(t.number, t.params) for t in trials[:4]] == first
    tags = [t.user_attrs.get("tag") for t in trials]
    assert tags.count("start") == 1 and all(tags)  # the plan continued where it stopped; it did not restart


def test_an_interrupted_tune_resumes_and_reruns_the_interrupted_trial(tmp_path: Path) -> None:
    s = spec(tmp_path, 5, journal(tmp_path), interrupt_at=2)
    create_study(s.url, s.study_name, False, s.heartbeat)
    with pytest.raises(KeyboardInterrupt):
        make_worker(s).run()  # Ctrl-C during trial 2
    resumed = make_worker(WorkerSpec(**{**s.__dict__, "payload": {"budget": 5}}))  # the same command again
    resumed.run()
    trials = resumed.study.get_trials()
    assert [t.state.name for t in trials].count("COMPLETE") == 5 and trials[2].state.name == "FAIL"
    assert trials[3].params == trials[2].params  # the plan ran the interrupted point again, first


def run_two_workers(s: WorkerSpec) -> list[Any]:
    create_study(s.url, s.study_name, False, s.heartbeat)
    workers = [make_worker(s), make_worker(s)]  # separate storages and locks, as in two processes
    threads = [threading.Thread(target=w.run) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return workers[0].study.get_trials()  # type: ignore[no-any-return]


def check_each_trial_ran_once(trials: list[Any], log: Path, n: int, evals: int) -> None:
    assert [t.state.name for t in trials] == ["COMPLETE"] * n
    per_trial: dict[int, int] = {}
    for line in log.read_text().splitlines():
        number = json.loads(line)["trial"]
        per_trial[number] = per_trial.get(number, 0) + 1
    assert per_trial == {k: evals for k in range(n)}  # every trial evaluated by one worker, none twice
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == n


@pytest.mark.parametrize("storage", ["journal", pytest.param("sqlite", marks=pytest.mark.slow)])
def test_two_workers_on_one_study_lose_and_duplicate_nothing(tmp_path: Path, storage: str) -> None:
    log = tmp_path / "evals.jsonl"
    s = spec(tmp_path, 6, journal(tmp_path) if storage == "journal" else None, log=str(log), evals=2, sleep=0.01)
    check_each_trial_ran_once(run_two_workers(s), log, 6, 2)


@pytest.fixture
def memory_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on tmpfs where there is one: an SQLite study commits ~100 times, 12 ms each on a slow disk."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_dead_workers_trial_is_retried_and_the_study_finishes(memory_folder: Path) -> None:
    # SQLite's clock has 1 s resolution, so a heartbeat goes stale after a bit more than 1 s at best. A database
    # file, not :memory:: Optuna's heartbeat thread opens its own connection, and an in-memory database is
    # private to one connection.
    objective, ctx = synthetic({"budget": 3})
    storage = open_storage(default_url(memory_folder), Heartbeat(1, 1))
    study = optuna.create_study(storage=storage, sampler=STRATEGIES.get("staged").sampler(ctx, 0))
    # A worker that claimed trial 0, asked for its parameters, beat once and died: RUNNING, heartbeat stale.
    study.enqueue_trial(dict(START), user_attrs={"tag": "start"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna warns that heartbeats are meant for Study.optimize
        dead = study.ask()
    suggest(dead, ctx.space)
    storage.record_heartbeat(dead._trial_id)
    time.sleep(1.05)
    Worker(study, storage, objective, ctx, "staged", Target(trials=3), poll=0.05).run()
    trials = study.get_trials()
    states = [t.state.name for t in trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 3
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE" and retried[0].params == dead.params


def test_pruned_trials_cost_what_they_used_and_count_against_a_training_budget() -> None:
    objective, ctx = synthetic({"budget": 10, "evals": 4})
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=1), pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    )
    Worker(study, study._storage, objective, ctx, "random", Target(trainings=5.0)).run()
    trials = study.get_trials()
    costs = [t.user_attrs["cost"] for t in trials]
    assert any(c < 1.0 for c in costs)  # some trials were pruned early
    assert 5.0 <= sum(costs) < 6.0 and len(trials) > 5
