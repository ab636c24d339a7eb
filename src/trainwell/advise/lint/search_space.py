"""Read a sweeper's search space from a Hydra config: the Optuna sweeper's ``params`` overrides
(``interval(1e-5, 1e-1)``, ``tag(log, interval(...))``, ``range(...)``, ``choice(...)``), its older
``search_space`` blocks (``{type: float, low, high, log}``), and Hydra's basic sweeper's ``params``.

Parsing is pure string work (no Hydra import): lint must start without the optional sweeper installed.
"""

from __future__ import annotations

import re
from typing import Any

from trainwell.advise.lint.view import SearchParam
from trainwell.values import to_float

_CALL = re.compile(r"^\s*(tag|interval|range|choice)\s*\((.*)\)\s*$", re.S)


def _numbers(text: str) -> list[float] | None:
    values = [to_float(part.strip().split("=")[-1]) for part in text.split(",") if part.strip()]
    return None if any(v is None for v in values) else [v for v in values if v is not None]


def parse_override(name: str, where: str, value: Any) -> SearchParam | None:
    """One sweeper override as a SearchParam, or None when it samples no numbers (a choice of names)."""
    if isinstance(value, dict):  # optuna sweeper < 1.2 / hydra-optuna search_space block
        low, high = to_float(value.get("low")), to_float(value.get("high"))
        if str(value.get("type", "")).lower() in ("float", "int") and low is not None and high is not None:
            return SearchParam(name, where, low, high, value.get("log") is True)
        choices = _numbers(",".join(str(c) for c in value.get("choices", []))) if isinstance(value.get("choices"), list) else None
        return SearchParam(name, where, choices=tuple(choices)) if choices else None
    if isinstance(value, list):
        choices = _numbers(",".join(str(c) for c in value))
        return SearchParam(name, where, choices=tuple(choices)) if choices else None
    match = _CALL.match(str(value))
    if match is None:
        text = str(value)
        choices = _numbers(text) if "," in text else None  # Hydra's basic sweeper: lr: 1e-4,1e-3,1e-2
        return SearchParam(name, where, choices=tuple(choices)) if choices else None
    kind, inner = match.groups()
    if kind == "tag":  # tag(log, interval(a, b)): the tags before the last argument
        head, _, rest = inner.partition("(")
        tags = [t.strip() for t in head.split(",")[:-1]]
        found = parse_override(name, where, head.split(",")[-1].strip() + "(" + rest)
        if found is None:
            return None
        return SearchParam(found.name, found.where, found.low, found.high, found.log or "log" in tags, found.choices)
    numbers = _numbers(inner)
    if not numbers:
        return None
    if kind == "choice":
        return SearchParam(name, where, choices=tuple(numbers))
    if len(numbers) < 2:
        return None
    return SearchParam(name, where, numbers[0], numbers[1])


def read_search_space(data: dict[str, Any]) -> list[SearchParam]:
    """The sampled hyperparameters under ``hydra.sweeper`` (``params`` or ``search_space``)."""
    hydra = data.get("hydra")
    sweeper = hydra.get("sweeper") if isinstance(hydra, dict) else None
    if not isinstance(sweeper, dict):
        return []
    found: list[SearchParam] = []
    for block in ("params", "search_space"):
        section = sweeper.get(block)
        if not isinstance(section, dict):
            continue
        for name, value in section.items():
            param = parse_override(str(name), f"hydra.sweeper.{block}.{name}", value)
            if param is not None:
                found.append(param)
    return found
