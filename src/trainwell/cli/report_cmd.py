"""`trainwell report RUN_DIR [--open]`: write the one-page report.html of a run folder or a tuning study."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from trainwell.cli.common import add_format, print_json


def configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Write RUN_DIR/report.html: header, curves, the doctor's findings, the config with its reasons, "
        "environment and the reproduce command. A study folder (from `trainwell tune`) gets the search report instead."
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `trainwell train`, or a study folder")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser afterwards")
    add_format(p)
    p.set_defaults(run=_run)


def is_study(path: Path) -> bool:
    """A study folder has a trials table or an Optuna storage and no metrics.jsonl of its own."""
    from trainwell.report.study import TABLES

    if (path / "metrics.jsonl").is_file():
        return False
    return any((path / name).is_file() for name in TABLES) or any(path.glob("*.db"))


def _run(args: argparse.Namespace) -> int:
    from trainwell.report import write_report, write_study_report

    path = Path(args.run_dir)
    start = time.perf_counter()
    kind = "study" if path.is_dir() and is_study(path) else "run"
    out = write_study_report(path) if kind == "study" else write_report(path)
    seconds = time.perf_counter() - start
    if args.format == "json":
        print_json({"report": str(out), "kind": kind, "seconds": round(seconds, 3)})
    else:
        print(f"wrote {out} ({seconds:.2f} s)")
    if args.open:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    return 0
