"""Turn plain dicts (from YAML, JSON or overrides) into typed config dataclasses and back.

Conversion never stops at the first problem: every unknown key, wrong type and out-of-range value is
collected, so a user fixes a config in one pass. Numeric strings such as "2e-5" become numbers because
PyYAML reads a float without a dot as a string.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

from trainwell.errors import Problem
from trainwell.registry import did_you_mean

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_hints_cache: dict[type, dict[str, Any]] = {}
# The largest integer a JSON reader (a float64) keeps exact; any count or seed beyond it is a typo.
MAX_INT = 2**53


def hints(cls: type) -> dict[str, Any]:
    if cls not in _hints_cache:
        _hints_cache[cls] = typing.get_type_hints(cls)
    return _hints_cache[cls]


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_describe(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    if origin in (list, tuple, dict):
        return str(tp).replace("typing.", "")
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    pass


def _number(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        return float(text) if any(c in text for c in ".eE") else int(text)
    return value


Converter = Callable[[Any, Any, str, list[Problem]], Any]


def _literal(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    choices = get_args(tp)
    if isinstance(value, bool):
        # YAML 1.1 reads off/no/on/yes as booleans (`logging.progress=off`); map them back to the word.
        words = ("on", "yes", "true") if value else ("off", "no", "false")
        value = next((w for w in words if w in choices), value)
    if value in choices and not isinstance(value, bool):
        return value
    raise _Mismatch


def _union(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    args = get_args(tp)
    if value is None and type(None) in args:
        return None
    # Literal members win over str so "auto" is not swallowed by a str branch.
    for arg in sorted(args, key=lambda a: 0 if get_origin(a) is Literal else 1):
        if arg is type(None):
            continue
        try:
            return _convert(value, arg, path, problems)
        except _Mismatch:
            continue
    raise _Mismatch


def _bool(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
        return value.lower() in ("true", "yes", "on")
    raise _Mismatch


def _int(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    value = _number(value)
    if isinstance(value, bool):
        raise _Mismatch
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Mismatch


def _float(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    value = _number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Mismatch
    return float(value)


def _str(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    if isinstance(value, str):
        return value
    raise _Mismatch


def _list(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    (item,) = get_args(tp)
    return [_convert_item(v, item, f"{path}[{i}]", problems) for i, v in enumerate(value)]


def _tuple(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    args = get_args(tp)
    if not isinstance(value, (list, tuple)) or len(value) != len(args):
        raise _Mismatch
    return tuple(_convert_item(v, a, f"{path}[{i}]", problems) for i, (v, a) in enumerate(zip(value, args)))


def _dict(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    if not isinstance(value, dict):
        raise _Mismatch
    _, vt = get_args(tp)
    return {str(k): (v if vt is Any else _convert_item(v, vt, f"{path}.{k}", problems)) for k, v in value.items()}


# How each kind of annotation converts: generic origins first, then plain types.
_BY_ORIGIN: dict[Any, Converter] = {Literal: _literal, Union: _union, types.UnionType: _union, list: _list, tuple: _tuple, dict: _dict}
_BY_TYPE: dict[Any, Converter] = {bool: _bool, int: _int, float: _float, str: _str}


def _convert(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    """Convert ``value`` to type ``tp``; raise _Mismatch when it cannot be (caller reports it)."""
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise _Mismatch
        return from_dict(tp, value, path, problems)
    convert = _BY_ORIGIN.get(get_origin(tp)) or _BY_TYPE.get(tp)
    if convert is None:
        raise _Mismatch
    return convert(value, tp, path, problems)


def _convert_item(value: Any, tp: Any, path: str, problems: list[Problem]) -> Any:
    try:
        return _convert(value, tp, path, problems)
    except _Mismatch:
        problems.append(Problem(path, f"must be {_describe(tp)}", value, f"give a value of type {_describe(tp)}"))
        return value


def from_dict(cls: type, data: dict[str, Any], path: str, problems: list[Problem]) -> Any:
    """Build ``cls`` from ``data``, appending every problem (unknown keys, wrong types) to ``problems``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    types_ = hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in fields:
            problems.append(Problem(where, "is not a known config key", value, did_you_mean(str(key), list(fields))))
            continue
        kwargs[key] = _convert_item(value, types_[key], where, problems)
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A plain, YAML/JSON-safe dict (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def check_ranges(obj: Any, path: str, problems: list[Problem]) -> None:
    """Apply each field's metadata rules (ge, gt, le, lt) to numbers, and to every number in a list."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        where = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            check_ranges(value, where, problems)
            continue
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                check_ranges(item, f"{where}[{i}]", problems)
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            magnitude = _magnitude(v, where)
            if magnitude:
                problems.append(magnitude)
                continue
            for key, ok, words in (
                ("ge", lambda a, b: a >= b, ">="),
                ("gt", lambda a, b: a > b, ">"),
                ("le", lambda a, b: a <= b, "<="),
                ("lt", lambda a, b: a < b, "<"),
            ):
                bound = f.metadata.get(key)
                if bound is not None and not ok(v, bound):
                    problems.append(Problem(where, f"`{f.name} {words} {bound}` must hold", v, f"set {where} {words} {bound}"))


def _magnitude(value: float, where: str) -> Problem | None:
    """Every number in a config is finite, and every integer is one that JSON, YAML and torch keep exactly:
    `batch.size: 1e23` is a clear error here rather than an overflow deep inside training."""
    if isinstance(value, float) and not math.isfinite(value):
        return Problem(where, "must be a finite number", value, f"give {where} a finite value")
    if isinstance(value, int) and abs(value) > MAX_INT:
        return Problem(where, "`abs(value) <= 2**53` must hold", value, f"give {where} a realistic value")
    return None


def field_help(cls: type, prefix: str = "") -> list[tuple[str, str, Any]]:
    """(dotted path, help, default) for every leaf field: the CLI and docs print this."""
    rows: list[tuple[str, str, Any]] = []
    instance = cls()
    for f in dataclasses.fields(cls):
        where = f"{prefix}{f.name}"
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            rows.extend(field_help(type(value), where + "."))
        else:
            rows.append((where, f.metadata.get("help", ""), to_dict(value)))
    return rows
