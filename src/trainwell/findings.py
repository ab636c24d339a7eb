"""One ``Finding`` for everything trainwell notices: the doctor's findings on a training curve and
lint's findings on a config file are the same type, on one severity scale, with one set of JSON keys.

It sits at the bottom layer (beside ``registry`` and ``values``) because the doctor and lint share it
while neither may import the other. A doctor finding fills ``step`` and ``evidence`` (the curve's
points that show it); a lint finding fills ``where`` and ``value`` (the key and what it held). The
rest is common: ``rule`` (the check's id), ``severity``, ``message``, ``fix`` and ``source`` (the guide
section or rationale the rule comes from).

JSON (findings.json, lint.json, ``--format json``) always has every key::

    {"rule", "severity", "message", "where", "value", "step", "evidence", "fix", "source"}

``Finding.from_dict`` also reads the keys run folders written before this type existed: ``code`` for
``rule`` and severity ``critical`` for ``error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class Severity(StrEnum):
    """How urgently a finding needs action, ordered info < warning < error; ranked highest first.

    A ``StrEnum`` so that JSON, the CLI and comparisons with the plain names read naturally
    (``finding.severity == "error"``); ``<`` and ``>=`` compare urgency, not spelling.
    """

    INFO = "info"  # it worked; a change would save time or gain a little
    WARNING = "warning"  # it works badly: the fix changes the result
    ERROR = "error"  # it is broken: the run's model (or the config as written) is not worth using

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """A severity from its name, also the doctor's old name ``critical`` (read from old run folders)."""
        low = str(text).strip().lower()
        return cls(_OLD_NAMES.get(low, low))

    def __lt__(self, other: object) -> bool:
        return self.rank < Severity.parse(str(other)).rank

    def __le__(self, other: object) -> bool:
        return self.rank <= Severity.parse(str(other)).rank

    def __gt__(self, other: object) -> bool:
        return self.rank > Severity.parse(str(other)).rank

    def __ge__(self, other: object) -> bool:
        return self.rank >= Severity.parse(str(other)).rank


SeverityName = Literal["info", "warning", "error"]  # a severity as checks may write it: Finding parses it

_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}
_OLD_NAMES = {"critical": "error"}


@dataclass(frozen=True)
class Point:
    """One piece of a doctor finding's evidence: the value ``series`` had at ``step``, and what it shows."""

    series: str
    step: float
    value: float
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"series": self.series, "step": self.step, "value": json_number(self.value), "label": self.label}


@dataclass(frozen=True)
class Finding:
    """What a check saw, where, the evidence for it, and the change that addresses it."""

    rule: str  # the check's id: "divergence", "load-best-cadence"
    severity: Severity
    message: str
    fix: str = ""
    source: str = ""  # where the rule comes from: guide file and section, or the stated rationale
    where: str = ""  # lint: the key in the file the finding is about
    value: Any = None  # lint: what that key held
    step: float | None = None  # doctor: where the problem starts, for plots and live warnings
    evidence: tuple[Point, ...] = ()  # doctor: the points of the curve that show it

    def __post_init__(self) -> None:
        # A check may name its severity as a plain string; the finding always holds the enum.
        object.__setattr__(self, "severity", Severity.parse(self.severity))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "message": self.message,
            "where": self.where,
            "value": self.value,
            "step": self.step,
            "evidence": [p.to_dict() for p in self.evidence],
            "fix": self.fix,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """A finding from ``to_dict``'s JSON, or from the doctor's older one (``code``, ``critical``)."""
        evidence = tuple(
            Point(str(p.get("series", "")), float(p.get("step") or 0), float(p.get("value", math.nan)), str(p.get("label", "")))
            for p in data.get("evidence") or ()
            if isinstance(p, dict)
        )
        return cls(
            rule=str(data.get("rule") or data.get("code") or ""),
            severity=Severity.parse(data.get("severity") or "info"),
            message=str(data.get("message") or ""),
            fix=str(data.get("fix") or ""),
            source=str(data.get("source") or ""),
            where=str(data.get("where") or ""),
            value=data.get("value"),
            step=data.get("step"),
            evidence=evidence,
        )


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """A finding's JSON with today's keys, whichever version wrote it (a reader of old run folders)."""
    return Finding.from_dict(data).to_dict()


def json_number(value: float) -> float | str:
    """JSON has no NaN/Inf; write them as strings so findings.json stays strict JSON."""
    return value if math.isfinite(value) else str(value)
