"""MLflow tracking (extra ``[mlflow]``): a trainwell run, or an HF / Lightning run with trainwell's callback,
as an MLflow run.

What is logged: every config field as a param (dotted names), the recommender's reasons as tags
(``reason.<field>``), the metrics.jsonl records as metrics at their step, the summary's numbers as
final metrics, and the run folder's config.yaml, summary.json, findings.json, reasons.json, lint.json
and report.html as artifacts.

Where: ``logging.mlflow_uri``, else MLflow's local file store ``./mlruns``. MLflow 3 keeps that store in
maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE=true``; the tracker sets that variable
only while it opens the store and puts the environment back, so the library leaves no global state
behind. (Read it back with ``MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ./mlruns``, or set
``logging.mlflow_uri: sqlite:///mlflow.db`` to use MLflow's database store.)

Everything goes through ``MlflowClient`` with an explicit run id: MLflow's fluent API (``mlflow.start_run``)
keeps a process-wide active run, which a library must not leave set.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainwell.engine.callbacks import Callback
from trainwell.errors import require

FEATURE = "logging.mlflow"
ARTIFACTS = ("config.yaml", "summary.json", "findings.json", "reasons.json", "lint.json", "lr_find.json", "report.html")
# Records carry these for bookkeeping; they are the metric's coordinates, not metrics.
_NOT_METRICS = ("event", "step", "time", "epoch")
# MLflow's limits: 6000 characters per param value, 5000 per tag value; a batch holds at most 1000 metrics.
_PARAM_MAX, _TAG_MAX, _BATCH_MAX = 6000, 5000, 1000
_FLUSH_EVERY = 200  # metrics buffered before a write: one file append per few log records, not per value


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    """MLflow 3 refuses its file store without MLFLOW_ALLOW_FILE_STORE; allow it while the store opens only.

    A value the user set (``false`` included: they asked MLflow to refuse the file store) is left alone."""
    if "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def tracking_uri(uri: str | None) -> str:
    """The URI as given, or ./mlruns (absolute, so a later chdir does not move it) as a file: URI."""
    return uri if uri else Path("mlruns").resolve().as_uri()


def flat_params(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config dict as MLflow params: dotted keys, values as text cut to MLflow's limit."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_params(value, name + "."))
        else:
            out[name] = str(value)[:_PARAM_MAX]
    return out


def reason_tags(reasons: list[dict[str, Any]] | None) -> dict[str, str]:
    """``reason.<field>`` -> "why (rule; source)" for each value the recommender set."""
    tags = {}
    for r in reasons or []:
        text = f"{r.get('why', '')} (rule {r.get('rule', '?')}; {r.get('source', '')})"
        tags[f"reason.{r.get('field')}"] = text[:_TAG_MAX]
    return tags


class MLflowTracker:
    """One MLflow run: ``start``, then ``log_record`` per metrics record, ``finish``, ``log_run_folder``."""

    def __init__(self, uri: str | None = None, experiment: str = "trainwell", run_name: str | None = None) -> None:
        require("mlflow", "mlflow", FEATURE)
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri(uri)
        with _file_store_allowed():
            self.client = MlflowClient(tracking_uri=self.uri)
            found = self.client.get_experiment_by_name(experiment)  # opens (and caches) the store
            self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.run_name = run_name
        self.run_id: str | None = None
        self._buffer: list[Any] = []

    def start(self, config: dict[str, Any], reasons: list[dict[str, Any]] | None = None, tags: dict[str, str] | None = None) -> str:
        from mlflow.entities import Param, RunTag

        run = self.client.create_run(self.experiment_id, run_name=self.run_name, tags={"trainwell.task": str(config.get("task", ""))})
        self.run_id = run.info.run_id
        params = [Param(k, v) for k, v in flat_params(config).items()]
        all_tags = [RunTag(k, v[:_TAG_MAX]) for k, v in {**reason_tags(reasons), **(tags or {})}.items()]
        for i in range(0, max(len(params), len(all_tags)), 100):  # MLflow takes at most 100 params / tags per batch
            self.client.log_batch(self.run_id, params=params[i : i + 100], tags=all_tags[i : i + 100])
        return self.run_id

    def log_record(self, record: dict[str, Any]) -> None:
        """Buffer a metrics.jsonl record's numbers as metrics at its step (written every few records)."""
        from mlflow.entities import Metric

        step = int(record.get("step") or 0)
        stamp = int(time.time() * 1000)
        for key, value in record.items():
            if key in _NOT_METRICS or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            self._buffer.append(Metric(key, float(value), stamp, step))
        if len(self._buffer) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.run_id is None:
            return
        while self._buffer:
            batch, self._buffer = self._buffer[:_BATCH_MAX], self._buffer[_BATCH_MAX:]
            self.client.log_batch(self.run_id, metrics=batch)

    def finish(self, summary: dict[str, Any]) -> None:
        """The summary's numbers as ``final.*`` metrics, its status as a tag, and the run marked ended."""
        from mlflow.entities import Metric, RunTag

        if self.run_id is None:
            return
        self.flush()
        step = int(summary.get("steps") or 0)
        stamp = int(time.time() * 1000)
        numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        numbers.update({f"final.{k}": v for k, v in (summary.get("final") or {}).items() if isinstance(v, (int, float))})
        metrics = [Metric(f"summary.{k}" if not k.startswith("final.") else k, float(v), stamp, step) for k, v in numbers.items()]
        metrics = [m for m in metrics if not math.isnan(m.value)]
        tags = [
            RunTag("trainwell.status", str(summary.get("status"))),
            RunTag("trainwell.stop_reason", str(summary.get("stop_reason"))[:_TAG_MAX]),
        ]
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
        status = "FINISHED" if summary.get("status") in ("completed", "stopped", "diverged") else "FAILED"
        self.client.set_terminated(self.run_id, status)

    def log_run_folder(self, run_dir: str | Path) -> list[str]:
        """Upload the run folder's config, summary, findings, reasons, lint and report; returns what was logged."""
        if self.run_id is None:
            return []
        logged = []
        for name in ARTIFACTS:
            path = Path(run_dir) / name
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
                logged.append(name)
        return logged


class MLflowCallback(Callback):
    """Engine callback for ``logging.mlflow: true``: params and reasons at the start, metrics as they are
    logged, the summary at the end. The run orchestration calls ``log_run_folder`` once the report exists."""

    def __init__(self, config: Any, reasons: list[dict[str, Any]] | None = None) -> None:
        from trainwell.config.structure import to_dict

        self.config = to_dict(config)
        self.reasons = reasons
        log = config.logging
        self.tracker = MLflowTracker(log.mlflow_uri, log.mlflow_experiment)

    def on_train_start(self, state: Any) -> None:
        run_dir = getattr(state, "run_dir", None)
        self.tracker.run_name = Path(run_dir).name if run_dir else None
        self.tracker.start(self.config, self.reasons, {"trainwell.run_dir": str(run_dir)} if run_dir else None)

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        self.tracker.log_record(record)
        return None

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> str | None:
        step = getattr(state, "step", 0)
        self.tracker.log_record({"step": step, **{k if k.startswith("val_") else f"val_{k}": v for k, v in metrics.items()}})
        self.tracker.flush()
        return None

    def on_train_end(self, state: Any, summary: dict[str, Any]) -> None:
        self.tracker.finish(summary)

    def log_run_folder(self, run_dir: str | Path) -> list[str]:
        return self.tracker.log_run_folder(run_dir)
