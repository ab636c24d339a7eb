"""Curves of one diagnosed log with the findings marked: a vertical line where each finding starts and
its evidence points on the curve they belong to. Returns a matplotlib Figure (nothing is shown)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from trainwell.doctor.history import Diagnosis, Series, Severity
from trainwell.errors import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLOURS = {Severity.ERROR: "tab:red", Severity.WARNING: "tab:orange", Severity.INFO: "tab:blue"}


def _panels(diagnosis: Diagnosis) -> list[tuple[str, dict[str, Series]]]:
    """(title, {series name: series}) for each panel that has data: losses, LR, other eval metrics."""
    h = diagnosis.history
    losses = {"train_loss": h.train_loss, **{k: v for k, v in h.eval.items() if "loss" in k}}
    metrics = {k: v for k, v in h.eval.items() if "loss" not in k}
    panels = [("loss", losses), ("learning rate", {"lr": h.lr}), ("eval metrics", dict(list(metrics.items())[:4]))]
    if not any(s for s in losses.values()):  # logs without a recognised loss (GAN losses): show the extras
        panels[0] = ("logged series", dict(list(h.extra.items())[:4]))
    return [
        (title, {k: v for k, v in series.items() if v.finite()}) for title, series in panels if any(v.finite() for v in series.values())
    ]


def plot_diagnosis(diagnosis: Diagnosis, title: str | None = None) -> Figure:
    """One row per panel; findings drawn as dashed lines at their step, evidence as labelled markers."""
    require("matplotlib", "plot", "trainwell doctor --plot")
    from matplotlib.figure import Figure

    panels = _panels(diagnosis)
    fig = Figure(figsize=(9, 2.8 * max(1, len(panels))), layout="constrained")
    axes = fig.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, series) in zip(axes, panels):
        for key, s in series.items():
            finite = s.finite()
            ax.plot(finite.steps, finite.values, label=key, linewidth=1.2)
        if name == "learning rate" or _spans_decades(series):
            ax.set_yscale("log")
        _mark(ax, diagnosis, set(series))
        ax.set_ylabel(name)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(diagnosis.history.x_unit)
    main = diagnosis.main_finding
    fig.suptitle(title or f"{diagnosis.history.source}: {main.rule if main else 'no findings'}", fontsize=11)
    if not panels:
        axes[0].text(0.5, 0.5, "nothing to plot: the log has no numeric series", ha="center", transform=axes[0].transAxes)
    return fig


def _mark(ax: Any, diagnosis: Diagnosis, names: set[str]) -> None:
    for finding in diagnosis.findings:
        colour = _COLOURS[finding.severity]
        if finding.step is not None and "loss" in " ".join(names):
            ax.axvline(finding.step, color=colour, linestyle="--", linewidth=0.9, alpha=0.8)
            ax.annotate(
                finding.rule, (finding.step, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7, color=colour, va="top"
            )
        for point in finding.evidence:
            if point.series in names and math.isfinite(point.value):
                ax.scatter([point.step], [point.value], color=colour, zorder=5, s=22)


def _spans_decades(series: dict[str, Series]) -> bool:
    values = [v for s in series.values() for v in s.finite().values if v > 0]
    return (
        bool(values)
        and min(values) > 0
        and max(values) / min(values) > 100
        and all(v > 0 for s in series.values() for v in s.finite().values)
    )
