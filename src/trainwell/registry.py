"""A small generic registry: name -> entry, with did-you-mean lookup and filtered listing.

Optimizers, schedules, losses, tasks, rules, checks, finder rules and CLI verbs all live in one of
these, so tests can be generated from ``names()`` and nothing dispatches through if/elif chains.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from trainwell.errors import Problem, RegistryError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    """A fix hint naming the closest choice, or listing them all when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if close:
        return f"did you mean '{close[0]}'? (choices: {', '.join(sorted(choices))})"
    return f"choose one of: {', '.join(sorted(choices))}"


class Registry(Generic[T]):
    """Maps names to entries of one kind. ``kind`` appears in error messages ("optimizer", ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, entry: T, help: str = "") -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry
        self._help[name] = help or (getattr(entry, "__doc__", None) or "").strip().split("\n")[0]
        return entry

    def decorator(self, name: str, help: str = "") -> Callable[[T], T]:
        """``@REGISTRY.decorator("name")`` registers the decorated object under ``name``."""

        def wrap(entry: T) -> T:
            return self.register(name, entry, help)

        return wrap

    def get(self, name: str, where: str = "") -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(
                problems=[
                    Problem(
                        where=where or self.kind,
                        rule=f"must name a registered {self.kind}",
                        value=name,
                        fix=did_you_mean(str(name), list(self._entries)),
                    )
                ]
            ) from None

    def check(self, name: str, where: str) -> Problem | None:
        """The problem a name would raise in ``get``, or None: for validators that collect errors."""
        if name in self._entries:
            return None
        return Problem(where, f"must name a registered {self.kind}", name, did_you_mean(str(name), list(self._entries)))

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def describe(self, name: str) -> str:
        self.get(name)
        return self._help.get(name, "")

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
