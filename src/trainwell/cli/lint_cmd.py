"""`trainwell lint FILE... [--format text|json]`: findings for trainwell and other tools' configs.

Exit status: 2 when a file cannot be read, else 1 when any finding is an error, else 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trainwell.cli.common import add_format, print_json

_MARK = {"error": "E", "warning": "W", "info": "I"}


def configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Read each config, detect its dialect, and report findings with rule id, severity, value, fix and source. Exit "
        "status: 2 if a file cannot be read, 1 if any finding is an error, else 0."
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON config files")
    add_format(p)
    p.add_argument("--min-severity", choices=("info", "warning", "error"), default="info", help="hide findings below this severity")
    p.set_defaults(run=_run)


def _render(report: Any, keep: set[str]) -> str:
    lines = [f"{report.path} ({report.dialect})"]
    shown = [f for f in report.findings if f.severity in keep]
    for f in shown:
        where = f" {f.where}:" if f.where else ""
        lines.append(f"  {_MARK[f.severity]} [{f.rule}]{where} {f.message}")
        if f.fix:
            lines.append(f"      fix: {f.fix}")
        if f.source:
            lines.append(f"      source: {f.source}")
    if not shown:
        lines.append("  no findings")
    counts = ", ".join(f"{report.count(s)} {s}{'s' if report.count(s) != 1 else ''}" for s in ("error", "warning", "info"))
    lines.append(f"  {counts}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from trainwell.advise.lint.runner import lint_file
    from trainwell.errors import DataError
    from trainwell.findings import Severity

    keep = {str(s) for s in Severity if s >= args.min_severity}
    reports, unreadable = [], []
    for path in args.files:
        try:
            reports.append(lint_file(path))
        except DataError as exc:  # one bad file must not hide the findings for the others
            unreadable.append({"path": path, "error": exc.render()})
            print(f"trainwell: error: {exc.render()}", file=sys.stderr)
    if args.format == "json":
        print_json({"files": [r.to_dict() for r in reports], "unreadable": unreadable})
    else:
        print("\n\n".join(_render(r, keep) for r in reports))
    if unreadable:
        return 2
    return 1 if any(r.has_errors for r in reports) else 0
