"""Plots and the one-page HTML report of a run (``write_report``) or a tuning study (``write_study_report``).

Importing this package imports neither torch nor matplotlib; plotting imports matplotlib when it runs.
"""

from trainwell.report.html import render_run, write_report
from trainwell.report.study_report import write_study_report

__all__ = ["render_run", "write_report", "write_study_report"]
