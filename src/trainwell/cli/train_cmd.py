"""`trainwell train [CONFIG] [key=value ...] [--recipe NAME] [--run-dir DIR] [--resume RUN_DIR] [--init-from RUN]`.

What CONFIG and the key=value overrides set is yours; every value they leave unset is the recommender's
for config.task (digits unless set), with why each was chosen in reasons.json, with or without a file
(`trainwell config show` prints the same resolution with each value's provenance). A --recipe is a
complete preset and is taken as it is. Torch is imported only when training starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.cli.common import add_config_args, add_format, doctor_lines, print_json, split_config_args

if TYPE_CHECKING:
    from trainwell.config.resolved import ConfigRequest


def configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Train with a config file, a recipe or the recommended defaults for config.task, "
        "writing a run folder (config, environment, metrics, checkpoints, summary, report)."
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
    launch = p.add_argument_group(
        "many processes (torchrun)",
        "`--nproc N` runs `python -m torch.distributed.run --nproc-per-node N -m trainwell train ...` (the same as torchrun); "
        "each process trains batch.size items per micro-step, so the effective batch is size x accumulation x processes",
    )
    launch.add_argument("--nproc", type=int, metavar="N", help="processes on this machine (one per GPU; CPU processes use gloo)")
    for flag, help_ in LAUNCH_FLAGS.items():
        launch.add_argument(flag, metavar="VALUE", help=help_)
    add_format(p)
    p.set_defaults(run=_run, check=_problems)


def _problems(args: argparse.Namespace) -> list[Any]:
    """--nproc's range and the config's problems as `train` loads it (a resumed run's config.yaml, ...), for a
    command line with other mistakes."""
    from trainwell.cli.common import config_problems

    return [*(_nproc_problems(args.nproc) if args.nproc is not None else []), *config_problems(args, _load)]


def _nproc_problems(nproc: int) -> list[Any]:
    from trainwell.errors import Problem

    if 1 <= nproc <= 4096:
        return []
    return [Problem("--nproc", "must be a number of processes from 1 to 4096", nproc, "e.g. --nproc 2")]


# torchrun's multi-node flags, handed to it as they are
LAUNCH_FLAGS = {
    "--nnodes": "torchrun: number of nodes (or MIN:MAX)",
    "--node-rank": "torchrun: this node's rank (static rendezvous)",
    "--rdzv-backend": "torchrun: rendezvous backend, e.g. c10d",
    "--rdzv-endpoint": "torchrun: rendezvous host:port",
    "--rdzv-id": "torchrun: job id shared by all nodes",
    "--master-addr": "torchrun: address of node 0 (static rendezvous)",
    "--master-port": "torchrun: port on node 0 (static rendezvous)",
}


def _flag(args: argparse.Namespace, flag: str) -> str | None:
    """The value argparse parsed for a launcher flag (``--rdzv-id`` -> ``args.rdzv_id``)."""
    return getattr(args, flag.lstrip("-").replace("-", "_"))  # type: ignore[no-any-return]


def launch(command: list[str]) -> int:
    """Run torchrun and hand back its exit code (cli/launcher.py: a failed rank's own code, in one line)."""
    import subprocess

    return subprocess.call(command)


def launch_command(argv: list[str], args: argparse.Namespace) -> list[str]:
    """The torchrun command for ``trainwell train ... --nproc N``: the launcher flags go to torchrun, the
    rest to each process's `trainwell train`. One machine without rendezvous flags runs --standalone
    (torchrun picks a free port). torchrun runs through cli/launcher.py, which reports a failed job in a line."""
    import sys

    from trainwell.errors import ConfigError

    ConfigError.collect(_nproc_problems(args.nproc))
    ours = {"--nproc", *LAUNCH_FLAGS}
    launcher: list[str] = []
    rest: list[str] = []
    it = iter(argv)
    for token in it:
        name = token.split("=", 1)[0]
        if name in ours:
            value = token.split("=", 1)[1] if "=" in token else next(it, "")
            if name != "--nproc":
                launcher += [name, value]
        else:
            rest.append(token)
    multi_node = any(_flag(args, f) for f in ("--rdzv-endpoint", "--master-addr", "--nnodes"))
    return [
        sys.executable, "-m", "trainwell.cli.launcher", "--nproc-per-node", str(args.nproc),
        *([] if multi_node else ["--standalone"]), *launcher, "-m", "trainwell", *rest,
    ]  # fmt: skip


def _load(args: argparse.Namespace) -> tuple[ConfigRequest, bool, str]:
    """The request (loaded once), whether the recommender fills what it leaves unset, and a note for people.

    A config file and the key=value overrides are what you set; every other value is recommended for the
    task with its reason, exactly as with no file. A recipe is a complete preset, a resumed run keeps its
    own config.yaml, and a run started from other weights takes its config as it is.
    """
    from trainwell.cli.common import request_from_args
    from trainwell.config.io import load_request
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
        return _init_from(args, config, overrides), False, f"weights from {args.init_from}"
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
        return load_request(_resume_config(Path(args.resume)), overrides), False, f"resuming {args.resume}"
    request = request_from_args(args)
    if args.recipe:
        return request, False, f"recipe {args.recipe}" + (f" under config {config}" if config else "")
    if config is None:
        return request, True, f"recommended defaults for task '{request.config.task}'"
    return request, True, f"config {config}; every value it leaves unset recommended for task '{request.config.task}'"


def _init_from(args: argparse.Namespace, config: str | None, overrides: list[str]) -> ConfigRequest:
    """A new run from another run's weights: its config is CONFIG/--recipe, else that run's config.yaml."""
    import dataclasses

    from trainwell.cli.common import request_from_args
    from trainwell.config.io import load_request
    from trainwell.errors import ConfigError, Problem

    source = Path(args.init_from)
    if config or args.recipe:
        request = request_from_args(args)
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
        request = load_request(saved, overrides)
    config_ = dataclasses.replace(request.config, init_from=str(source))
    return dataclasses.replace(request, config=config_, given=request.given | {"init_from"})


def _resume_config(run: Path) -> Path:
    """The config.yaml of the run folder --resume names; a missing folder, a checkpoints/step-N folder or a
    folder `train` did not write is refused with what to pass instead."""
    from trainwell.errors import ConfigError, Problem

    saved = run / "config.yaml"
    if saved.is_file():
        return saved
    if (run.parent.parent / "config.yaml").is_file() and run.parent.name == "checkpoints":
        fix = f"pass the run folder, trainwell train --resume {run.parent.parent} (it continues from its latest checkpoint); to start a new run from this checkpoint's weights: trainwell train --init-from {run}"
    elif run.is_dir():
        fix = "pass a folder `trainwell train` wrote (it holds config.yaml and checkpoints/)"
    else:
        fix = "check the path: pass a folder `trainwell train` wrote"
    raise ConfigError(problems=[Problem("--resume", "must be a run folder holding config.yaml", str(run), fix)])


def _launcher_flags_need_nproc(args: argparse.Namespace) -> None:
    """torchrun's node flags mean something only to the launcher that --nproc starts: without it they would
    be dropped, and a job meant for several nodes would train alone on this one."""
    from trainwell.errors import ConfigError, Problem

    given = [f for f in LAUNCH_FLAGS if _flag(args, f) is not None]
    ConfigError.collect(
        [
            Problem(
                flag,
                "is a torchrun flag, handed to the launcher that --nproc starts, and --nproc is not given",
                _flag(args, flag),
                "add --nproc N (the processes on this node), or give it to torchrun itself: "
                f"torchrun {flag} ... --nproc-per-node N -m trainwell train ...",
            )
            for flag in given
        ]
    )


def _check_launch(args: argparse.Namespace) -> None:
    """Every problem with the run that the launcher can see (the config, its cross-field rules, the
    distributed section, a resume), reported once before any process starts: each rank would report it
    again, and torchrun its failure after them (run/orchestrator.py: check_launch)."""
    from trainwell.run.orchestrator import check_launch

    request, recommend, _ = _load(args)
    nodes = _flag(args, "--nnodes") or "1"
    processes = args.nproc * int(nodes) if nodes.isdigit() else None  # an elastic MIN:MAX: not known before the rendezvous
    check_launch(request, resume=args.resume, processes=processes, recommend=recommend)


def _run(args: argparse.Namespace) -> int:
    import os

    if args.nproc is None:
        _launcher_flags_need_nproc(args)
    if args.nproc is not None:
        if "WORLD_SIZE" in os.environ:
            from trainwell.errors import ConfigError, Problem

            raise ConfigError(
                problems=[
                    Problem(
                        "--nproc",
                        "launches torchrun, and this process was already started by it",
                        args.nproc,
                        "drop --nproc under torchrun",
                    )
                ]
            )
        command = launch_command(args.argv, args)
        _check_launch(args)
        return launch(command)
    from trainwell.engine.checkpoint import latest_checkpoint
    from trainwell.engine.finish import NO_CHECKPOINT
    from trainwell.run import train

    request, recommend, source = _load(args)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 speaks for the job
        train(request, run_dir=args.run_dir, resume=args.resume, recommend=recommend)
        return 0
    if args.format == "text":
        print(f"trainwell train: task {request.config.task}, {source}")
        if args.resume and latest_checkpoint(Path(args.resume) / "checkpoints") is None:
            print(f"trainwell train: {NO_CHECKPOINT}")
    with doctor_lines():
        result = train(request, run_dir=args.run_dir, resume=args.resume, recommend=recommend)
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
    batch = summary.get("batch")
    if batch:
        print(
            f"effective batch: {batch['effective']} = {batch['size']} per process x {batch['accumulation']} accumulation "
            f"x {batch['processes']} process(es)"
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
