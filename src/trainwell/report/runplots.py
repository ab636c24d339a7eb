"""Which plots a run's report shows, in order: each entry builds a Figure from RunData or returns None
when the run has nothing to show for it (no grad norms logged, no LR finder run, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainwell.config.paths import get_path
from trainwell.registry import Registry
from trainwell.report import plots
from trainwell.report.rundata import RunData, finite

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class RunPlot:
    order: int
    caption: str  # how to read the plot, shown under it
    build: Callable[[RunData], Figure | None]
    explain: Callable[[RunData], str] | None = None  # what this run's plot says, appended to the caption

    def caption_for(self, run: RunData) -> str:
        extra = self.explain(run) if self.explain else ""
        return f"{self.caption} {extra}".strip()


RUN_PLOTS: Registry[RunPlot] = Registry("report plot")


def ordered() -> list[tuple[str, RunPlot]]:
    return sorted(RUN_PLOTS.items(), key=lambda kv: kv[1].order)


def _stop_step(run: RunData) -> int | None:
    """Where training ended, marked when the summary gives a reason (early stop, divergence, max steps)."""
    return run.last_step if run.summary.get("stop_reason") else None


def _loss(run: RunData) -> Figure | None:
    if not any(finite(r.get("loss")) for r in run.train) and not any(finite(r.get("val_loss")) for r in run.evals):
        return None
    return plots.plot_loss(run.train, run.evals, run.best_step, _stop_step(run))


def metric_names(evals: list[dict[str, Any]]) -> list[str]:
    """val_* columns other than val_loss, in first-seen order."""
    names: dict[str, None] = {}
    for r in evals:
        for k, v in r.items():
            if k.startswith("val_") and k != "val_loss" and finite(v):
                names.setdefault(k, None)
    return list(names)


def _metrics(run: RunData) -> Figure | None:
    names = metric_names(run.evals)
    if not names:
        return None
    return plots.plot_metrics(run.evals, names, run.best_step, _stop_step(run), monitored=run.metric)


def _lr(run: RunData) -> Figure | None:
    rows = [r for r in run.train if finite(r.get("lr")) and finite(r.get("step"))]
    if not rows:
        return None
    name = get_path(run.config, "schedule.name")
    title = f"Learning rate ({name})" if name else "Learning rate"
    return plots.plot_schedule([float(r["lr"]) for r in rows], title=title, steps=[float(r["step"]) for r in rows])


def _grad_norm(run: RunData) -> Figure | None:
    if not any(finite(r.get("grad_norm")) for r in run.train):
        return None
    clip = get_path(run.config, "training.max_grad_norm")
    return plots.plot_grad_norm(run.train, float(clip) if finite(clip) else None)


def _lr_find(run: RunData) -> Figure | None:
    if not run.lr_find:
        return None
    if not plots.lr_find_curve(run.lr_find)[0] and not plots.rule_picks(run.lr_find):
        return None
    return plots.plot_lr_find(run.lr_find)


def _lr_find_text(run: RunData) -> str:
    """The finder's own account: the LR it used and why, and why the curve is unreliable if it is."""
    data = run.lr_find or {}
    parts = [str(data.get("used_reason") or data.get("reason") or "")]
    if data.get("reliable") is False:
        parts.append("Flagged unreliable: " + "; ".join(str(r) for r in data.get("reasons") or []) + ".")
    return " ".join(p for p in parts if p)


RUN_PLOTS.register(
    "loss",
    RunPlot(
        10,
        "Train loss (faint: as logged; solid: smoothed) and validation loss. Green dashed: best checkpoint; red dotted: where training stopped.",
        _loss,
    ),
    help="train and validation loss with the best step and the stop point",
)
RUN_PLOTS.register(
    "metrics",
    RunPlot(20, "Validation metrics at each evaluation; the monitored metric is drawn thicker.", _metrics),
    help="validation metrics over steps",
)
RUN_PLOTS.register(
    "lr",
    RunPlot(30, "The learning rate the optimizer used at each logged step, as the schedule set it.", _lr),
    help="the LR schedule as logged",
)
RUN_PLOTS.register(
    "grad_norm",
    RunPlot(
        40,
        "Global gradient norm before clipping; steps above the dashed line were scaled down to it. Clipping the odd spike is its job; clipping most steps means the threshold sits below the typical norm and acts as a smaller LR.",
        _grad_norm,
    ),
    help="gradient norm with the clip threshold",
)
RUN_PLOTS.register(
    "lr_find",
    RunPlot(
        50,
        "LR range test: loss while the LR grows each step. Dotted lines: each rule's pick; green: the suggestion.",
        _lr_find,
        _lr_find_text,
    ),
    help="LR finder curve with each rule's pick",
)
