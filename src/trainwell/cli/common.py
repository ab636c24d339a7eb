"""Helpers shared by verbs: config arguments, output formats."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from typing import Any, NoReturn


class _Stopped(Exception):
    """argparse cannot go on past this mistake (a verb it does not know, a required argument missing): the
    problems found so far are reported."""


_BAD = object()  # stands for a value that did not convert, so parsing goes on to find the other problems
_TYPE_RULES = {int: ("must be a whole number", "10"), float: ("must be a number", "2.5")}


class VerbParser(argparse.ArgumentParser):
    """trainwell's command-line parser: argparse's, with two changes.

    Every mistake on a command line is reported at once, as the config's are: a problem each (the flag, the
    rule, the value received, a fix) in one ConfigError (exit 2, no usage dump). argparse stops at the first
    bad value; here a value that does not convert or is not a choice is recorded and parsing goes on, and the
    verb's own checks (``check`` in its defaults: a function of the parsed arguments returning problems) judge
    the values that did parse. An option given without its value (``--nproc`` at the end of the line) is a
    problem and parsing goes on; an unknown verb is reported with the options before it that the parser does not
    know (the words after it belong to a verb, so they are judged once the verb is named). ``--help`` is
    argparse's, untouched.

    Positionals (CONFIG, key=value overrides, files) may come before, between or after options, as people type
    them (``train t.yaml --run-dir r training.epochs=8``). argparse's intermixed parsing cannot drive a parser
    that has subcommands, so only a leaf verb intermixes; ``config`` (which has actions) parses as usual and
    hands its actions' arguments to leaf parsers of this class.
    """

    _intermixing = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_on_error = False  # argparse's ArgumentError reaches parse_known_args below, with its argument
        self._problems: list[Any] = []
        self._bad: set[str] = set()  # the destinations of values that did not convert, are not a choice or are missing
        self._unknown_verb: str | None = None  # the word where a parser with subcommands met no verb it knows
        self._all_groups: list[Any] = self._mutually_exclusive_groups  # also while parsing sets them aside

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:  # type: ignore[override]
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        from trainwell.errors import ConfigError

        self._problems, self._bad, self._unknown_verb = [], set(), None
        parsed: argparse.Namespace | None = None
        extras: list[str] = []
        # argparse stops at the second option of an exclusive group; judged after parsing instead (_exclusive)
        self._all_groups, self._mutually_exclusive_groups = self._mutually_exclusive_groups, []
        try:
            if self._subparsers is not None or not self._get_positional_actions():
                parsed, extras = super().parse_known_args(args, namespace)
            else:
                # parse_known_intermixed_args calls parse_known_args twice (options, then positionals): plain parsing there.
                self._intermixing = True
                try:
                    parsed, extras = self.parse_known_intermixed_args(args, namespace)
                finally:
                    self._intermixing = False
        except argparse.ArgumentError as exc:  # a mistake argparse stops at: a missing value, two exclusive options
            self._problems.append(self._stopped_problem(exc))
        except _Stopped:
            if self._unknown_verb is not None:  # the options before it first, in the order they were typed
                self._problems[-1:-1] = self._options_before(list(args if args is not None else sys.argv[1:]), self._unknown_verb)
        finally:
            self._mutually_exclusive_groups = self._all_groups
        if parsed is not None:
            self._problems += self._exclusive(parsed)
        if self._subparsers is None:  # a leaf refuses what it does not know itself (the top level hands the rest on)
            self._problems += self._unknown(extras)
            extras = []
        if self._problems:
            if parsed is not None:
                self._problems += self._verb_checks(parsed)
            raise ConfigError(problems=self._problems)
        assert parsed is not None
        return parsed, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # left over at the top level: `trainwell --foo`
            from trainwell.errors import ConfigError

            raise ConfigError(problems=self._unknown(extras))
        return parsed

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError:
            from trainwell.errors import Problem

            name = _name(action)
            rule, example = _TYPE_RULES.get(action.type, (f"must be a valid {getattr(action.type, '__name__', 'value')}", "..."))  # type: ignore[call-overload]
            self._problems.append(Problem(name, rule, arg_string, f"e.g. {name} {example}" if action.option_strings else f"e.g. {example}"))
            self._bad.add(action.dest)
            return _BAD

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if value is _BAD or action.choices is None or value in action.choices:
            return
        from trainwell.errors import Problem
        from trainwell.registry import did_you_mean

        choices = [str(c) for c in action.choices]
        if isinstance(action, argparse._SubParsersAction):  # no verb to parse the rest with
            kind = str(action.metavar or "command").lower()
            article = "an" if kind[:1] in "aeiou" else "a"
            self._problems.append(
                Problem(
                    f"{self.prog} {action.metavar}", f"must name {article} {kind} of {self.prog}", value, did_you_mean(str(value), choices)
                )
            )
            self._unknown_verb = str(value)
            raise _Stopped
        self._problems.append(Problem(_name(action), f"must be one of {', '.join(choices)}", value, did_you_mean(str(value), choices)))
        self._bad.add(action.dest)

    def _match_argument(self, action: argparse.Action, arg_strings_pattern: str) -> int:
        """How many of the words after an option are its values; an option without its value (``--nproc`` last,
        or followed by another option) is a problem, and parsing goes on with the words after it."""
        try:
            return super()._match_argument(action, arg_strings_pattern)
        except argparse.ArgumentError as exc:
            if not action.option_strings:
                raise
            self._problems.append(self._stopped_problem(exc))
            self._bad.add(action.dest)  # set to [] by argparse: the verb's checks see its default (_verb_checks)
            return 0

    def _options_before(self, words: list[str], verb: str) -> list[Any]:
        """The options before an unknown verb that this parser does not take (``trainwell --bogus trian``):
        argparse set them aside for the verb's parser, which never ran."""
        before = words[: words.index(verb)] if verb in words else []
        return self._unknown([w for w in before if w.startswith("-") and w.split("=", 1)[0] not in self._option_string_actions])

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        """The mistakes argparse reports with a message alone: required arguments missing, words left over."""
        from trainwell.errors import Problem

        required, unknown = "the following arguments are required: ", "unrecognized arguments: "
        if message.startswith(required):
            for name in message[len(required) :].split(", "):
                self._problems.append(
                    Problem(name, "is required", "nothing", f"e.g. `{self.prog} {self._example(name)}` (`{self.prog} --help`)")
                )
        elif message.startswith(unknown):
            self._problems += self._unknown(message[len(unknown) :].split(" "))
        else:  # argparse's other complaints (none is known to reach here): its own words
            self._problems.append(Problem(self.prog, message, "this command line", f"`{self.prog} --help` shows what it takes"))
        raise _Stopped

    def format_usage(self) -> str:
        with self._groups_shown():
            return super().format_usage()

    def format_help(self) -> str:  # `--help` is printed while parsing, when the groups are set aside
        with self._groups_shown():
            return super().format_help()

    @contextlib.contextmanager
    def _groups_shown(self) -> Iterator[None]:
        shown = self._mutually_exclusive_groups
        self._mutually_exclusive_groups = self._all_groups
        try:
            yield
        finally:
            self._mutually_exclusive_groups = shown

    def _exclusive(self, parsed: argparse.Namespace) -> list[Any]:
        """A problem for each exclusive group given more than one of its options (or none, when it is required)."""
        from trainwell.errors import Problem

        problems = []
        for group in self._all_groups:
            names = [_name(a) for a in group._group_actions]
            given = [_name(a) for a in group._group_actions if getattr(parsed, a.dest, a.default) is not a.default]
            if len(given) > 1:
                problems.append(
                    Problem(
                        given[-1],
                        f"cannot be given together with {', '.join(given[:-1])}",
                        " and ".join(given),
                        f"keep one of {' and '.join(given)}",
                    )
                )
            elif not given and group.required:
                problems.append(Problem(" | ".join(names), "one of these is required", "none of them", f"add one of {', '.join(names)}"))
        return problems

    def _stopped_problem(self, exc: argparse.ArgumentError) -> Any:
        from trainwell.errors import Problem

        name = exc.argument_name or self.prog
        if exc.message.startswith("ambiguous option: "):  # `--e` could be --epochs or --eval
            option, _, matches = exc.message.removeprefix("ambiguous option: ").partition(" could match ")
            return Problem(option.split("=")[0], f"could be any of {matches}", option, "write the option in full")
        if exc.message.startswith("expected"):  # `--epochs` with nothing after it
            return Problem(name, f"needs a value ({exc.message})", "nothing", f"e.g. {self._example(name)} (`{self.prog} --help`)")
        if exc.message.startswith("ignored explicit argument "):  # `--resume=yes` for an option that takes no value
            value = exc.message.removeprefix("ignored explicit argument ").strip("'")
            return Problem(name, "takes no value", value, f"write {name} alone")
        if exc.message.startswith("not allowed with argument "):
            other = exc.message.removeprefix("not allowed with argument ")
            return Problem(name, f"cannot be given together with {other}", f"{name} and {other}", f"keep one of {name} and {other}")
        return Problem(name, exc.message, "", f"`{self.prog} --help` shows what it takes")

    def _example(self, name: str) -> str:
        """How argument ``name`` is written with a value, from its help: ``--steps STEPS``, or ``FILE``."""
        action = next((a for a in self._actions if name in (*a.option_strings, a.metavar, a.dest)), None)
        if action is None or not action.option_strings:
            return name.upper()
        return f"{name} {action.metavar or action.dest.upper()}"

    def _unknown(self, words: list[str]) -> list[Any]:
        """A problem for each word the verb does not take: an unknown option (with the value after it, and the
        closest option's name) or a stray argument."""
        import difflib

        from trainwell.errors import Problem

        known = sorted({o for a in self._actions for o in a.option_strings if o.startswith("--")})
        problems, i = [], 0
        while i < len(words):
            word = words[i]
            if word.startswith("-") and len(word) > 1:
                name = word.split("=", 1)[0]
                taken = [word]
                while i + 1 < len(words) and not words[i + 1].startswith("-"):  # its value, as typed
                    i += 1
                    taken.append(words[i])
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]}? " if close else ""
                problems.append(
                    Problem(name, f"is not an option of {self.prog}", " ".join(taken), f"{hint}`{self.prog} --help` lists its options")
                )
            else:
                problems.append(
                    Problem(word, f"is not an argument {self.prog} takes", word, f"remove it (`{self.prog} --help` shows the usage)")
                )
            i += 1
        return problems

    def _verb_checks(self, parsed: argparse.Namespace) -> list[Any]:
        """The verb's own checks (``check`` in its defaults) of the values that did parse: the rest are unset."""
        check = getattr(parsed, "check", None)
        if check is None:
            return []
        for action in self._actions:
            if action.dest in self._bad:  # already reported: the verb judges the others
                setattr(parsed, action.dest, action.default)
        found: list[Any] = check(parsed)
        return found


def _name(action: argparse.Action) -> str:
    """How a person names an argument: its long option (``--output`` for ``-o/--output``), or its metavar."""
    if action.option_strings:
        return max(action.option_strings, key=len)
    return str(action.metavar or action.dest)


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
