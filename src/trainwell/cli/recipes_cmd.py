"""`trainwell recipes ls | show NAME`: the guides' named configurations. Train one with
`trainwell train --recipe NAME [key=value ...]`."""

from __future__ import annotations

import argparse
import sys

from trainwell.cli.common import print_json


def configure(p: argparse.ArgumentParser) -> None:
    verbs = p.add_subparsers(dest="recipes_verb", metavar="ACTION", required=True)
    ls = verbs.add_parser("ls", help="list recipes with a one-line summary")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(run=_ls)
    show = verbs.add_parser("show", help="print a recipe's commented YAML (or the full resolved config)")
    show.add_argument("name")
    show.add_argument("--resolved", action="store_true", help="print the full validated config with defaults filled in")
    show.add_argument("--format", choices=("yaml", "json"), default="yaml", help="format of --resolved output")
    show.set_defaults(run=_show)


def _ls(args: argparse.Namespace) -> int:
    from trainwell.recipes.catalog import RECIPES

    if args.format == "json":
        print_json([{"name": n, "help": RECIPES.describe(n), "path": str(RECIPES.get(n).path)} for n in RECIPES.names()])
        return 0
    width = max((len(n) for n in RECIPES.names()), default=0)
    for name in RECIPES.names():
        print(f"{name:<{width}}  {RECIPES.describe(name)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from trainwell.recipes.catalog import RECIPES, recipe_dict

    info = RECIPES.get(args.name, "recipe")
    if not args.resolved:
        sys.stdout.write(info.text())
        return 0
    from trainwell.config import dump, load_config

    sys.stdout.write(dump(load_config(base=recipe_dict(args.name)), args.format))
    return 0
