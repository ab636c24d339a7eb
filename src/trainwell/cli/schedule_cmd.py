"""`trainwell schedule CONFIG --steps N [--plot out.png]`: print or plot the LR over training."""

from __future__ import annotations

import argparse

from trainwell.cli.common import add_config_args, add_format, load_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("schedule", help="print or plot the LR schedule a config produces")
    add_config_args(p)
    p.add_argument("--steps", type=int, required=True, help="total optimizer steps")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="for epoch-based schedules (default: steps / epochs)")
    p.add_argument("--plot", help="write a PNG of the curve here (needs trainwell[plot])")
    p.add_argument("--every", type=int, default=None, help="print every Nth step (default: about 20 rows)")
    add_format(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from trainwell.config.io import validate
    from trainwell.errors import ConfigError, Problem
    from trainwell.optim.schedules import multipliers

    config = load_from_args(args)
    if args.steps < 1:
        raise ConfigError(problems=[Problem("--steps", "`steps >= 1` must hold", args.steps, "pass --steps 1000")])
    ConfigError.collect(validate(config, total_steps=args.steps))
    lr = config.optimizer.lr if isinstance(config.optimizer.lr, float) else 1.0
    spe = args.steps_per_epoch or max(1, args.steps // config.training.epochs)
    mult = multipliers(config.schedule.name, args.steps, config.schedule.warmup, config.schedule, spe, lr)
    lrs = [lr * m for m in mult]
    if args.plot:
        from trainwell.report.plots import plot_schedule

        plot_schedule(lrs, title=f"{config.schedule.name} (warmup {config.schedule.warmup})").savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")
    if args.format == "json":
        print_json({"schedule": config.schedule.name, "steps": args.steps, "lr": lrs})
    elif not args.plot:
        every = args.every or max(1, args.steps // 20)
        for s in [*range(0, args.steps, every), args.steps - 1]:
            print(f"step {s:>7}  lr {lrs[s]:.6g}")
    return 0
