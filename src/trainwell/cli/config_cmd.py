"""`trainwell config validate|show|fields|optimizers|schedules`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trainwell.cli.common import add_config_args, add_format, load_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="validate, show and explain configs")
    verbs = p.add_subparsers(dest="config_verb", metavar="ACTION", required=True)

    v = verbs.add_parser("validate", help="check a config; lists every problem and exits 2 if any")
    v.add_argument("file")
    v.set_defaults(run=_validate)

    s = verbs.add_parser("show", help="print the resolved config with defaults filled in")
    add_config_args(s)
    add_format(s, ("yaml", "json"))
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
    from trainwell.config import dump

    sys.stdout.write(dump(load_from_args(args), args.format))
    return 0


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
