"""Reading supervised fine-tuning data: JSONL with one example per line, either ``{"prompt", "response"}``
or chat ``{"messages": [{"role", "content"}, ...]}`` (TRL's prompt-completion and conversational formats).

Torch-free, so it can be tested and reused without transformers. Every bad line is reported at once
(count, first line numbers and what is wrong), never only the first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainwell.errors import DataError, Problem

ROLES = ("system", "user", "assistant", "tool")
SHOWN = 3  # bad lines quoted in a message; the rest are counted


def _row_problem(row: Any) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(row, dict):
        return f"a JSON object, got {type(row).__name__}"
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty list"
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
                return f"messages[{i}] must be {{'role': one of {', '.join(ROLES)}, 'content': text}}"
        if not any(m["role"] == "assistant" for m in messages):
            return "a chat example needs at least one assistant message to train on"
        return None
    missing = [k for k in ("prompt", "response") if not isinstance(row.get(k), str)]
    if missing:
        return f"needs text fields 'prompt' and 'response' (or 'messages'); missing or not text: {', '.join(missing)}"
    if not row["response"].strip():
        return "'response' is empty: there is nothing to train on"
    return None


def read_sft_jsonl(path: Path) -> list[dict[str, Any]]:
    """The examples of one JSONL file; blank lines are skipped. Raises DataError naming every bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(problems=[Problem(str(path), "must be a readable UTF-8 JSONL file", type(exc).__name__, str(exc))]) from None
    rows: list[dict[str, Any]] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            bad.append((number, f"not valid JSON ({exc.args[0] if exc.args else exc})"))
            continue
        problem = _row_problem(row)
        if problem:
            bad.append((number, problem))
        else:
            rows.append(row)
    if bad:
        shown = "; ".join(f"line {n}: {why}" for n, why in bad[:SHOWN])
        more = f" (and {len(bad) - SHOWN} more)" if len(bad) > SHOWN else ""
        raise DataError(
            problems=[
                Problem(
                    str(path),
                    'every line must be {"prompt": ..., "response": ...} or {"messages": [{"role", "content"}, ...]}',
                    f"{len(bad)} bad lines: {shown}{more}",
                    "fix or drop those lines",
                )
            ]
        )
    if not rows:
        raise DataError(problems=[Problem(str(path), "must hold at least one example", 0, "check data.path")])
    return rows


def is_chat(rows: list[dict[str, Any]]) -> bool:
    return "messages" in rows[0]


def check_one_format(rows: list[dict[str, Any]], where: str) -> None:
    """A file holds one format: a chat template and a plain prompt/response are tokenised differently."""
    chat = sum("messages" in r for r in rows)
    if 0 < chat < len(rows):
        raise DataError(
            problems=[
                Problem(
                    where,
                    "all examples must use the same format",
                    f"{chat} chat ('messages') and {len(rows) - chat} prompt/response examples",
                    "convert the file to one format",
                )
            ]
        )
