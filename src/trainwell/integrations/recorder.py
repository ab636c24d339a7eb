"""A trainwell run folder for a training loop trainwell does not drive (HF Trainer, Lightning).

The framework callbacks translate their trainer's settings into a trainwell ``Config`` and their logs
into trainwell records; ``RunRecorder`` does the rest the way ``trainwell train`` does it: config.yaml,
environment.json, metrics.jsonl/csv, the live doctor over every record, lint.json, findings.json,
summary.json, report.html, and MLflow when asked. The folder reads like any other run folder, so
``trainwell doctor``, ``trainwell report`` and the report page work on it unchanged.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from trainwell.config.schema import Config
from trainwell.doctor.naming import classify

# Records carry these keys themselves; a framework's copy of them is not a metric.
_OWN = ("event", "step", "epoch", "time")


def train_record(logs: dict[str, Any], step: int, epoch: float | None, elapsed: float) -> dict[str, Any] | None:
    """A trainwell train record from a framework's train log (loss, lr, grad_norm and any train metrics),
    or None when the log holds no train values (an eval log, a closing summary)."""
    record: dict[str, Any] = {"event": "train", "step": step, "epoch": epoch}
    found = False
    for key, value in logs.items():
        if not _number(value):
            continue
        kind, name = classify(key)
        if kind == "train_loss":
            record["loss"], found = float(value), True
        elif kind in ("lr", "grad_norm"):
            record[kind] = float(value)
        elif kind == "train_metric" and name not in _OWN:
            record[name] = float(value)
    record["time"] = round(elapsed, 3)
    return record if found else None


def eval_record(metrics: dict[str, Any], step: int, epoch: float | None, elapsed: float) -> dict[str, Any] | None:
    """A trainwell eval record (``val_*`` names) from a framework's evaluation metrics; None when it has none."""
    record: dict[str, Any] = {"event": "eval", "step": step, "epoch": epoch}
    for key, value in metrics.items():
        kind, name = classify(key)
        if kind == "eval" and _number(value):
            record[name] = float(value)
    record["time"] = round(elapsed, 3)
    return record if len(record) > 4 else None


def _number(value: Any) -> bool:
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:  # a 0-d tensor from Lightning
        value = value.item()
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Verdict:
    """What the live doctor said about the latest record: new findings (as lines) and a stop reason."""

    messages: list[str]
    stop_reason: str | None


class CallbackSettings:
    """What the HF and Lightning callbacks both take: where to write the run folder and which of trainwell's
    parts run (see either callback's docstring for the options)."""

    def __init__(
        self,
        run_dir: str | Path | None = None,
        *,
        stop_on_divergence: bool = False,
        live: bool = True,
        report: bool = True,
        lint: bool = True,
        mlflow: bool | str = False,
        reasons: list[dict[str, Any]] | None = None,
    ) -> None:
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.options: dict[str, Any] = {
            "stop_on_divergence": stop_on_divergence,
            "live": live,
            "report": report,
            "mlflow": mlflow,
            "reasons": reasons,
        }
        self.lint = lint
        self.recorder: Any = None
        self.findings: list[str] = []  # every doctor and lint line handed to the logger, in order
        self.lint_report: Any = None
        self.summary: dict[str, Any] | None = None


class RunRecorder:
    """Writes one run folder and runs the live doctor over the records it is given.

    Lifecycle: ``start(...)`` once, ``train(...)`` / ``evaluate(...)`` per log, ``finish(...)`` once.
    """

    def __init__(
        self,
        run_dir: str | Path,
        config: Config,
        *,
        stop_on_divergence: bool = False,
        live: bool = True,
        report: bool = True,
        mlflow: bool | str = False,
        reasons: list[dict[str, Any]] | None = None,
        extra_environment: dict[str, Any] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.config = replace(
            config,
            doctor=replace(config.doctor, live=live, stop_on_divergence=stop_on_divergence),
            report=report,
            logging=replace(
                config.logging, mlflow=bool(mlflow), mlflow_uri=mlflow if isinstance(mlflow, str) else config.logging.mlflow_uri
            ),
        )
        self.reasons = reasons
        self.extra_environment = extra_environment or {}
        self.doctor: Any = None
        self.tracker: Any = None
        self.log: Any = None
        self.records: list[dict[str, Any]] = []
        self.stop_reason: str | None = None
        self._started = time.perf_counter()

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self, *, total_steps: int | None, steps_per_epoch: float | None, device: str, precision: str, lint: Any = None) -> None:
        from trainwell.engine.run_folder import MetricsLog, environment, write_config, write_json

        self._started = time.perf_counter()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_config(self.run_dir, self.config)
        env = environment(self.config, device, precision, "from the trainer's own settings")
        write_json(self.run_dir / "environment.json", {**env, **self.extra_environment})
        if self.reasons:
            write_json(self.run_dir / "reasons.json", self.reasons)
        if lint is not None:
            write_json(self.run_dir / "lint.json", lint.to_dict())
        self.total_steps = total_steps
        self.log = MetricsLog(self.run_dir, "off")  # the trainer writes its own TensorBoard events when asked
        if self.config.doctor.live:
            from trainwell.doctor.live import LiveDoctor

            self.doctor = LiveDoctor(self.config)
            self.doctor.on_train_start(SimpleNamespace(total_steps=total_steps, steps_per_epoch=steps_per_epoch, history=[]))
        if self.config.logging.mlflow:
            from trainwell.config.structure import to_dict
            from trainwell.integrations.mlflow import MLflowTracker

            log = self.config.logging
            self.tracker = MLflowTracker(log.mlflow_uri, log.mlflow_experiment, self.run_dir.name)
            self.tracker.start(to_dict(self.config), self.reasons, {"trainwell.run_dir": str(self.run_dir)})

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def train(self, record: dict[str, Any] | None) -> Verdict:
        """Log a train record (from ``train_record``) and let the doctor look at it."""
        if record is None:
            return Verdict([], self.stop_reason)
        self._write(record)
        return self._ask(lambda d: d.on_log(SimpleNamespace(step=record["step"]), record))

    def evaluate(self, record: dict[str, Any] | None) -> Verdict:
        """Log an eval record (from ``eval_record``) and let the doctor look at it."""
        if record is None:
            return Verdict([], self.stop_reason)
        self._write(record)
        metrics = {k: v for k, v in record.items() if k.startswith("val_")}
        return self._ask(lambda d: d.on_evaluate(SimpleNamespace(step=record["step"]), metrics))

    def finish(self, *, status: str | None = None, stop_reason: str | None = None, steps: int | None = None) -> dict[str, Any]:
        """Write summary.json, findings.json and report.html; returns the summary."""
        from trainwell.engine.run_folder import write_json

        if self.log is None:
            raise RuntimeError("RunRecorder.finish() before start()")
        self.log.close()
        summary = self._summary(status, stop_reason, steps)
        write_json(self.run_dir / "summary.json", summary)
        if self.doctor is not None:
            write_json(self.run_dir / "findings.json", self.doctor.findings_json())
        note = self._report()
        if note:
            summary["report_note"] = note
            write_json(self.run_dir / "summary.json", summary)
        if self.tracker is not None:
            self.tracker.finish(summary)
            self.tracker.log_run_folder(self.run_dir)
        return summary

    # ---- internals ---------------------------------------------------------------------------------

    def _write(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.log.write(record)
        if self.tracker is not None:
            self.tracker.log_record(record)

    def _ask(self, call: Any) -> Verdict:
        if self.doctor is None:
            return Verdict([], None)
        from trainwell.doctor.live import DoctorWarning

        # The callbacks hand findings to the trainer's logger; the doctor's own warnings would say them twice.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DoctorWarning)
            reason = call(self.doctor)
        if reason and self.stop_reason is None:
            self.stop_reason = reason
        lines = [f"trainwell doctor: {f.rule}: {f.message}. Fix: {f.fix}" for f in self.doctor.new_findings()]
        return Verdict(lines, self.stop_reason)

    def _summary(self, status: str | None, stop_reason: str | None, steps: int | None) -> dict[str, Any]:
        from trainwell.report.rundata import best_eval

        ev = self.config.evaluation
        evals = [r for r in self.records if r["event"] == "eval"]
        best = best_eval(evals, ev.metric, ev.mode)
        last = self.records[-1] if self.records else {}
        wall = self.elapsed()
        samples = (steps or 0) * self.config.batch.effective
        return {
            "status": status or ("diverged" if self.stop_reason else "completed"),
            "stop_reason": stop_reason or self.stop_reason or "finished the planned steps",
            "best_metric": best[ev.metric] if best else None,
            "best_step": best["step"] if best else None,
            "metric": ev.metric,
            "mode": ev.mode,
            "steps": steps if steps is not None else last.get("step", 0),
            "total_steps": self.total_steps,
            "epochs": last.get("epoch"),
            "wall_time_s": wall,
            "samples": samples,
            "samples_per_s": samples / wall if wall > 0 and samples else None,
            "final": {k: v for k, v in (evals[-1] if evals else {}).items() if k.startswith("val_") and _finite(v)},
        }

    def _report(self) -> str | None:
        if not self.config.report:
            return None
        from trainwell.errors import MissingDependencyError
        from trainwell.report.html import write_report

        try:
            write_report(self.run_dir)
        except MissingDependencyError as exc:  # the run is complete; say why there is no report
            return str(exc)
        return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
