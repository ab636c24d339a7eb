"""`trainwell doctor PATH... [--format text|json] [--plot out.png] [--rename OLD=NEW]`: diagnose training logs.

PATH is a trainwell run folder, an HF trainer_state.json (or its output/checkpoint folder), a
Lightning metrics.csv, a Keras History JSON or TensorBoard event files. Findings print ranked by
severity, each with its evidence, a fix written as a config change, and the rule's source.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from trainwell.cli.common import add_format, print_json

if TYPE_CHECKING:
    from trainwell.doctor.history import Diagnosis
    from trainwell.errors import Problem

_FAIL_ON = ("never", "error", "warning", "info", "critical")  # critical: the old name of error, still accepted


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="run folder, trainer_state.json, metrics.csv, Keras history JSON or TensorBoard events"
    )
    add_format(p)
    p.add_argument(
        "--plot", help="write the curves with the findings marked to this PNG (one file per PATH: name-2.png, ...); needs trainwell[plot]"
    )
    p.add_argument(
        "--fail-on",
        choices=_FAIL_ON,
        default="never",
        help="exit 1 when a finding this severe (or worse) is found, for CI (critical = error)",
    )
    p.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="read a CSV log's column OLD as NEW without editing the file (repeatable), e.g. --rename cost=loss "
        "--rename 'Dev Acc=val_accuracy'",
    )
    p.set_defaults(run=_run, check=_rename_problems)


def _renames(words: list[str]) -> dict[str, str]:
    return dict(word.split("=", 1) for word in words)


def _rename_problems(args: argparse.Namespace) -> list[Problem]:
    """Each --rename must be OLD=NEW, both named, and rename a column once."""
    from trainwell.errors import Problem

    problems: list[Problem] = []
    renamed: set[str] = set()
    for word in args.rename:
        old, _, new = word.partition("=")
        if not old or not new:
            problems.append(
                Problem("--rename", "must be OLD=NEW (a column of the CSV and the name to read it as)", word, "e.g. --rename cost=loss")
            )
        elif old in renamed:
            problems.append(Problem("--rename", "must rename each column once", word, f"keep one --rename {old}=..."))
        renamed.add(old)
    return problems


def _run(args: argparse.Namespace) -> int:
    from trainwell.doctor import diagnose, read_history
    from trainwell.errors import ConfigError, DataError, TrainwellError

    ConfigError.collect(_rename_problems(args))  # (the parser asks the check only when the line has other mistakes)
    histories, problems, renames = [], [], _renames(args.rename)
    for path in args.paths:
        try:
            histories.append(read_history(path, renames))
        except TrainwellError as exc:  # report every unreadable path at once
            problems.extend(exc.problems)
    if problems:
        raise DataError(problems=problems)
    results = [diagnose(h) for h in histories]
    if args.plot:
        for index, result in enumerate(results):
            _save_plot(result, _plot_path(args.plot, index))
    if args.format == "json":
        print_json([r.to_dict() for r in results] if len(results) > 1 else results[0].to_dict())
    else:
        print("\n\n".join(render(r) for r in results))
    return 1 if _failed(results, args.fail_on) else 0


def _plot_path(base: str, index: int) -> Path:
    p = Path(base)
    return p if index == 0 else p.with_name(f"{p.stem}-{index + 1}{p.suffix or '.png'}")


def _save_plot(result: Diagnosis, path: Path) -> None:
    from trainwell.doctor.plot import plot_diagnosis

    plot_diagnosis(result, title=f"{Path(result.history.path).name}").savefig(path, dpi=110)
    print(f"wrote {path}")


def _failed(results: list[Diagnosis], fail_on: str) -> bool:
    if fail_on == "never":
        return False
    from trainwell.findings import Severity

    floor = Severity.parse(fail_on)
    return any(f.severity >= floor for r in results for f in r.findings)


def render(result: Diagnosis) -> str:
    """A person-readable report of one diagnosis: header, main finding, each finding, notes."""
    h = result.history
    counts = f"{len(h.train_loss)} train points, {max((len(s) for s in h.eval.values()), default=0)} evaluations"
    lines = [f"{h.path}  [{h.source}; {counts}; x = {h.x_unit}]"]
    main = result.main_finding
    lines.append(
        f"main finding: {main.rule} ({main.severity})" if main else "main finding: none: the checks that could run found nothing to fix"
    )
    for number, f in enumerate(result.findings, start=1):
        evidence = "; ".join(
            f"{p.series} @ {h.x_unit} {p.step:g} = {p.value:.4g}" + (f" ({p.label})" if p.label else "") for p in f.evidence
        )
        lines += [
            f"  {number}. [{f.severity}] {f.rule}: {f.message}",
            f"     evidence: {evidence}",
            f"     fix:      {f.fix}",
            f"     source:   {f.source}",
        ]
    lines += [f"  note: {note}" for note in result.notes]
    if result.skipped:
        lines.append(f"  skipped: {', '.join(sorted(result.skipped))} (missing series; --format json says why)")
    return "\n".join(lines)
