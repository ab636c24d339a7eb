"""``tune(config, options)``: one study from start to a ready-to-train config.

1. The starting point: the given config, or the recommender's for the task (``start_config``).
2. For the staged strategy, the LR range test gives the LR stage its centre (stored in the study, so
   workers and a resumed run reuse it instead of running it again).
3. Workers (this process, or K spawned processes) run trials until the study holds ``--trials`` finished
   ones; trials already in the study count, so running the same command again resumes it.
4. The top three configurations are re-run over ``--seeds`` seeds; the best mean wins.
5. The run folder gets best_config.yaml, reasons.json, trials.json/csv, finalists.json, plots and report.html.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainwell.config.schema import Config
from trainwell.errors import ConfigError, Problem, TrainingError, TrainwellError, require
from trainwell.files import write_text_atomic
from trainwell.runtime import preserved
from trainwell.tune.runner import PRUNERS, Target, WorkerSpec, create_study, make_worker, spawn_workers
from trainwell.tune.storage import Heartbeat, default_url
from trainwell.tune.strategies import STRATEGIES

FACTORY = "trainwell.tune.objective:engine_setup"


@dataclass
class TuneOptions:
    trials: int = 20
    strategy: str = "staged"
    storage: str | None = None
    study: str | None = None
    workers: int = 1
    seeds: int = 3
    run_dir: str | None = None
    pruner: str = "median"
    find_lr: bool = True
    heartbeat: int = 30  # seconds between heartbeats; a trial is stale after 4 missed beats
    progress: bool | None = None  # None: on a terminal outside CI

    def problems(self) -> list[Problem]:
        out = [
            Problem(f"--{k}", "must be at least 1", getattr(self, k), f"e.g. --{k} 1")
            for k in ("trials", "workers", "seeds", "heartbeat")
            if getattr(self, k) < 1
        ]
        for where, registry, name in (("--strategy", STRATEGIES, self.strategy), ("--pruner", PRUNERS, self.pruner)):
            problem = registry.check(name, where)
            if problem:
                out.append(problem)
        return out


@dataclass
class TuneResult:
    run_dir: Path
    study_name: str
    storage: str
    finished: int
    resumed_from: int
    best: dict[str, Any]
    finalists: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "study": self.study_name,
            "storage": self.storage,
            "finished_trials": self.finished,
            "resumed_from": self.resumed_from,
            "best": self.best,
            "finalists": self.finalists,
            "notes": self.notes,
            "best_config": str(self.run_dir / "best_config.yaml"),
        }


def start_config(path: str | None, overrides: list[str], recipe: str | None = None) -> tuple[Config, list[dict[str, Any]], list[str]]:
    """The config to start from, the recommender's reasons, and notes. Without a file or recipe, the
    recommender's config for the task (with the overrides on top) is the start. A file is completed as
    `trainwell train` completes it (trainwell.run.resolve: every value it leaves unset recommended, with
    its reason); a recipe is a complete preset, taken as it is."""
    from trainwell.config import load_config

    if path or recipe:
        from trainwell.config.io import load_request
        from trainwell.config.resolved import provenance
        from trainwell.recipes.catalog import recipe_dict
        from trainwell.run.resolve import facts_without_training, plan

        request = load_request(path, overrides, base=recipe_dict(recipe) if recipe else None)
        planned = plan(request, None if recipe else facts_without_training(request), None)
        rows = [r for r in provenance(planned.config, planned.origins) if r["kind"] == "recommended"]
        reasons = [{k: r[k] for k in ("field", "value", "rule", "why", "source")} for r in rows]
        notes = [f"values {path} leaves unset: `trainwell config show {path}` ({len(reasons)} recommended)"] if reasons else []
        return planned.config, reasons, notes
    base = load_config(None, overrides)
    try:
        from trainwell.advise.recommender import Profile, recommend

        rec = recommend(Profile.from_task(base.task))
    except (ImportError, TrainwellError) as exc:
        return base, [], [f"started from the defaults: no recommendation for task {base.task!r} ({str(exc).splitlines()[0]})"]
    return (
        load_config(rec.config, overrides),
        [r.to_dict() for r in rec.reasons],
        [f"started from `trainwell recommend --task {base.task}`"],
    )


def study_name_for(config: Config, options: TuneOptions) -> str:
    return options.study or re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{config.task}-{options.strategy}")


ONE_PROCESS = "runs each trial as one process on one device (a torchrun job per trial is not supported)"


def one_process_problems(config: Config) -> list[Problem]:
    """A config whose batch was split over N processes (``distributed.processes``, from `recommend --gpus N`)
    cannot be a trial: trials train in one process, where that batch, and the LR chosen for it, would not hold."""
    n = config.distributed.processes
    if n is None or n == 1:
        return []
    b = config.batch
    return [
        Problem(
            "distributed.processes",
            f"tune {ONE_PROCESS}, and this config's effective batch {b.size} x {b.accumulation} x {n} = {b.across(n)} needs {n} processes",
            n,
            f"tune the one-process config (`trainwell recommend --gpus 1`, or distributed.processes: null with batch.size "
            f"{b.size * n}), then train the winner with `trainwell train CONFIG --nproc N`",
        )
    ]


def tune(config: Config, options: TuneOptions, start_reasons: list[dict[str, Any]] | None = None) -> TuneResult:
    """Run (or resume) a study and write its results; see the module docstring.

    Threads, determinism, the RNGs, the environment and Optuna's log level are as before when it returns."""
    optuna = require("optuna", "tune", "trainwell tune")
    ConfigError.collect([*options.problems(), *one_process_problems(config)])
    verbosity = optuna.logging.get_verbosity()
    try:
        with preserved():
            return _tune(config, options, start_reasons)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _tune(config: Config, options: TuneOptions, start_reasons: list[dict[str, Any]] | None) -> TuneResult:
    from trainwell.config.structure import to_dict
    from trainwell.tune.objective import engine_setup

    name = study_name_for(config, options)
    run_dir = Path(options.run_dir or Path(config.output_dir) / f"tune-{name}")
    run_dir.mkdir(parents=True, exist_ok=True)
    url = options.storage or default_url(run_dir)
    heartbeat = Heartbeat(options.heartbeat, 4 * options.heartbeat)
    study = create_study(url, name, config.evaluation.mode == "max", heartbeat)
    anchor, notes = _anchor(study, config, options, run_dir)
    config, widened = widen_lr(config, anchor)
    notes += [widened] if widened else []
    payload = {"config": to_dict(config), "run_dir": str(run_dir.resolve()), "budget": options.trials}
    _, ctx = engine_setup(payload)
    _store_start(study, config, ctx, options, anchor)
    resumed_from = _finished(study)
    specs = [
        WorkerSpec(
            url,
            name,
            FACTORY,
            payload,
            options.strategy,
            Target(trials=options.trials),
            str(run_dir),
            options.pruner,
            config.seed + i,
            heartbeat,
        )
        for i in range(options.workers)
    ]
    _run(specs, study, options, ctx.maximize, name)
    return finish(study, config, ctx, options, run_dir, url, resumed_from, notes, start_reasons or [])


def _anchor(study: Any, config: Config, options: TuneOptions, run_dir: Path) -> tuple[float | None, list[str]]:
    """The LR finder's LR, computed once per study and stored in it (workers and resumes reuse it)."""
    wanted = (options.strategy == "staged" and options.find_lr) or config.optimizer.lr == "find"  # the start needs a number
    if "anchor_lr" not in study.user_attrs and wanted:
        anchor, note = find_anchor(config, run_dir)
        study.set_user_attr("anchor_lr", anchor)
        return anchor, [note] if note else []
    return study.user_attrs.get("anchor_lr"), []


def widen_lr(config: Config, anchor: float | None) -> tuple[Config, str | None]:
    """Widen the searched LR range so the finder's LR and one grid step either side are inside it:
    the range test measured this model, the guide's table only describes typical ones."""
    from trainwell.config.resolved import replace_paths
    from trainwell.tune.space import build_space

    if anchor is None or "lr" in config.tune.space or "optimizer.lr" in config.tune.space:
        return config, None
    spec = build_space(config).get("lr")
    low, high = min(spec.low, anchor / spec.ratio), max(spec.high, anchor * spec.ratio)  # type: ignore[type-var, operator]
    if (low, high) == (spec.low, spec.high):
        return config, None
    widened = replace_paths(config, {"tune.space": {**config.tune.space, "lr": {"low": low, "high": high, "log": True}}})
    return widened, f"LR range widened to [{low:.3g}, {high:.3g}] to take in the LR finder's {anchor:.3g}"


def _store_start(study: Any, config: Config, ctx: Any, options: TuneOptions, anchor: float | None) -> None:
    """Store the start point in the study once; every worker and every resume reads it from there."""
    if config.optimizer.lr == "find":
        lr_spec = ctx.space.get("lr")
        ctx.start["lr"] = lr_spec.clip(anchor) if anchor else (lr_spec.low * lr_spec.high) ** 0.5
    if "start" not in study.user_attrs:
        study.set_user_attr("start", ctx.start)
        study.set_user_attr("strategy", options.strategy)
        study.set_user_attr("metric", config.evaluation.metric)
    ctx.start, ctx.anchor_lr = study.user_attrs["start"], anchor


def find_anchor(config: Config, run_dir: Path) -> tuple[float | None, str | None]:
    """The LR range test's LR for the start config, or None and a note saying why not. The test sweeps its
    own LRs, so the config's `optimizer.lr` (a number or 'find') does not enter it."""
    try:
        from trainwell.engine.device import resolve_device
        from trainwell.engine.run_folder import write_json
        from trainwell.find.lr_finder import find_lr_for_training
        from trainwell.tasks.catalog import build_task

        lr, record = find_lr_for_training(config, build_task(config), resolve_device(config.training.device))
        write_json(run_dir / "lr_find.json", record)
        return float(lr), None
    except (ImportError, TrainwellError) as exc:
        return None, f"LR finder skipped, the LR stage centres on the start LR: {str(exc).splitlines()[0]}"


def _finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _run(specs: list[WorkerSpec], study: Any, options: TuneOptions, maximize: bool, name: str) -> None:
    from trainwell.tune.progress import LiveTable

    title = f"trainwell tune: {name} ({options.strategy}, {options.workers} worker{'s' if options.workers > 1 else ''})"
    with LiveTable(options.trials, maximize, title, options.progress) as live:
        if len(specs) == 1:
            make_worker(specs[0], on_trial=live.update).run()
        else:
            codes = spawn_workers(specs, monitor=lambda: live.update(study))
            if any(codes):
                raise TrainingError(f"tune workers exited with codes {codes}; the study is saved, run the same command to resume")


def finish(
    study: Any,
    config: Config,
    ctx: Any,
    options: TuneOptions,
    run_dir: Path,
    url: str,
    resumed_from: int,
    notes: list[str],
    start_reasons: list[dict[str, Any]],
) -> TuneResult:
    """Finalists over seeds, the winner's config and reasons, tables, plots and the report."""
    from trainwell.config import dump
    from trainwell.tune import results
    from trainwell.tune.space import apply_params

    trials = study.get_trials(deepcopy=False)
    top = results.top_trials(trials, ctx.maximize)
    if not top:
        raise TrainingError(f"no trial of study {study.study_name!r} completed; see trials.json and each trial's run folder")
    finalists = results.run_finalists(top, options.seeds, config.seed, lambda t, seed: _rerun(config, ctx, t, seed, run_dir))
    winner = results.pick_winner(finalists, ctx.maximize)
    rows = results.trial_rows(trials)
    reasons = results.tuned_reasons(ctx.space, ctx.start, winner, rows, ctx.maximize, config.evaluation.metric)
    best = apply_params(config, ctx.space, winner.params)
    reasons += still_true(start_reasons, best, {r["field"] for r in reasons})
    write_text_atomic(run_dir / "best_config.yaml", results.best_config_text(dump(best), reasons, study.study_name))
    write_text_atomic(run_dir / "reasons.json", json.dumps(reasons, indent=2, default=str) + "\n")
    meta = {
        "study_name": study.study_name,
        "direction": "maximize" if ctx.maximize else "minimize",
        "metric": config.evaluation.metric,
        "strategy": options.strategy,
        "storage": url,
    }
    results.write_tables(run_dir, rows, meta)
    write_text_atomic(run_dir / "finalists.json", json.dumps([f.to_dict() for f in finalists], indent=2, default=str) + "\n")
    note = results.write_study_report(run_dir)
    notes += [note] if note else []
    result = TuneResult(
        run_dir, study.study_name, url, _finished(study), resumed_from, winner.to_dict(), [f.to_dict() for f in finalists], notes
    )
    write_text_atomic(run_dir / "tune_summary.json", json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    return result


def still_true(reasons: list[dict[str, Any]], config: Config, tuned: set[str]) -> list[dict[str, Any]]:
    """The recommender's reasons for values the best config still has (overrides may have changed some)."""
    from trainwell.config.paths import get_path
    from trainwell.config.structure import to_dict

    data = to_dict(config)
    return [
        r
        for r in reasons
        if r.get("field") not in tuned
        and json.dumps(get_path(data, str(r.get("field", ""))), default=str) == json.dumps(r.get("value"), default=str)
    ]


def _rerun(config: Config, ctx: Any, trial: Any, seed: int, run_dir: Path) -> float:
    """One finalist re-run with another seed; a finished run folder is reused (resume-safe)."""
    from trainwell.config.resolved import replace_paths
    from trainwell.run import train
    from trainwell.tune.objective import trial_config

    folder = run_dir / "finalists" / f"trial-{trial.number:04d}-seed-{seed}"
    summary_path = folder / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        if summary.get("best_metric") is not None and summary.get("status") != "failed":
            return float(summary["best_metric"])
    cfg = replace_paths(trial_config(config, ctx.space, dict(trial.params)), {"seed": seed})
    try:
        value = train(cfg, run_dir=folder).summary.get("best_metric")
    except TrainingError:
        value = None
    worst = float("-inf") if ctx.maximize else float("inf")
    return float(value) if value is not None else worst
