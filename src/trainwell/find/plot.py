"""The range test's picture: loss against LR on a log axis, each rule's pick and the suggestion.

matplotlib is imported only here and only when called (extra ``plot``); the CLI's ``--plot`` and the
HTML report both use this one function.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from trainwell.errors import require

if TYPE_CHECKING:
    from trainwell.find.result import LRFindResult

MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_lr_find(result: LRFindResult, title: str = "LR range test") -> Any:
    """A matplotlib Figure; raises MissingDependencyError (extra 'plot') without matplotlib."""
    require("matplotlib", "plot", "the LR finder plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    n = len(result.losses)
    ax.plot(result.lrs[:n], result.losses, color="0.75", lw=0.8, label="loss (raw)")
    ax.plot(result.lrs[:n], result.curve, color="C0", lw=1.8, label="loss (smoothed, zero-lag)")
    for k, (name, pick) in enumerate(result.picks.items()):
        if pick is not None:
            y = result.curve[pick.index] if pick.index < len(result.curve) else result.curve[-1]
            ax.plot([pick.lr], [y], MARKERS[k % len(MARKERS)], ms=7, color=f"C{k + 1}", label=f"{name}: {pick.lr:.2g}")
    if result.suggested_lr is not None:
        ax.axvline(result.suggested_lr, color="C3", ls="--", lw=1.2, label=f"suggested ({result.rule}): {result.suggested_lr:.2g}")
    if result.peak_lr is not None and result.peak_lr != result.suggested_lr:
        ax.axvline(result.peak_lr, color="C5", ls=":", lw=1.2, label=f"peak LR for the schedule and batch: {result.peak_lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    finite = [v for v in result.curve if math.isfinite(v)]
    if finite:  # keep the blow-up from flattening the interesting part of the curve
        low, start = min(min(finite), min(v for v in result.losses if math.isfinite(v))), finite[0]
        ax.set_ylim(low - 0.1 * (start - low + 1e-12), max(start, low) + 0.5 * (start - low + 1e-12))
    verdict = "reliable" if result.reliable else "unreliable: " + "; ".join(r.split(":")[0] for r in result.reasons)
    ax.set_title(f"{title} ({verdict})", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
