"""Doctor checks: each registered in ``CHECKS``; ``diagnose`` runs them all and ranks the findings.

Ranking: severity first (error, warning, info), then the check's priority; a finding another
present finding supersedes is dropped (a loss pinned at ln K is reported as chance_plateau, not also
as flat_loss).
"""

from __future__ import annotations

from pathlib import Path

from trainwell.doctor.checks import generalisation, progress, schedule, stability, thresholds
from trainwell.doctor.checks.base import CHECKS, Check
from trainwell.doctor.history import Diagnosis, Finding, History
from trainwell.doctor.signal import memoised

__all__ = ["CHECKS", "Check", "diagnose", "generalisation", "progress", "rank", "run_checks", "schedule", "stability", "thresholds"]


def run_checks(history: History, names: list[str] | None = None) -> tuple[list[Finding], dict[str, str]]:
    """Run the named checks (default: all); return (findings, {check: why skipped})."""
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    with memoised():  # the checks smooth the same series: once each
        for name in names if names is not None else CHECKS.names():
            spec = CHECKS.get(name)
            reason = next((why for need in spec.needs if (why := need(history))), None)
            if reason:
                skipped[name] = reason
                continue
            found = spec.run(history)
            if found is not None:
                findings.append(found)
    return rank(findings), skipped


def rank(findings: list[Finding]) -> list[Finding]:
    """Drop superseded findings, then sort most severe first, ties by check priority."""
    present = {f.rule for f in findings}
    dropped = {rule for f in findings if f.rule in CHECKS for rule in CHECKS.get(f.rule).supersedes if rule in present}
    kept = [f for f in findings if f.rule not in dropped]
    return sorted(kept, key=lambda f: (-f.severity.rank, CHECKS.get(f.rule).priority if f.rule in CHECKS else 99))


def diagnose(source: History | str | Path) -> Diagnosis:
    """Findings for one log: a History, or a path any reader understands."""
    if not isinstance(source, History):
        from trainwell.doctor.readers import read_history

        source = read_history(source)
    findings, skipped = run_checks(source)
    return Diagnosis(source, findings, list(source.notes), skipped)
