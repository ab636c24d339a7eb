"""Where a study lives, and how workers share it without losing or duplicating a trial.

* ``sqlite:///...``, ``postgresql://...`` and other SQLAlchemy URLs open Optuna's ``RDBStorage`` with
  heartbeats: a worker that dies mid-trial stops beating, and the next worker to look marks the trial
  failed and re-queues a copy (Optuna's ``RetryHeartbeatStaleTrialCallback``).
* ``journal:PATH`` (or a path ending in ``.log``/``.journal``) opens Optuna's ``JournalStorage`` on a
  ``JournalFileBackend``: safe for many processes, but Optuna has no heartbeat for it, so a dead worker's
  trial stays RUNNING and is not retried.

Exact trial counts need "count, then ask" to be atomic across workers. Optuna does not offer that, so the
workers on one machine take a file lock around it (``filelock.FileLock``, which works on Windows too); on
PostgreSQL the lock is a session advisory lock, which also covers workers on other machines.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainwell.errors import ConfigError, Problem, require


@dataclass(frozen=True)
class Heartbeat:
    """Heartbeat settings for RDB storages: beat every ``interval`` s; stale after ``grace`` s."""

    interval: int = 30
    grace: int = 120
    max_retry: int | None = 3


def default_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def normalize_url(url: str) -> str:
    """``postgresql://`` with the driver that is installed: SQLAlchemy 2.1 defaults to psycopg 3, while
    many machines (and Debian's CI recipe) have psycopg2."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def journal_path(url: str) -> str | None:
    if url.startswith("journal:"):
        return url[len("journal:") :]
    if "://" not in url and url.endswith((".log", ".journal")):
        return url
    return None


def open_storage(url: str, heartbeat: Heartbeat | None = Heartbeat()) -> Any:
    """An Optuna storage for ``url``; RDB storages get heartbeats and the retry callback."""
    optuna = require("optuna", "tune", "trainwell tune")
    import warnings

    path = journal_path(url)
    if path is not None:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    if "://" not in url:
        raise ConfigError(
            problems=[
                Problem(
                    "--storage",
                    "must be an Optuna storage URL or a journal file",
                    url,
                    "e.g. sqlite:///study.db, postgresql://user:pw@host/db or journal:study.log",
                )
            ]
        )
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # SQLite serialises writers; a generous timeout keeps concurrent workers from "database is locked".
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeats and the retry callback are marked experimental
        if heartbeat is not None:
            kwargs.update(heartbeat_interval=heartbeat.interval, grace_period=heartbeat.grace)
            retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
            if retry is not None:  # optuna >= 4.9 renamed the callback and its argument
                kwargs["heartbeat_stale_trial_callback"] = retry(max_retry=heartbeat.max_retry)
            else:
                kwargs["failed_trial_callback"] = optuna.storages.RetryFailedTrialCallback(max_retry=heartbeat.max_retry)
        return _open_rdb(optuna, normalize_url(url), kwargs)


def _open_rdb(optuna: Any, url: str, kwargs: dict[str, Any]) -> Any:
    """Optuna's RDBStorage on ``url``; a URL SQLAlchemy cannot open (an unknown scheme, a missing database
    driver, a database file in a folder that does not exist, a server that refuses) is a --storage error."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return optuna.storages.RDBStorage(url, **kwargs)
    except ImportError as exc:  # Optuna's message when the URL's driver (psycopg2, pymysql, ...) is missing
        problem = Problem(
            "--storage", "needs the Python driver of its database installed", url, f"install it ({exc}), or use sqlite:///study.db"
        )
    except SQLAlchemyError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problem = Problem(
            "--storage",
            "must be a storage Optuna can open",
            url,
            f"check the URL and that its folder or server exists ({reason}); e.g. sqlite:///study.db",
        )
    raise ConfigError(problems=[problem])


def fail_stale(study: Any) -> None:
    """Mark trials of dead workers failed; the retry callback re-queues a copy of each."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # marked experimental
        optuna.storages.fail_stale_trials(study)  # a no-op on storages without heartbeats


def file_lock(path: Path) -> contextlib.AbstractContextManager[Any]:
    """An exclusive lock between processes (and threads) on one machine."""
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path))


@contextlib.contextmanager
def pg_lock(storage: Any, study_name: str) -> Iterator[None]:
    """A PostgreSQL session advisory lock keyed by the study: exact claims across machines."""
    from sqlalchemy import text

    key = int.from_bytes(hashlib.sha1(study_name.encode()).digest()[:8], "big", signed=True)
    with storage.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def claim_lock(url: str, storage: Any, study_name: str, lock_dir: Path) -> contextlib.AbstractContextManager[None]:
    """The lock that makes "count the trials, then ask for one" atomic for this storage."""
    if url.startswith("postgresql"):
        return pg_lock(storage, study_name)
    digest = hashlib.sha1(f"{url}|{study_name}".encode()).hexdigest()[:16]
    local = journal_path(url) or (url.split(":///", 1)[1] if url.startswith("sqlite:///") and ":memory:" not in url else None)
    # Beside the database file when there is one, so every worker on this machine finds the same lock.
    folder = Path(local).resolve().parent if local else lock_dir
    return file_lock(folder / f".tune-{digest}.lock")
