"""`trainwell config validate|show|fields|optimizers|schedules`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trainwell.cli.common import add_config_args, add_format, print_json, request_from_args


def configure(p: argparse.ArgumentParser) -> None:
    verbs = p.add_subparsers(dest="config_verb", metavar="ACTION", required=True)

    v = verbs.add_parser("validate", help="check a config; lists every problem and exits 2 if any")
    v.add_argument("file")
    v.set_defaults(run=_validate)

    s = verbs.add_parser("show", help="print the config `train` would resolve (unset values recommended) and where each value comes from")
    add_config_args(s)
    add_format(s, ("yaml", "json"))
    s.add_argument(
        "--provenance",
        action="store_true",
        help="with --format json: {config, provenance: [{field, value, kind, why, rule, source}]} (YAML always ends with it as comments)",
    )
    s.set_defaults(run=_show)

    f = verbs.add_parser("fields", help="list every config field with its default and help")
    add_format(f)
    f.set_defaults(run=_fields)

    for name in ("optimizers", "schedules", "losses", "tasks"):
        r = verbs.add_parser(name, help=f"list registered {name}")
        r.set_defaults(run=_lister(name))


def _validate(args: argparse.Namespace) -> int:
    from trainwell.config import load_config

    config = load_config(args.file)
    print(f"{args.file}: valid")
    if ":" in config.task:  # valid, and not inert: say so (README: configs that name code)
        print(f"note: task {config.task} is code: train, lr-find, batch-find and tune import and call it")
    return 0


def _show(args: argparse.Namespace) -> int:
    """The config `trainwell train` would resolve from these arguments, and where each value comes from:
    set by you (file, recipe, override), recommended for the task (rule and source), or the schema's default.
    A recipe is taken as it is, as `train` takes it. Measurements (`optimizer.lr: find`) are made by `train`."""
    from trainwell.config import dump
    from trainwell.config.resolved import Origin, provenance
    from trainwell.run.resolve import facts_without_training, plan
    from trainwell.tasks.catalog import with_model_options

    request = request_from_args(args)
    planned = plan(request, None if getattr(args, "recipe", None) else facts_without_training(request), None)
    config = with_model_options(planned.config)  # every model option, as the run folder's config.yaml records them
    from_task = Origin("default", f"task {config.task}'s model default (docs/tasks.md)")
    origins = {**{f"model.{key}": from_task for key in config.model if key not in planned.config.model}, **planned.origins}
    rows = provenance(config, origins)
    if args.format == "json":
        from trainwell.config.structure import to_dict

        print_json({"config": to_dict(config), "provenance": rows} if args.provenance else to_dict(config))
        return 0
    sys.stdout.write(dump(config, "yaml"))
    sys.stdout.write(_provenance_comments(rows))
    return 0


def _provenance_comments(rows: list[dict[str, Any]]) -> str:
    """Where the values above came from, as YAML comments (the output stays a loadable config)."""
    lines = ["", "# Where each value comes from:"]
    for kind in ("user", "recommended", "measured"):
        for row in (r for r in rows if r["kind"] == kind):
            why = f" ({row['rule']}: {row['why']}; {row['source']})" if kind == "recommended" else ""
            lines.append(f"# {kind}: {row['field']} = {row['value']!r}{why}")
    lines.append("# default: every other value (the schema's defaults: `trainwell config fields`; a task's model options: docs/tasks.md)")
    return "\n".join(lines) + "\n"


def _fields(args: argparse.Namespace) -> int:
    from trainwell.config import Config, field_help

    rows = field_help(Config)
    if args.format == "json":
        print_json([{"field": f, "default": d, "help": h} for f, h, d in rows])
    else:
        for f, h, d in rows:
            print(f"{f:<32} {d!s:<14} {h}")
    return 0


def _lister(kind: str):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        from trainwell.optim.losses import LOSSES
        from trainwell.optim.optimizers import OPTIMIZERS
        from trainwell.optim.schedules import SCHEDULES
        from trainwell.registry import Registry
        from trainwell.tasks.catalog import TASKS

        registries: dict[str, Registry[Any]] = {"optimizers": OPTIMIZERS, "schedules": SCHEDULES, "losses": LOSSES, "tasks": TASKS}
        registry = registries[kind]
        for name in registry.names():
            print(f"{name:<24} {registry.describe(name)}")
        return 0

    return run
