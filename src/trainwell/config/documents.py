"""Bounded YAML and JSON parsing: the one place where the size, nesting, alias and node limits live.

Every file trainwell reads as a document goes through here: configs (``load_config``), the files ``lint``
and ``import`` read, and the JSON logs ``doctor`` reads. A hostile or broken file becomes one clear error
(rule, value, fix) in well under a second instead of a hang, a memory blow-up or a RecursionError:

- size: a file larger than ``max_bytes`` is refused before it is parsed;
- nesting: YAML is first walked as an event stream (libyaml's iterative parser), so a 5,000-deep list is
  refused without recursing; JSON's own recursion guard is caught, and a bounded walk checks the depth;
- aliases (the "billion laughs" bomb): the event walk counts every alias and the nodes each one expands to,
  so a 9-line file that would expand to 387 million nodes is refused before anything is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainwell.errors import ConfigError, Problem, TrainwellError


@dataclass(frozen=True)
class Limits:
    """What a document may hold. ``max_nodes`` counts every scalar and collection with aliases expanded."""

    max_bytes: int
    max_depth: int
    max_aliases: int
    max_nodes: int | None


# A config is a few kilobytes (the shipped recipes are 1-3 KB, an HF training_args.json about 6 KB); the
# limits leave two orders of magnitude of room and keep the worst case well under a second.
CONFIG_LIMITS = Limits(max_bytes=256 * 2**10, max_depth=64, max_aliases=1_000, max_nodes=200_000)
# Training logs (HF trainer_state.json, Keras history) grow with the run; their shape is shallow and fixed.
LOG_LIMITS = Limits(max_bytes=200 * 2**20, max_depth=64, max_aliases=0, max_nodes=None)


def read_document(
    path: str | Path, error: type[TrainwellError] = ConfigError, limits: Limits = CONFIG_LIMITS, fmt: str | None = None
) -> Any:
    """Parse a YAML or JSON file (``fmt``; by default JSON for a ``.json`` suffix) within ``limits``; a missing, unreadable,
    oversized, truncated or malformed file raises ``error`` with one problem naming the file."""
    p = Path(path)
    if not p.is_file():
        raise error(problems=[Problem(str(p), "file must exist", str(p), "check the path")])
    try:
        size = p.stat().st_size
        if size > limits.max_bytes:
            raise error(problems=[_too_big(p, size, limits)])
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(
            problems=[Problem(str(p), "must be a readable UTF-8 file", first, "check the file's permissions and encoding")]
        ) from None
    return parse_document(text, fmt or ("json" if p.suffix.lower() == ".json" else "yaml"), str(p), error, limits)


def parse_document(text: str, fmt: str, where: str, error: type[TrainwellError] = ConfigError, limits: Limits = CONFIG_LIMITS) -> Any:
    """``text`` as YAML or JSON (``fmt``), within ``limits``; any problem raises ``error``."""
    if len(text) > limits.max_bytes:
        raise error(problems=[_too_big(Path(where), len(text), limits)])
    value, problem = _parse_json(text, where, limits) if fmt == "json" else _parse_yaml(text, where, limits)
    if problem:
        raise error(problems=[problem])
    return value


def _too_big(path: Path, size: int, limits: Limits) -> Problem:
    return Problem(
        str(path), f"must be at most {limits.max_bytes:,} bytes", f"{size:,} bytes", "is this the right file? configs are a few KB"
    )


def _parse_yaml(text: str, where: str, limits: Limits) -> tuple[Any, Problem | None]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: several times faster
    try:
        problem = _check_events(yaml.parse(text, Loader=loader), where, limits)
        if problem:
            return None, problem
        return yaml.load(text, Loader=loader), None  # a safe loader: python tags are refused
    except yaml.YAMLError as exc:
        if _libyaml_too_deep(exc):
            return None, _too_deep(where, limits)
        return None, _yaml_problem(exc, text, where)
    except ValueError as exc:  # e.g. a date out of range in a YAML timestamp
        return None, Problem(where, "must be valid YAML", _first_line(exc), "fix the value")


def _yaml_problem(exc: Any, text: str, where: str) -> Problem:
    """The parser's problem at its line and column (1-based, as editors count), in ``where`` as ``file:line:column``
    so an editor can jump there; the fix quotes the line. PyYAML's marks are 0-based; an error without one
    (rare) keeps the file alone."""
    import yaml

    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or _first_line(exc)
    if mark is None:
        return Problem(where, "must be valid YAML", problem, "fix the syntax (python/ tags are refused)")
    line, column = mark.line + 1, mark.column + 1
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    opened = f"line {context_mark.line + 1}, column {context_mark.column + 1}" if context and context_mark is not None else ""
    if opened:
        problem += f" ({context} started at {opened})"
    lines = text.splitlines()
    shown = f": {lines[line - 1].strip()!r}" if 0 < line <= len(lines) and lines[line - 1].strip() else ""
    rest = "".join([lines[line - 1][column - 1 :] if line <= len(lines) else "", *lines[line:]])
    if isinstance(exc, yaml.constructor.ConstructorError):  # a tag such as !!python/object: not a syntax slip
        fix = f"remove the tag at line {line}{shown}; configs are plain YAML (python/ tags are refused)"
    elif not rest.strip():  # the parser wanted more and the file ended: an unclosed bracket or quote
        fix = f"the file ends before it is closed: close the bracket or quote opened at {opened or 'the line above'}"
    else:
        fix = f"fix the syntax at line {line}{shown} (indentation, a missing ':' or closing bracket, or quote the value)"
    return Problem(f"{where}:{line}:{column}", "must be valid YAML", problem, fix)


def override_value(raw: str, where: str) -> tuple[Any, Problem | None]:
    """The value of a ``key=value`` override read as YAML (``1e-4`` a number, ``[1, 2]`` a list), or the raw
    text when it is not YAML; a value past the config limits is a problem."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        problem = _check_events(yaml.parse(raw, Loader=loader), where, CONFIG_LIMITS)
        return (None, problem) if problem else (yaml.load(raw, Loader=loader), None)
    except yaml.YAMLError as exc:
        return (None, _too_deep(where, CONFIG_LIMITS)) if _libyaml_too_deep(exc) else (raw, None)
    except ValueError:
        return raw, None


def _libyaml_too_deep(exc: BaseException) -> bool:
    """PyYAML >= 6.0.4 bundles a libyaml whose scanner refuses flow nesting past 1,000 levels itself, before the
    event walk below sees the 65th level (it scans ahead); that refusal is the same problem as ours."""
    return "maximum nesting depth" in str(exc)


def _too_deep(where: str, limits: Limits) -> Problem:
    return Problem(where, f"must nest at most {limits.max_depth} levels deep", f"more than {limits.max_depth}", "flatten the structure")


def _check_events(events: Any, where: str, limits: Limits) -> Problem | None:
    """Walk the YAML event stream once, iteratively: depth, alias count and nodes with aliases expanded."""
    import yaml

    anchors: dict[str, int] = {}  # anchor -> nodes it expands to
    starts: list[tuple[int, str | None]] = []  # open collections: (node count at their start, anchor)
    nodes = aliases = 0
    for event in events:
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            starts.append((nodes, event.anchor))
            nodes += 1
            if len(starts) > limits.max_depth:
                return _too_deep(where, limits)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            start, anchor = starts.pop()
            if anchor:
                anchors[anchor] = nodes - start
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            nodes += anchors.get(event.anchor or "", 1)
            if aliases > limits.max_aliases:
                return Problem(
                    where,
                    f"must use at most {limits.max_aliases} YAML aliases (*name)",
                    f"more than {limits.max_aliases}",
                    "write the values out",
                )
        if limits.max_nodes is not None and nodes > limits.max_nodes:
            return Problem(
                where,
                f"must expand to at most {limits.max_nodes:,} values (aliases counted each time they are used)",
                f"more than {limits.max_nodes:,}",
                "is this an alias bomb? write the values out, or split the file",
            )
    return None


def _parse_json(text: str, where: str, limits: Limits) -> tuple[Any, Problem | None]:
    try:
        value = json.loads(text)
    except RecursionError:
        return None, Problem(
            where, f"must nest at most {limits.max_depth} levels deep", "deeper than Python's recursion limit", "flatten the structure"
        )
    except json.JSONDecodeError as exc:
        if text.strip() and (not text[exc.pos :].strip() or exc.msg.startswith("Unterminated string")):
            # The parser wanted more and the text ended: a file cut short (a copy taken mid-write, a full disk).
            return None, Problem(
                where,
                "must be complete JSON",
                f"it ends early at line {exc.lineno} ({exc.msg})",
                "the file is truncated: copy it again once the writer has finished",
            )
        return None, Problem(where, "must be valid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}", "fix the syntax")
    except ValueError as exc:
        return None, Problem(where, "must be valid JSON", _first_line(exc), "fix the syntax")
    depth = _depth(value, limits.max_depth)
    if depth > limits.max_depth:
        return None, _too_deep(where, limits)
    return value, None


def _depth(value: Any, cap: int) -> int:
    """Nesting depth of parsed JSON, walked iteratively over containers only; stops once past ``cap``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > cap:
            return depth
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        kinds = set(map(type, children))  # at C speed: most nodes of a log (its 24,000 records) hold no container
        if dict in kinds or list in kinds:
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest if isinstance(value, (dict, list)) else 0


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
