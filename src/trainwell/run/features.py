"""What a run adds around the engine: the LR and batch finders before training, the live doctor and
MLflow tracking during it, the findings, the HTML report and the MLflow artifacts after it. Each import happens only when its feature is switched on,
so a run that uses none of them never imports them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.config.io import validate
from trainwell.config.resolved import Origin, ResolvedConfig, replace_paths, run_length
from trainwell.config.schema import Config
from trainwell.engine.run_folder import write_json
from trainwell.errors import ConfigError, MissingDependencyError
from trainwell.files import write_text_atomic
from trainwell.run.resolve import Planned

if TYPE_CHECKING:
    import torch

    from trainwell.doctor.live import LiveDoctor
    from trainwell.integrations.mlflow import MLflowCallback
    from trainwell.tasks.base import Task


def run_finders(planned: Planned, task: Task, device: torch.device, run_dir: Path, processes: int = 1) -> ResolvedConfig:
    """Make the measurements the config asks for (batch.auto_find, optimizer.lr: find), record what each
    finder did in the run folder, and freeze the result.

    The resolved config holds the found values, so the run folder's config.yaml reproduces the run
    without running the finders again. Under torchrun they run on rank 0 alone, for one of ``processes``
    processes: they see that number as ``distributed.processes`` (the batch found is per process, the LR is
    scaled to the job's effective batch), and the run's length counts each process's share of the data.
    """
    config, measured = planned.config, {}
    per_process = -(-len(task.train_data) // processes)  # type: ignore[arg-type]
    if processes > 1:  # what the finders are told; the run's config.yaml keeps what was set
        config = dataclasses.replace(config, distributed=dataclasses.replace(config.distributed, processes=processes))
    if config.batch.auto_find:
        from trainwell.find.batch_finder import find_batch_for_training

        values, record = find_batch_for_training(config, task, device)
        write_json(run_dir / "batch_find.json", record)
        why = Origin("measured", "; ".join(record["reasons"]), "batch-find", "guide 000 §4.1.1-4.1.2 (batch_find.json)")
        measured.update({path: (value, why) for path, value in values.items()})
        config = replace_paths(config, values)
        if run_length(config, per_process)[2] != run_length(planned.config, per_process)[2]:
            ConfigError.collect(validate(config, run_length(config, per_process)[2]))
    if config.optimizer.lr == "find":
        from trainwell.find.lr_finder import find_lr_for_training

        lr, record = find_lr_for_training(config, task, device)
        write_json(run_dir / "lr_find.json", record)
        measured["optimizer.lr"] = (float(lr), Origin("measured", record["used_reason"], "lr-find", "LR range test (lr_find.json)"))
    return planned.resolved(measured)


def live_doctor(config: Config) -> LiveDoctor | None:
    if not config.doctor.live:
        return None
    from trainwell.doctor.live import LiveDoctor

    return LiveDoctor(config)


def write_findings(run_dir: Path, doctor: LiveDoctor | None) -> None:
    if doctor is None:
        return
    findings = doctor.findings_json()
    write_text_atomic(run_dir / "findings.json", json.dumps(findings, indent=2, default=str) + "\n")


def write_report_if_asked(config: Config, run_dir: Path) -> str | None:
    """Write report.html when config.report is set; returns a note when an optional extra is missing."""
    if not config.report:
        return None
    from trainwell.report.html import write_report

    try:
        write_report(run_dir)
    except MissingDependencyError as exc:  # the run itself is complete; say why there is no report
        return str(exc)
    return None


def write_reasons(run_dir: Path, resolved: ResolvedConfig, extra: list[dict[str, Any]] | None = None) -> None:
    """reasons.json: why each recommended or measured value has its value (and any reasons passed in)."""
    reasons = [*resolved.reasons(), *(extra or [])]
    if reasons:
        write_json(run_dir / "reasons.json", reasons)


def mlflow_tracker(config: Config, reasons: list[dict[str, Any]] | None) -> MLflowCallback | None:
    """The MLflow callback for ``logging.mlflow: true`` (extra [mlflow]); it uploads the run folder once
    the report exists (``log_run_folder``)."""
    if not config.logging.mlflow:
        return None
    from trainwell.integrations.mlflow import MLflowCallback

    return MLflowCallback(config, reasons)
