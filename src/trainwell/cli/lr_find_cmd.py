"""`trainwell lr-find [CONFIG] [overrides] [--recipe NAME] [--plot lr.png] [--format text|json]`: the LR range test."""

from __future__ import annotations

import argparse
from typing import Any

from trainwell.cli.common import add_config_args, add_format, print_json, request_from_args


def configure(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--plot", help="write a PNG of loss against LR with each rule's pick (needs trainwell[plot])")
    p.add_argument("--curve", action="store_true", help="with --format json: include the whole recorded curve")
    add_format(p)
    p.set_defaults(run=_run)


def _text(data: dict[str, Any]) -> str:
    lines = [
        f"suggested LR  {data['suggested_lr']:.3g}  ({data['reason']})" if data["suggested_lr"] else f"no suggestion: {data['reason']}"
    ]
    if data["peak_lr"] is not None:
        lines.append(f"peak LR       {data['peak_lr']:.3g}  ({data['peak_reason']})")
    for name, pick in data["rules"].items():
        lines.append(f"  {name:<10} {pick['lr']:.3g}  {pick['reason']}" if pick else f"  {name:<10} -  no answer on this curve")
    verdict = "reliable" if data["reliable"] else "NOT reliable"
    lines.append(f"verdict       {verdict}" + "".join(f"\n  - {r}" for r in data["reasons"]))
    stop = data["stopped_early"] or "ran every step"
    lines.append(f"sweep         {data['steps_run']} steps in {data['elapsed_s']:.2f}s; {stop}")
    if data["peak_lr"] is not None:
        lines.append(f"paste         optimizer.lr={data['peak_lr']:.3g}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from trainwell.engine.progress import ProgressBar, progress_enabled
    from trainwell.find.lr_finder import lr_find
    from trainwell.run.resolve import before_measuring

    # What `trainwell train` resolves (unset values recommended; a recipe as it is), so the sweep is the run's.
    config = before_measuring(request_from_args(args), recommend=not args.recipe)
    # The bar only where a person reads text: JSON output is for scripts.
    bar = ProgressBar(config.lr_find.steps, 0, args.format == "text" and progress_enabled("auto"), "lr-find", transient=True)
    try:
        result = lr_find(config, progress=lambda step, total, lr, loss: bar.set(step, f"lr {lr:.3g}  loss {loss:.4g}"))
    finally:
        bar.close()
    if args.plot:
        from trainwell.report.plots import plot_lr_find

        plot_lr_find(result.to_json(with_curve=True)).savefig(args.plot, dpi=110)
    data = result.to_json(with_curve=args.curve)
    if args.format == "json":
        print_json(data)
    else:
        print(_text(data))
        if args.plot:
            print(f"wrote {args.plot}")
    return 0
