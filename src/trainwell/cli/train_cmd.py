"""`trainwell train [CONFIG] [key=value ...] [--recipe NAME] [--run-dir DIR] [--resume RUN_DIR] [--init-from RUN]`.

With neither CONFIG nor --recipe, it trains config.task (digits unless overridden) with the
recommender's values for that task, writes why each value was chosen to reasons.json, and applies the
overrides on top. Torch is imported only when training starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainwell.cli.common import add_config_args, add_format, doctor_lines, load_from_args, print_json, split_config_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "train",
        help="train a model; with no arguments, digits with the recommended defaults",
        description="Train with a config file, a recipe or the recommended defaults for config.task, "
        "writing a run folder (config, environment, metrics, checkpoints, summary, report).",
    )
    add_config_args(p)
    p.add_argument("--run-dir", help="write the run here (default: output_dir/<task>-<UTC time>)")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its latest checkpoint, exactly; key=value may change only what keeps the run "
        "meaningful (length, patience, cadences, LR) and is recorded",
    )
    p.add_argument(
        "--init-from",
        metavar="RUN_OR_CHECKPOINT",
        help="a new run starting from these weights (a run folder's latest checkpoint, or checkpoints/step-N); "
        "without CONFIG it takes that run's config.yaml, with key=value on top",
    )
    add_format(p)
    p.set_defaults(run=_run)


def _recommended(overrides: list[str]) -> tuple[Any, list[dict[str, Any]], str]:
    """The recommender's config for config.task with the overrides on top, its reasons and a note."""
    from trainwell.advise.model_facts import task_profile_facts
    from trainwell.advise.recommender import Profile, recommend
    from trainwell.config import load_config

    given = load_config(None, overrides)
    task = given.task
    overridden = {o.split("=", 1)[0].strip() for o in overrides}
    # The task's model is built once here and its facts read (size, width, depth; a user task's TaskFacts too):
    # the LR law needs them, and a `model.hidden=512` override is a different model than the recorded default.
    facts = {**task_profile_facts(given), **_facts_from_overrides(given, overridden)}
    rec = recommend(Profile.from_task(task, **facts))
    # A value you set yourself has your reason, not ours.
    reasons = [r.to_dict() for r in rec.reasons if r.field not in overridden]
    return (
        load_config(rec.config, [f"task={task}", *overrides]),
        reasons,
        f"recommended defaults for task '{task}' ({len(reasons)} reasons)",
    )


def _facts_from_overrides(given: Any, keys: set[str]) -> dict[str, Any]:
    """Overrides (``keys``: the fields they set) that change the task's facts reach the recommender: a smaller
    `data.limit` is a smaller dataset (its LR, batch and cadence differ), and `training.epochs` is the user's epoch budget."""
    from trainwell.tasks.catalog import TASKS

    facts: dict[str, Any] = {}
    size = None if ":" in given.task else TASKS.get(given.task, "task").facts.dataset_size
    if "data.limit" in keys and given.data.limit is not None:
        facts["dataset_size"] = min(given.data.limit, size) if size else given.data.limit
    if "training.epochs" in keys:
        facts["epochs"] = given.training.epochs
    return facts


def _load(args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]] | None, str]:
    from trainwell.config import load_config
    from trainwell.errors import ConfigError, Problem

    config, overrides = split_config_args(args)
    if args.resume and args.init_from:
        raise ConfigError(
            problems=[
                Problem(
                    "--init-from",
                    "starts a new run, and --resume continues one; they do not go together",
                    args.init_from,
                    "drop one of them",
                )
            ]
        )
    if args.init_from:
        return _init_from(args, config, overrides)
    if args.resume:
        if config or args.recipe:
            raise ConfigError(
                problems=[
                    Problem(
                        "--resume",
                        "resumes the run's own config.yaml; CONFIG and --recipe do not apply",
                        config or args.recipe,
                        "drop them, or pass key=value overrides only",
                    )
                ]
            )
        return load_config(Path(args.resume) / "config.yaml", overrides), None, f"resuming {args.resume}"
    if config is None and not args.recipe:
        return _recommended(overrides)
    return load_from_args(args), None, f"config {config}" if config else f"recipe {args.recipe}"


def _init_from(args: argparse.Namespace, config: str | None, overrides: list[str]) -> tuple[Any, None, str]:
    """A new run from another run's weights: its config is CONFIG/--recipe, else that run's config.yaml."""
    import dataclasses

    from trainwell.config import load_config
    from trainwell.errors import ConfigError, Problem

    source = Path(args.init_from)
    if config or args.recipe:
        base = load_from_args(args)
    else:
        # a run folder, or one of its checkpoints/step-N folders
        saved = next((d / "config.yaml" for d in (source, source.parent.parent) if (d / "config.yaml").is_file()), None)
        if saved is None:
            raise ConfigError(
                problems=[
                    Problem(
                        "--init-from",
                        "without CONFIG takes the config.yaml of the run the weights come from, and there is none",
                        str(source),
                        "pass a run folder `trainwell train` wrote, or add CONFIG or --recipe",
                    )
                ]
            )
        base = load_config(saved, overrides)
    return dataclasses.replace(base, init_from=str(source)), None, f"weights from {source}"


def _run(args: argparse.Namespace) -> int:
    from trainwell.engine.checkpoint import latest_checkpoint
    from trainwell.engine.finish import NO_CHECKPOINT
    from trainwell.run import train

    config, reasons, source = _load(args)
    if args.format == "text":
        print(f"trainwell train: task {config.task}, {source}")
        if args.resume and latest_checkpoint(Path(args.resume) / "checkpoints") is None:
            print(f"trainwell train: {NO_CHECKPOINT}")
    with doctor_lines():
        result = train(config, run_dir=args.run_dir, resume=args.resume, reasons=reasons)
    if args.format == "json":
        print_json({"run_dir": str(result.run_dir), "source": source, "summary": result.summary})
        return 0
    _print_summary(result.run_dir, result.summary)
    return 0


def _print_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    best = summary.get("best_metric")
    print(f"status: {summary['status']} ({summary['stop_reason']})")
    print(
        f"steps: {summary['steps']} ({summary['epochs']:.2f} epochs) in {summary['wall_time_s']:.1f} s, "
        f"{summary['samples_per_s'] or 0:.0f} samples/s on {summary['device']} ({summary['precision']})"
    )
    if best is not None:
        print(f"best {summary['metric']}: {best:.4g} at step {summary['best_step']}")
    if summary.get("final"):
        print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in summary["final"].items()))
    for line in finder_lines(run_dir):
        print(line)
    if summary.get("report_note"):
        print(f"no report: {summary['report_note']}")
    print(f"results: {run_dir}")
    names = ("summary.json", "metrics.jsonl", "report.html", "reasons.json", "findings.json", "lr_find.json", "batch_find.json")
    files = [n for n in names if (run_dir / n).exists()]
    print("  " + ", ".join(files) + ", checkpoints/")


def finder_lines(run_dir: Path) -> list[str]:
    """What `optimizer.lr: find` and `batch.auto_find` decided, from their records in the run folder.

    An unreliable range test still trains (the LR is the best the curve offers), so the verdict's reasons
    are printed where the person who asked for `find` will read them, not only in lr_find.json.
    """
    from trainwell.report.rundata import read_json

    lines: list[str] = []
    found = read_json(run_dir / "lr_find.json", lines)  # an unreadable record becomes a line saying so
    if found is not None:
        verdict = "reliable" if found.get("reliable") else "NOT reliable: " + "; ".join(found.get("reasons") or [])
        lines.append(f"lr-find: trained with LR {found['used_lr']:.3g} ({verdict})")
        if not found.get("reliable"):
            lines.append("  check the curve with `trainwell lr-find CONFIG --plot lr.png`, or set optimizer.lr to a number")
    batch = read_json(run_dir / "batch_find.json", lines)
    if batch is not None:
        lines.append(
            f"batch-find: batch {batch['size']} x accumulation {batch['accumulation']} (largest fit {batch['max_fit']} under "
            f"{batch['limit']}); to hard-code it: {batch['paste']}"
        )
    return lines
