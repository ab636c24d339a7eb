"""One error hierarchy for everything trainwell raises on purpose.

Every user-facing error carries *problems*: each one names where it happened, the rule that was
broken, the value received and a fix. The CLI prints them all at once and exits 2, with no traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``where`` (a field path or file), ``rule``, the ``value`` received, a ``fix``."""

    where: str
    rule: str
    value: Any = None
    fix: str = ""

    def render(self) -> str:
        text = f"{self.where}: {self.rule}, but got {self.value!r}"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class TrainwellError(Exception):
    """Base of every error trainwell raises deliberately. ``exit_code`` is what the CLI returns."""

    exit_code = 1

    def __init__(self, message: str = "", problems: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        if not message and self.problems:
            message = self._summary()
        super().__init__(message)

    def _summary(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        return "\n".join([head, *(f"  - {p.render()}" for p in self.problems)])

    def render(self) -> str:
        """The full message for a person: the headline and every problem, one per line."""
        return str(self)


class ConfigError(TrainwellError):
    """A config (or override, or CLI argument) breaks one or more rules. Lists every problem at once."""

    exit_code = 2

    @classmethod
    def collect(cls, problems: Iterable[Problem]) -> None:
        """Raise one ConfigError holding every problem, or return if there are none."""
        found = list(problems)
        if found:
            raise cls(problems=found)


class RegistryError(ConfigError):
    """A name was looked up in a registry and is not there."""


class DataError(TrainwellError):
    """A dataset or log file is missing, unreadable or malformed."""

    exit_code = 2


class MissingDependencyError(TrainwellError):
    """An optional extra is needed for this feature; the message says what to install."""

    exit_code = 3

    def __init__(self, package: str, extra: str, feature: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{feature} needs the optional package '{package}', which is not installed. Fix: pip install 'trainwell[{extra}]'")


class TrainingError(TrainwellError):
    """Training could not go on (for example a non-finite loss with nan_policy=stop)."""


class CheckpointError(TrainwellError):
    """A checkpoint or run folder is missing, incomplete or from an incompatible config."""

    exit_code = 2


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training after checkpointing the current step. A KeyboardInterrupt, not a
    TrainwellError: an interrupt is no mistake, and code that stops on Ctrl-C must still stop. The message
    names the checkpoint and the resume command; the CLI exits 128 + the signal number, as a shell does."""

    def __init__(self, message: str, signum: int, run_dir: str, step: int) -> None:
        super().__init__(message)
        self.signum, self.run_dir, self.step = signum, run_dir, step
        self.exit_code = 128 + signum


class OutputError(TrainwellError):
    """A file could not be written: no space left, a read-only folder, no permission (trainwell/files.py)."""

    exit_code = 2


class Notice(UserWarning):
    """Something the person running trainwell should read, not a problem: the CLI shows it as one plain
    ``trainwell: ...`` line on stderr, and Python's default filter shows each distinct notice once."""


def require(module: str, extra: str, feature: str) -> Any:
    """Import an optional module, or raise MissingDependencyError with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # only the missing module itself becomes a hint
        if exc.name and module.split(".")[0] != exc.name.split(".")[0]:
            raise
        raise MissingDependencyError(module.split(".")[0], extra, feature) from exc
