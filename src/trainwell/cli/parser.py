"""trainwell's command-line parser (``VerbParser``): argparse's, reporting every mistake on a command line at once,
as the config's are."""

from __future__ import annotations

import argparse
import contextlib
import sys
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

    Options are written in full (``allow_abbrev=False``): argparse's prefix matching took ``--e`` for the one
    option starting so, stopped the line at a prefix two options share, and handed ``--npro 2`` to torchrun's
    workers unread (train's launcher strips its flags by their full names). A leaf verb sets each option it does
    not know aside before parsing (``_set_aside``), with the word after it as its value unless that word is an
    option or a verb's key=value override, so the words after it are parsed as if it were not there: argparse
    used to end the positionals at it, and an override after it went unjudged, shown as the option's value.

    Positionals (CONFIG, key=value overrides, files) may come before, between or after options, as people type
    them (``train t.yaml --run-dir r training.epochs=8``). argparse's intermixed parsing cannot drive a parser
    that has subcommands, so only a leaf verb intermixes; ``config`` (which has actions) parses as usual and
    hands its actions' arguments to leaf parsers of this class.
    """

    _intermixing = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # subparsers are made by this class too: every verb, one rule
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
        words = list(args if args is not None else sys.argv[1:])
        parsed: argparse.Namespace | None = None
        extras: list[str] = []
        set_aside: list[list[str]] = []
        if self._subparsers is None:  # a leaf: what is left once its unknown options are set aside is parsed as usual
            args, set_aside = self._set_aside(words)
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
                self._problems[-1:-1] = self._options_before(words, self._unknown_verb)
        finally:
            self._mutually_exclusive_groups = self._all_groups
        if parsed is not None:
            self._problems += self._exclusive(parsed)
        if self._subparsers is None:  # a leaf refuses what it does not know itself (the top level hands the rest on)
            self._problems += [*map(self._unknown_option, set_aside), *self._unknown(extras)]
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

    def _option_word(self, word: str) -> bool:
        """Whether argparse reads ``word`` as an option (argparse's own test: a negative number such as ``-3`` or a
        word with a space is a value, as is ``-`` alone)."""
        if len(word) < 2 or word[0] not in self.prefix_chars or " " in word:
            return False
        return word in self._option_string_actions or not (
            self._negative_number_matcher.match(word) and not self._has_negative_number_optionals
        )

    def _known_option(self, word: str) -> bool:
        """``--name``, ``--name=value``, or a short option with its value or more short flags attached (``-o5``)."""
        actions = self._option_string_actions
        return word in actions or word.split("=", 1)[0] in actions or (word[1] not in self.prefix_chars and word[:2] in actions)

    def _takes_overrides(self) -> bool:
        """Whether this verb takes key=value config overrides after its options."""
        return any(a.dest == "overrides" for a in self._actions)

    def _set_aside(self, words: list[str]) -> tuple[list[str], list[list[str]]]:
        """The words without the options this parser does not know, and those options, each with its value as
        typed: the word after it, unless that word is an option or (for a verb that takes overrides) a key=value
        override, which are the verb's to judge. Words after ``--`` are positionals."""
        overrides = self._takes_overrides()
        kept: list[str] = []
        set_aside: list[list[str]] = []
        i = 0
        while i < len(words):
            word = words[i]
            if word == "--":
                kept += words[i:]
                break
            if not self._option_word(word) or self._known_option(word):
                kept.append(word)
            else:
                taken = [word]
                after = words[i + 1] if i + 1 < len(words) else None
                if "=" not in word and after is not None and after != "--" and not self._option_word(after):
                    if not (overrides and "=" in after):
                        taken.append(after)
                        i += 1
                set_aside.append(taken)
            i += 1
        return kept, set_aside

    def _unknown(self, words: list[str]) -> list[Any]:
        """A problem for each word the verb does not take: an unknown option (with its value, ``_set_aside``) or a
        stray argument."""
        from trainwell.errors import Problem

        stray, options = self._set_aside(words)
        return [
            *map(self._unknown_option, options),
            *(Problem(w, f"is not an argument {self.prog} takes", w, f"remove it (`{self.prog} --help` shows the usage)") for w in stray),
        ]

    def _unknown_option(self, taken: list[str]) -> Any:
        """The problem of an option this parser does not know, ``taken`` being the option and its value as typed."""
        from trainwell.errors import Problem

        name, _, attached = taken[0].partition("=")
        value = attached or (taken[1] if len(taken) > 1 else "")
        return Problem(
            name, f"is not an option of {self.prog}", " ".join(taken), f"{self._nearest(name, value)}`{self.prog} --help` lists its options"
        )

    def _nearest(self, name: str, value: str) -> str:
        """What the user may have meant by unknown option ``name``: the options it begins (options are written in
        full), the config field it names for a verb that takes key=value overrides (``train --epochs 3``), or the
        closest option's name; "" when nothing is close."""
        import difflib

        known = sorted({o for a in self._actions for o in a.option_strings if o.startswith("--")})
        begun = [o for o in known if o.startswith(name) and name.startswith("--")]
        if begun:
            return f"options are written in full: did you mean {' or '.join(begun)}? "
        if self._takes_overrides():
            settings = [f"{field}={value or 'VALUE'}" for field in _config_fields(name.lstrip("-"))]
            if settings:
                return f"a config field is set as key=value: did you mean {' or '.join(settings)}? "
        bare = {o.lstrip("-"): o for o in known}
        close = difflib.get_close_matches(name.lstrip("-"), list(bare), n=1, cutoff=0.7)
        return f"did you mean {bare[close[0]]}? " if close else ""

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


def _config_fields(name: str) -> list[str]:
    """The config fields an unknown option's ``name`` may mean (``epochs``: training.epochs; ``lr``: optimizer.lr;
    ``evaluation-every``: evaluation.every): its dotted path, else the fields whose own name it is, else the
    closest field names. Read only when a command line has such a mistake (the schema is torch-free)."""
    import difflib

    from trainwell.config.schema import Config
    from trainwell.config.structure import field_help

    paths = [path for path, _, _ in field_help(Config)]
    wanted = name.replace("-", "_")
    dotted = [p for p in paths if p == wanted or p.replace(".", "_") == wanted]
    if dotted:
        return dotted
    own = [p for p in paths if p.rsplit(".", 1)[-1] == wanted]
    if own:
        return own[:3]
    close = set(difflib.get_close_matches(wanted, [p.rsplit(".", 1)[-1] for p in paths], n=2, cutoff=0.8))
    return [p for p in paths if p.rsplit(".", 1)[-1] in close][:3]


def _name(action: argparse.Action) -> str:
    """How a person names an argument: its long option (``--output`` for ``-o/--output``), or its metavar."""
    if action.option_strings:
        return max(action.option_strings, key=len)
    return str(action.metavar or action.dest)
