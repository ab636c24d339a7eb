"""`trainwell batch-find [CONFIG] [overrides] [--format text|json]`: the largest batch that fits, and the line to paste."""

from __future__ import annotations

import argparse
from typing import Any

from trainwell.cli.common import add_config_args, add_format, print_json, request_from_args


def configure(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    add_format(p)
    p.set_defaults(run=_run)


def _text(rec: dict[str, Any]) -> str:
    lines = [f"device        {rec['device']} (limit: {rec['limit']})"]
    for probe in rec["probes"]:
        mark = "fits" if probe["fits"] else "FAILS"
        peak = f"{probe['peak_mb']:.1f} MB" if probe["peak_mb"] is not None else "-"
        lines.append(f"  batch {probe['size']:>6}  {mark:<5} {peak:>12}")
    lines.append(f"largest fit   {rec['max_fit']}; chosen {rec['chosen']}")
    per = f" per process x {rec['processes']} processes" if rec["processes"] > 1 else ""
    lines.append(
        f"train with    batch {rec['size']} x accumulation {rec['accumulation']}{per} "
        f"(effective {rec['effective_before']} -> {rec['effective_after']})"
    )
    lines.extend(f"  - {r}" for r in rec["reasons"])
    lines.append("guide 000 §4.1.1: discover once, then hard-code it. Paste:")
    lines.append(f"  {rec['paste']}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from trainwell.engine.device import resolve_device
    from trainwell.engine.distributed import batch_find_problems
    from trainwell.errors import ConfigError
    from trainwell.find.batch_finder import find_batch_for_training
    from trainwell.run.resolve import before_measuring
    from trainwell.tasks.catalog import build_task

    # What `trainwell train` resolves (unset values recommended; a recipe as it is): with keep_effective off
    # the LR that gets rescaled is the one the run would train with, never the schema's default.
    config = before_measuring(request_from_args(args), recommend=not args.recipe)
    ConfigError.collect(batch_find_problems(config))
    device = resolve_device(config.training.device)
    _, record = find_batch_for_training(config, build_task(config), device)
    if args.format == "json":
        print_json(record)
    else:
        print(_text(record))
    return 0
