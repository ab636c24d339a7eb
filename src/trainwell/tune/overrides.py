"""``tune.space``: fix, re-range or add search parameters from the config.

``{lr: 1e-3}`` fixes a parameter (it is written into every trial's config and not searched);
``{lr: [1e-5, 1e-2]}`` or ``{lr: {low: 1e-5, high: 1e-2, log: true}}`` sets its range; a list of other
length (or ``{choices: [...]}``) makes it a choice; a dotted config path the defaults do not search
(``model.hidden: [64, 512]``, ``batch.size: [16, 128]``) adds a parameter in its priority place. Every
problem is collected into one ConfigError.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from trainwell.errors import ConfigError, Problem
from trainwell.registry import did_you_mean
from trainwell.tune.spec import CATEGORIES, Kind, ParamSpec, SearchSpace


def apply_overrides(params: list[ParamSpec], overrides: dict[str, Any], known_paths: set[str]) -> SearchSpace:
    """Fix, re-range or add parameters from a ``tune.space`` mapping; all problems raised at once."""
    problems: list[Problem] = []
    by_name = {p.name: p for p in params}
    by_path = {p.path: p for p in params}
    fixed: dict[str, Any] = {}
    for key, value in overrides.items():
        where = f"tune.space.{key}"
        spec = by_name.get(key) or by_path.get(key)
        if spec is None:
            if key not in known_paths:
                problems.append(
                    Problem(
                        where, "must name a tunable parameter or a config path", key, did_you_mean(key, sorted(set(by_name) | known_paths))
                    )
                )
                continue
            spec = _new_param(key, value, where, problems)
            if spec is None:
                continue
        if _is_fixed(value):
            fixed[spec.path] = value
            by_name.pop(spec.name, None)
            continue
        updated = _ranged(spec, value, where, problems)
        if updated is not None:
            by_name[spec.name] = updated
    ConfigError.collect(problems)
    ordered = sorted(by_name.values(), key=lambda p: CATEGORIES.index(p.category))
    return SearchSpace(tuple(ordered), fixed)


def _is_fixed(value: Any) -> bool:
    return not isinstance(value, (list, tuple, dict))


def _ranged(spec: ParamSpec, value: Any, where: str, problems: list[Problem]) -> ParamSpec | None:
    """A spec with the range or choices the override gives."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"low", "high", "log", "choices"})
        if unknown:
            problems.append(
                Problem(where, "a range mapping takes only low, high, log or choices", unknown, "e.g. {low: 1e-5, high: 1e-2, log: true}")
            )
            return None
        if "choices" in value:
            return _with_choices(spec, value["choices"], where, problems)
        low, high, log = value.get("low"), value.get("high"), value.get("log", spec.log)
    elif len(value) == 2 and all(_is_number(v) for v in value) and spec.kind != "categorical":
        (low, high), log = value, spec.log
    else:
        return _with_choices(spec, list(value), where, problems)
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float))) or isinstance(low, bool) or isinstance(high, bool):
        problems.append(Problem(where, "low and high must be numbers", value, "e.g. [1e-5, 1e-2]"))
        return None
    if not low < high:
        problems.append(Problem(where, "`low < high` must hold", f"low={low}, high={high}", "swap or widen the bounds"))
        return None
    if log and low <= 0:
        problems.append(Problem(where, "a log-scale range needs low > 0", low, "use a positive low, or log: false"))
        return None
    kind: Kind = "int" if spec.kind == "int" or (spec.kind == "categorical" and all(isinstance(v, int) for v in (low, high))) else "float"
    return replace(
        spec,
        kind=kind,
        low=float(low) if kind == "float" else int(low),
        high=float(high) if kind == "float" else int(high),
        log=bool(log),
        choices=(),
        probes=tuple(p for p in spec.probes if low <= p <= high),
        ratio=spec.ratio or (math.sqrt(10.0) if log else 0.0),
    )


def _with_choices(spec: ParamSpec, choices: list[Any], where: str, problems: list[Problem]) -> ParamSpec | None:
    if len(choices) < 2:
        problems.append(
            Problem(where, "needs at least two choices (or one value to fix it)", choices, "give [a, b, ...] or a single value")
        )
        return None
    ordered = all(_is_number(c) for c in choices)
    return replace(
        spec,
        kind="categorical",
        choices=tuple(sorted(choices) if ordered else choices),
        ordered=ordered,
        low=None,
        high=None,
        log=False,
        probes=(),
        ratio=0.0,
    )


def _new_param(path: str, value: Any, where: str, problems: list[Problem]) -> ParamSpec | None:
    """A parameter for a config path the defaults do not search (model width, batch size, ...)."""
    category = _category_of(path)
    name = "batch_size" if path == "batch.size" else path
    if _is_fixed(value):
        return ParamSpec(name, path, "categorical", category, choices=(value,))
    sample = list(value.values()) if isinstance(value, dict) else list(value)
    numbers = [v for v in sample if _is_number(v)]
    is_int = bool(numbers) and all(isinstance(v, int) for v in numbers)
    base = ParamSpec(name, path, "int" if is_int else "float", category, low=0, high=1)
    if isinstance(value, (list, tuple)) and len(value) == 2 and len(numbers) == 2 and numbers[0] > 0 and numbers[1] / numbers[0] >= 100:
        value = {"low": numbers[0], "high": numbers[1], "log": True}
    return _ranged(base, value, where, problems)


def _category_of(path: str) -> str:
    if path.startswith("model."):
        return "dropout" if path.split(".")[-1] in {"dropout", "drop_path"} else "architecture"
    return {"batch.size": "batch_size", "training.epochs": "epochs", "optimizer.name": "optimizer"}.get(path, "max_grad_norm")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
