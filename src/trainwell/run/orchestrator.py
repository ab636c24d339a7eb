"""``trainwell.train``: the Python API that mirrors ``trainwell train``.

result = train("config.yaml")                        # a built-in or user task from the config
result = train(model=net, train_data=ds, val_data=vs)  # your own model and datasets
result = train(resume="runs/digits-20250101-120000")   # continue a killed run exactly
result = train(config_dict, recommend=True)         # unset values from the recommender, as a config file's are

    path = Path(resume) if resume is not None else new_run_dir(planned.config, run_dir, label)
    resolved = (
        features.run_finders(planned, task, resolve_device(planned.config.training.device), path) if resume is None else planned.resolved()
    )
    features.write_reasons(path, resolved, reasons)
    doctor = features.live_doctor(resolved.config)
    tracker = features.mlflow_tracker(resolved.config, [*resolved.reasons(), *(reasons or [])])
    added = [cb for cb in (doctor, tracker) if cb is not None]
    result = engine.run(resolved, task, path, [*callbacks, *added], resume=resume is not None, changes=changes)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.config.io import load_request
from trainwell.config.resolved import ConfigRequest, ResolvedConfig
from trainwell.config.schema import Config
from trainwell.errors import CheckpointError, ConfigError, Problem
from trainwell.run import features, resolve
from trainwell.runtime import restores_globals

if TYPE_CHECKING:
    import torch

    from trainwell.engine.api import RunResult
    from trainwell.engine.callbacks import Callback
    from trainwell.engine.distributed import World
    from trainwell.engine.resume import Change
    from trainwell.tasks.base import Task


@restores_globals  # threads, determinism, RNGs and environment are as they were when train returns
def train(
    config: ConfigRequest | Config | dict[str, Any] | str | Path | None = None,
    *,
    model: torch.nn.Module | None = None,
    train_data: Any = None,
    val_data: Any = None,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    callbacks: Iterable[Callback] = (),
    reasons: list[dict[str, Any]] | None = None,
    recommend: bool | None = None,
) -> RunResult:
    """Train and return the run folder, summary, model (best weights when load_best_at_end) and history.

    ``recommend``: fill every value the config leaves unset from the recommender (with its reason in
    reasons.json), as `trainwell train` does; False keeps the schema's defaults for them. By default a
    config file is completed by the recommender, as on the command line, and a dict or Config object
    (code that builds its own config) is taken as it is.
    ``reasons``: more rows for reasons.json, beside the recommended and measured values' own.
    """
    from trainwell.engine import distributed
    from trainwell.engine.device import resolve_device

    request, changes = _request(config, resume, passed=model is not None)
    # under torchrun every process joins the job's group for the run (and leaves it after)
    with distributed.process_group(request.config, resolve_device(request.config.training.device).type) as world:
        return _train(request, changes, world, model, train_data, val_data, run_dir, resume, callbacks, reasons, recommend, config)


def check_launch(request: ConfigRequest, *, resume: str | Path | None, processes: int | None, recommend: bool) -> None:
    """Every check of a run that needs neither the process group nor the built task, made once by a launcher
    (``trainwell train --nproc``) before it starts any process: otherwise each rank would report the same
    problem, and torchrun its own failure after it. ``processes``: the job's world size, None when the
    launcher does not know it (an elastic ``--nnodes MIN:MAX``).

    The config is planned as ``trainwell config show`` plans it: with the recommender's values for a
    built-in task (their recorded facts, no data read), and without the run's length, which needs the data
    (the ranks check the length rules). A user task or a changed model is built to be measured, so there
    the launcher checks only what the config says by itself; the ranks check the rest."""
    from trainwell.engine import distributed
    from trainwell.engine.checkpoint import latest_checkpoint
    from trainwell.engine.device import resolve_device
    from trainwell.engine.resume import check_world

    request, _ = _request(request, resume)  # on resume: every change it cannot make
    found: list[Problem] = []  # every problem at once: the plan's, the device's, the distributed section's
    config = request.config  # a user task or a changed model: its fields' ranges were checked when it was loaded
    try:
        if not recommend or resume is not None:
            config = resolve.plan(request, None, None).config
        elif not (":" in config.task or request.is_given("model")):
            gpus = {"gpus": processes} if processes else {}
            config = resolve.plan(request, {**resolve.facts_without_training(request), **gpus}, None).config
    except ConfigError as exc:
        found += exc.problems
    try:
        device = resolve_device(config.training.device).type
    except ConfigError as exc:
        found, device = found + exc.problems, "cpu"
    found += distributed.problems(config, device)
    if processes is not None:
        found += distributed.processes_problems(config, processes)
    ConfigError.collect(found)
    if resume is not None and processes is not None:
        latest = latest_checkpoint(Path(resume) / "checkpoints")
        if latest is not None and "world_size" in latest.meta:  # checkpoints written before it was recorded: the ranks check
            check_world(int(latest.meta["world_size"]), processes, latest.path, Path(resume))


def _train(
    request: ConfigRequest,
    changes: list[Change],
    world: World,
    model: torch.nn.Module | None,
    train_data: Any,
    val_data: Any,
    run_dir: str | Path | None,
    resume: str | Path | None,
    callbacks: Iterable[Callback],
    reasons: list[dict[str, Any]] | None,
    recommend: bool | None,
    config: Any,
) -> RunResult:
    """One run in this process; under torchrun rank 0 makes the run folder, runs the finders and writes
    the records, and every rank trains with what it decided."""
    from trainwell.engine import api as engine
    from trainwell.engine import distributed
    from trainwell.engine.device import resolve_device
    from trainwell.engine.resume import init_weights
    from trainwell.engine.run_folder import new_run_dir, write_json

    engine.prepare(request.config)
    task = _task(request.config, model, train_data, val_data)
    if recommend is None:
        recommend = isinstance(config, (str, Path))
    facts = resolve.task_facts(task) if recommend and resume is None else None
    if facts is not None and world.size > 1:  # the recommended batch is split over this job's processes
        facts = {**facts, "gpus": world.size}
    per_rank = -(-len(task.train_data) // world.size)  # type: ignore[arg-type]  # each rank's share: the run's length
    planned = resolve.plan(request, facts, per_rank)
    if resolve.builds_differently(request.config, planned.config):
        engine.prepare(planned.config)
        task = task.rebuild(planned.config) if task.rebuild is not None else _task(planned.config, model, train_data, val_data)
    else:
        engine.prepare(planned.config, seed=False)  # recommended threads; the RNG stays where the build left it
    if planned.config.init_from is not None and resume is None:  # a resumed run's weights come from its own checkpoint
        # config.yaml names the checkpoint folder itself: "the run's latest" would move if that run went on
        folder = init_weights(task.model, planned.config.init_from)
        planned = dataclasses.replace(planned, config=dataclasses.replace(planned.config, init_from=folder))
    label = type(model).__name__ if model is not None else None  # not the config's task: it was not trained
    if world.main:
        path = Path(resume) if resume is not None else new_run_dir(planned.config, run_dir, label)
        resolved = (
            features.run_finders(planned, task, resolve_device(planned.config.training.device), path, world.size)
            if resume is None
            else planned.resolved()
        )
        features.write_reasons(path, resolved, reasons)
    if world.size > 1:  # one run folder and one set of found values for every rank
        path, found, origins = distributed.broadcast((path, resolved.config, dict(resolved.origins)) if world.main else None)
        resolved = ResolvedConfig(found, origins)
    # the doctor and the tracker run on rank 0 (the engine broadcasts its stop decisions)
    doctor = features.live_doctor(resolved.config) if world.main else None
    tracker = features.mlflow_tracker(resolved.config, [*resolved.reasons(), *(reasons or [])]) if world.main else None
    added = [cb for cb in (doctor, tracker) if cb is not None]
    result = engine.run(resolved, task, path, [*callbacks, *added], resume=resume is not None, changes=changes)
    if not world.main:
        return result
    features.write_findings(path, doctor)
    note = features.write_report_if_asked(resolved.config, path)
    if note:
        result.summary["report_note"] = note
        write_json(path / "summary.json", result.summary)
    if tracker is not None:  # last, so the findings and the report are there to upload
        tracker.log_run_folder(path)
    return result


def _request(
    config: ConfigRequest | Config | dict[str, Any] | str | Path | None, resume: str | Path | None, passed: bool = False
) -> tuple[ConfigRequest, list[Change]]:
    """The request, loaded once (given as one, or from ``config``), and, on resume, what it changes against
    the run's saved config (a change that would break the checkpoint's meaning is refused: engine/resume.py).
    With a model ``passed`` to train(), config.task was not what trained, so the config names the task that
    says so (tasks/passed.py)."""
    if resume is None:
        return _passed(_load(config, ""), passed), []
    saved = Path(resume) / "config.yaml"
    if not saved.is_file():
        raise CheckpointError(
            problems=[
                Problem(
                    str(resume),
                    "a run folder to resume must hold config.yaml",
                    str(saved),
                    "pass the folder a previous `trainwell train` created",
                )
            ]
        )
    before = load_request(saved, label=f"resuming {resume}")
    if config is None:
        return _passed(before, passed), []
    from trainwell.engine.resume import resume_changes

    request = _passed(_load(config, f"resuming {resume}"), passed)
    return request, resume_changes(before.config, request.config, Path(resume))


def _load(config: ConfigRequest | Config | dict[str, Any] | str | Path | None, label: str) -> ConfigRequest:
    if isinstance(config, ConfigRequest):
        return config
    return load_request(config, label=label or (f"config {config}" if isinstance(config, (str, Path)) else ""))


def _passed(request: ConfigRequest, passed: bool) -> ConfigRequest:
    from trainwell.tasks.passed import PASSED

    if not passed:
        return request
    return dataclasses.replace(request, config=dataclasses.replace(request.config, task=PASSED), given=request.given | {"task"})


def _task(config: Config, model: torch.nn.Module | None, train_data: Any, val_data: Any) -> Task:
    from trainwell.tasks.base import Task, classification_metrics, count_labels

    if model is None and train_data is None:
        from trainwell.tasks.catalog import build_task

        return build_task(config)
    if model is None or train_data is None:
        raise ConfigError(
            problems=[
                Problem(
                    "train()",
                    "model and train_data go together",
                    "model" if model is None else "train_data",
                    "pass both model= and train_data=, or neither to use config.task",
                )
            ]
        )
    auto = config.loss.class_weights == "auto" or (config.loss.name == "focal" and config.loss.focal_alpha == "auto")
    return Task(
        name="custom",
        model=model,
        train_data=train_data,
        val_data=val_data,
        kind="classification",
        metrics=classification_metrics,
        class_counts=count_labels(train_data, iterate=auto),  # 'auto' class weights need them (a pass over the data)
    )
