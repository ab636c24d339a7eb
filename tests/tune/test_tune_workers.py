"""Real worker processes (multiprocessing spawn) on one study: exact counts, a SIGKILLed worker's trial
retried, and the same on PostgreSQL when TRAINWELL_TEST_PG names a reachable server."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from trainwell.tune.runner import Target, WorkerSpec, create_study, make_worker, spawn_workers, worker_main  # noqa: E402
from trainwell.tune.storage import Heartbeat, default_url, normalize_url  # noqa: E402

FACTORY = "trainwell.tune.testing:synthetic"


def make_spec(url: str, tmp_path: Path, n: int, name: str = "w", **payload: object) -> WorkerSpec:
    return WorkerSpec(
        url, name, FACTORY, {"budget": n, **payload}, "staged", Target(trials=n), str(tmp_path), "none", 0, Heartbeat(1, 2), poll=0.1
    )


def check_exact(url: str, tmp_path: Path, name: str) -> None:
    log = tmp_path / "evals.jsonl"
    spec = make_spec(url, tmp_path, 8, name, log=str(log), evals=2, sleep=0.05)
    create_study(url, name, False, spec.heartbeat)
    codes = spawn_workers([spec, spec])
    assert codes == [0, 0]
    trials = make_worker(spec).study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 8
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    counts: dict[int, int] = {}
    for e in lines:
        counts[e["trial"]] = counts.get(e["trial"], 0) + 1
    assert counts == {k: 2 for k in range(8)}
    assert len({e["pid"] for e in lines}) == 2  # both processes did work


@pytest.mark.slow
def test_two_worker_processes_on_sqlite_give_the_exact_trial_count(tmp_path: Path) -> None:
    check_exact(default_url(tmp_path), tmp_path, "w")


@pytest.mark.slow
def test_a_sigkilled_worker_process_has_its_trial_retried(tmp_path: Path) -> None:
    url, log = default_url(tmp_path), tmp_path / "evals.jsonl"
    spec = make_spec(url, tmp_path, 4, log=str(log), evals=3, sleep=0.4)
    create_study(url, "w", False, spec.heartbeat)
    ctx = multiprocessing.get_context("spawn")
    victim = ctx.Process(target=worker_main, args=(spec,))
    victim.start()
    deadline = time.time() + 60
    while time.time() < deadline and not (log.exists() and log.read_text().strip()):
        time.sleep(0.05)  # wait until the victim is inside a trial
    os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
    victim.join()
    survivor = ctx.Process(target=worker_main, args=(spec,))
    survivor.start()
    survivor.join(timeout=120)
    assert survivor.exitcode == 0
    trials = make_worker(spec).study.get_trials()
    states = [t.state.name for t in trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 4
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == trials[0].params


def postgres_url() -> str:
    url = os.environ.get("TRAINWELL_TEST_PG")
    if not url:
        pytest.skip("TRAINWELL_TEST_PG is not set")
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # no driver, no server, wrong password: all mean "skip"
        pytest.skip(f"PostgreSQL at TRAINWELL_TEST_PG is not reachable: {type(exc).__name__}")
    return url


def test_postgresql_storage_two_workers_exact_count(tmp_path: Path) -> None:
    """Two workers (threads, each with its own storage and advisory-lock connection) on PostgreSQL.

    Not marked slow although a PostgreSQL round trip per operation makes it take a few seconds: it runs
    only where TRAINWELL_TEST_PG is set (CI starts a local server for it), and marked slow it would never run."""
    import threading

    url = postgres_url()
    log = tmp_path / "evals.jsonl"
    spec = make_spec(url, tmp_path, 4, f"pg-{os.getpid()}-{time.time_ns()}", log=str(log), evals=2)
    create_study(url, spec.study_name, False, spec.heartbeat)
    workers = [make_worker(spec), make_worker(spec)]
    threads = [threading.Thread(target=w.run) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    trials = workers[0].study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    counts: dict[int, int] = {}
    for line in log.read_text().splitlines():
        number = json.loads(line)["trial"]
        counts[number] = counts.get(number, 0) + 1
    assert counts == {k: 2 for k in range(4)}
