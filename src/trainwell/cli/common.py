"""Helpers shared by verbs: config arguments, output formats."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from typing import Any


def add_config_args(p: argparse.ArgumentParser, recipe: bool = True) -> None:
    """CONFIG [key=value ...] [--recipe NAME]: the way every verb that takes a config accepts it."""
    p.add_argument("config", nargs="?", help="YAML or JSON config file (omit for defaults)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optimizer.lr=1e-4")
    if recipe:
        p.add_argument("--recipe", help="start from a named recipe (see `trainwell recipes ls`)")
    p.set_defaults(check=config_problems)


def config_problems(args: argparse.Namespace, load: Any = None) -> list[Any]:
    """The problems of CONFIG, --recipe and the overrides (``load``: how the verb reads them, by default
    ``request_from_args``), for a command line with other mistakes: VerbParser reports them all at once."""
    from trainwell.errors import TrainwellError

    try:
        (load or request_from_args)(args)
    except TrainwellError as exc:  # a ConfigError, or a DataError for a file that cannot be read
        return exc.problems
    return []


def split_config_args(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """argparse cannot tell 'CONFIG' from a first override: an argument with '=' is an override."""
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config:
        overrides.insert(0, config)
        config = None
    return config, overrides


def request_from_args(args: argparse.Namespace) -> Any:
    """CONFIG [--recipe NAME] [key=value ...] as a ConfigRequest (``trainwell.config.resolved``): read
    once, types and ranges checked, the fields you set recorded; `train` and the finders resolve it."""
    from trainwell.config.io import load_request
    from trainwell.recipes.catalog import recipe_dict

    config, overrides = split_config_args(args)
    recipe = getattr(args, "recipe", None)
    label = f"recipe {recipe}" if recipe else f"config {config}" if config else ""
    return load_request(config, overrides, base=recipe_dict(recipe) if recipe else None, label=label)


def load_from_args(args: argparse.Namespace) -> Any:
    from trainwell.config import load_config
    from trainwell.recipes.catalog import recipe_dict

    config, overrides = split_config_args(args)
    recipe = getattr(args, "recipe", None)
    return load_config(config, overrides, base=recipe_dict(recipe) if recipe else None)


def add_format(p: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    p.add_argument("--format", choices=choices, default=choices[0], help="output format")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


@contextlib.contextmanager
def plain_warnings(kind: type[Warning]) -> Iterator[None]:
    """Show warnings of ``kind`` as one plain line each on stderr (not Python's file:line form); every
    other warning keeps Python's own display."""
    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        if issubclass(category, kind):
            print(f"trainwell: {message}", file=sys.stderr)
        else:
            original(message, category, *rest, **kw)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


@contextlib.contextmanager
def doctor_lines() -> Iterator[None]:
    """The live doctor's warnings as plain lines, for every verb that trains (train, tune)."""
    from trainwell.doctor.live import DoctorWarning

    with plain_warnings(DoctorWarning):
        yield
