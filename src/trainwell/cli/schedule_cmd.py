"""`trainwell schedule CONFIG --steps N [--plot out.png]`: print or plot the LR over training.

A schedule is a pure function of the step, so only the rows shown (and the points plotted) are computed:
the cost does not grow with ``--steps``, and the output is bounded (``MAX_ROWS``). With ``optimizer.lr:
find`` the peak is not known before the range test, so the verb shows the schedule's shape: the
multiplier of the peak LR at each step, named as such (JSON key ``multiplier``, not ``lr``).
"""

from __future__ import annotations

import argparse

from trainwell.cli.common import add_config_args, add_format, load_from_args, print_json

MAX_STEPS = 10**12  # far beyond any run; a bound so that a typo is an error, not a surprise
MAX_ROWS = 100_000  # about 3 MB of JSON; --every thins a longer run
JSON_ROWS = 10_000  # the default --format json resolution: every step up to this many steps
PLOT_POINTS = 2_000


def configure(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--steps", type=int, required=True, help="total optimizer steps")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="for epoch-based schedules (default: steps / epochs)")
    p.add_argument("--plot", help="write a PNG of the curve here (needs trainwell[plot])")
    p.add_argument(
        "--every",
        type=int,
        default=None,
        help=f"print every Nth step (default: about 20 rows; with --format json every step up to {JSON_ROWS:,})",
    )
    add_format(p)
    p.set_defaults(run=_run)


def _check(args: argparse.Namespace) -> list:  # type: ignore[type-arg]
    from trainwell.errors import Problem

    problems = []
    if not 1 <= args.steps <= MAX_STEPS:
        problems.append(Problem("--steps", f"`1 <= steps <= {MAX_STEPS:.0e}` must hold", args.steps, "pass --steps 1000"))
    if args.steps_per_epoch is not None and not 1 <= args.steps_per_epoch <= MAX_STEPS:
        problems.append(
            Problem("--steps-per-epoch", f"`1 <= steps_per_epoch <= {MAX_STEPS:.0e}` must hold", args.steps_per_epoch, "omit it")
        )
    if args.every is not None and args.every < 1:
        problems.append(Problem("--every", "`every >= 1` must hold", args.every, "pass --every 100"))
    elif args.every is not None and 1 <= args.steps <= MAX_STEPS and args.steps // args.every > MAX_ROWS:
        problems.append(
            Problem(
                "--every",
                f"must leave at most {MAX_ROWS:,} rows",
                f"{args.steps // args.every:,} rows",
                f"pass --every {-(-args.steps // MAX_ROWS)}",
            )
        )
    return problems


def _rows(steps: int, every: int) -> list[int]:
    return sorted({*range(0, steps, every), steps - 1})


def _run(args: argparse.Namespace) -> int:
    from trainwell.config.io import validate
    from trainwell.errors import ConfigError
    from trainwell.optim.schedules import multipliers

    config = load_from_args(args)
    ConfigError.collect(_check(args))
    ConfigError.collect(validate(config, total_steps=args.steps))
    peak = None if config.optimizer.lr == "find" else config.optimizer.peak
    quantity = "lr" if peak is not None else "multiplier"  # of the peak LR, which the range test will set
    spe = args.steps_per_epoch or max(1, args.steps // config.training.epochs)

    def values_at(steps: list[int]) -> list[float]:
        shape = multipliers(config.schedule.name, args.steps, config.schedule.warmup, config.schedule, spe, peak, at=steps)
        return shape if peak is None else [peak * m for m in shape]

    if args.plot:
        from trainwell.report.plots import plot_schedule

        points = _rows(args.steps, max(1, args.steps // PLOT_POINTS))
        title = f"{config.schedule.name} (warmup {config.schedule.warmup})" + ("" if peak else ": multiplier of the peak LR (lr: find)")
        plot_schedule(values_at(points), title=title, steps=points).savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")
    if args.format == "json":
        rows = _rows(args.steps, args.every or -(-args.steps // JSON_ROWS))
        print_json({"schedule": config.schedule.name, "steps": args.steps, "step": rows, quantity: values_at(rows)})
    elif not args.plot:
        rows = _rows(args.steps, args.every or max(1, args.steps // 20))
        if peak is None:
            print("optimizer.lr: find: the LR range test sets the peak; each row is the multiplier of that peak")
        for s, value in zip(rows, values_at(rows)):
            print(f"step {s:>7}  {quantity} {value:.6g}")
    return 0
