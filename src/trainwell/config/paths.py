"""Dotted paths ("optimizer.lr") into nested plain dicts: one getter and one setter for the whole package
(the recommender, tune's search space, HF import/export, lint's readers and the report all use them)."""

from __future__ import annotations

from typing import Any


def get_path(data: Any, dotted: str) -> Any:
    """The value at ``dotted`` in nested dicts, or None when any part is missing or not a mapping."""
    node = data
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` in nested dicts, creating the parent mappings it needs."""
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dict -> [(dotted key, leaf value)] in file order; empty dicts stay as one leaf."""
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        where = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten(value, where + "."))
        else:
            rows.append((where, value))
    return rows
