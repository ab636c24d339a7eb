"""``trainwell doctor``: read a training log in any common format, run registered checks over it,
and report findings ranked by severity, each with its evidence and a config change that fixes it.

Nothing here imports torch; matplotlib and tensorboard are imported only when plotting or reading
event files.
"""

from __future__ import annotations

from trainwell.doctor.checks import CHECKS, diagnose, run_checks
from trainwell.doctor.history import Diagnosis, Finding, History, Point, RunHints, Series, Severity
from trainwell.doctor.readers import READERS, read_history

__all__ = [
    "CHECKS",
    "READERS",
    "Diagnosis",
    "Finding",
    "History",
    "Point",
    "RunHints",
    "Series",
    "Severity",
    "diagnose",
    "read_history",
    "run_checks",
]
