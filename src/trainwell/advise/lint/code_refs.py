"""Every place a config names code that the tool reading it will import and run: trainwell's
``task: "pkg.module:function"``, Hydra's ``_target_``, torchtune's ``_component_``, LightningCLI's
``class_path``. Naming code is normal (it is how these tools build objects), so lint does not call it an
error; it lists each reference, so that nobody runs a config without seeing what code it runs.
"""

from __future__ import annotations

from typing import Any

from trainwell.findings import Finding, Severity

# Keys whose string value is an import path the tool calls, in each tool's words.
CODE_KEYS = {"_target_": "Hydra", "_component_": "torchtune", "class_path": "LightningCLI"}
# Modules no task builder or component lives in: naming them is how a config runs a shell command.
_SYSTEM_MODULES = frozenset(
    {"builtins", "os", "subprocess", "sys", "shutil", "importlib", "runpy", "code", "pty", "socket", "ctypes", "posix"}
)
_MAX_NODES = 100_000  # lint_mapping also takes dicts from Python; the walk stays bounded


def code_references(data: dict[str, Any], dialect: str) -> list[tuple[str, str, str]]:
    """(where, target, tool) for every code reference in ``data``, in document order."""
    found: list[tuple[str, str, str]] = []
    task = data.get("task")
    if dialect == "trainwell" and isinstance(task, str) and ":" in task:
        found.append(("task", task, "trainwell"))
    stack: list[tuple[str, Any]] = [("", data)]
    seen = 0
    while stack and seen < _MAX_NODES:
        where, node = stack.pop()
        seen += 1
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        children = []
        for key, value in items:
            path = f"{where}.{key}" if where and isinstance(key, str) else f"{where}[{key}]" if where else str(key)
            if isinstance(key, str) and key in CODE_KEYS and isinstance(value, str):
                found.append((path, value, CODE_KEYS[key]))
            elif isinstance(value, (dict, list)):
                children.append((path, value))
        stack.extend(reversed(children))
    return found


def code_findings(data: dict[str, Any], dialect: str) -> list[Finding]:
    out = []
    for where, target, tool in code_references(data, dialect):
        module = target.replace(":", ".").split(".")[0]
        system = module in _SYSTEM_MODULES
        out.append(
            Finding(
                rule="code-reference",
                severity=Severity.WARNING if system else Severity.INFO,
                message=f"names code that {tool} imports and runs: {target}"
                + (" (a system module, not a model, task or component)" if system else ""),
                where=where,
                value=target,
                fix="run this config only if you trust where it came from (README: configs that name code)",
                source="trainwell lint",
            )
        )
    return out
