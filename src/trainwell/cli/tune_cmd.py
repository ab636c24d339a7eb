"""`trainwell tune [CONFIG] [overrides] --trials N [--strategy staged|tpe|tpe-plain|random] [--storage URL]
[--study NAME] [--workers K] [--seeds S] [--format text|json] [--run-dir DIR]`."""

from __future__ import annotations

import argparse
from typing import Any

from trainwell.cli.common import add_config_args, add_format, doctor_lines, print_json, split_config_args


def configure(p: argparse.ArgumentParser) -> None:
    from trainwell.tune.runner import PRUNERS
    from trainwell.tune.strategies import STRATEGIES

    p.description = (
        "Without CONFIG the recommended config for the task is the start. Running the same command again resumes the "
        "study; the same command on another machine with --storage joins it."
    )
    add_config_args(p)
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (trials already there count)")
    p.add_argument(
        "--strategy",
        default="staged",
        choices=STRATEGIES.names(),
        help="staged: priority order from the start config (default); tpe: Optuna TPE with the start as trial 0",
    )
    p.add_argument("--storage", help="Optuna storage URL (sqlite:///..., postgresql://...) or journal:FILE; default RUN_DIR/study.db")
    p.add_argument("--study", help="study name (default TASK-STRATEGY); the same name resumes or joins")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine, sharing the study")
    p.add_argument("--seeds", type=int, default=3, help="seeds each of the top 3 configs is re-run over; the best mean wins")
    p.add_argument("--pruner", default="median", choices=PRUNERS.names(), help="Optuna pruner applied at each evaluation")
    p.add_argument("--run-dir", help="study folder (default OUTPUT_DIR/tune-STUDY)")
    p.add_argument("--no-find-lr", action="store_true", help="staged: centre the LR stage on the start LR instead of the LR range test")
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="not supported: each trial trains in one process on one device; train the winner with `trainwell train CONFIG --nproc N`",
    )
    p.add_argument("--heartbeat", type=int, default=30, help="seconds between worker heartbeats; a trial is retried after 4 missed")
    add_format(p)
    p.set_defaults(run=run, check=_problems)


def _options(args: argparse.Namespace) -> Any:
    from trainwell.tune.api import TuneOptions

    return TuneOptions(
        trials=args.trials,
        strategy=args.strategy,
        storage=args.storage,
        study=args.study,
        workers=args.workers,
        seeds=args.seeds,
        run_dir=args.run_dir,
        pruner=args.pruner,
        find_lr=not args.no_find_lr,
        heartbeat=args.heartbeat,
        progress=False if args.format == "json" else None,
    )


def _problems(args: argparse.Namespace) -> list[Any]:
    """The search's options and the config's problems, for a command line with other mistakes."""
    from trainwell.cli.common import config_problems

    return [*_options(args).problems(), *config_problems(args)]


def run(args: argparse.Namespace) -> int:
    from trainwell.errors import require
    from trainwell.tune.api import start_config, tune

    require("optuna", "tune", "trainwell tune")
    import os

    from trainwell.errors import ConfigError, Problem
    from trainwell.tune.api import ONE_PROCESS

    # every rank would run its own study; --nproc would be dropped
    fix = "train the winner on many devices with `trainwell train CONFIG --nproc N`"
    ConfigError.collect(
        [
            *([Problem("--nproc", f"tune {ONE_PROCESS}", args.nproc, f"drop --nproc; {fix}")] if args.nproc is not None else []),
            *(
                [
                    Problem(
                        "tune",
                        f"{ONE_PROCESS}, and was started by torchrun",
                        os.environ["WORLD_SIZE"],
                        f"run `trainwell tune` without torchrun; {fix}",
                    )
                ]
                if "WORLD_SIZE" in os.environ
                else []
            ),
        ]
    )
    path, overrides = split_config_args(args)
    config, reasons, notes = start_config(path, overrides, getattr(args, "recipe", None))
    options = _options(args)
    try:
        with doctor_lines():
            result = tune(config, options, reasons)
    except KeyboardInterrupt:
        import shlex

        # The study keeps every finished trial; the same command resumes it (it printed only "interrupted").
        again = shlex.join(["trainwell", *getattr(args, "argv", [])])
        raise KeyboardInterrupt(
            f"interrupted; the study keeps its finished trials: run the same command again to go on ({again})"
        ) from None
    result.notes[:0] = notes
    if args.format == "json":
        print_json(result.to_dict())
        return 0
    best = result.best
    print(f"study {result.study_name}: {result.finished} finished trials ({result.resumed_from} before this run), storage {result.storage}")
    for f in result.finalists:
        print(f"  finalist trial {f['trial']}: mean {f['mean']:.4g} ± {f['std']:.2g} over seeds {f['seeds']}")
    print(f"winner: trial {best['trial']} (mean {best['mean']:.4g})  " + ", ".join(f"{k}={v!r}" for k, v in best["params"].items()))
    print(f"ready-to-train config: {result.run_dir / 'best_config.yaml'}  (trainwell train {result.run_dir / 'best_config.yaml'})")
    for note in result.notes:
        print(f"note: {note}")
    return 0
