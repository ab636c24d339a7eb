"""The range-test plot (drawn by trainwell.report.plots from the finder's JSON): the curve, every rule's
pick, the suggestion and the peak LR for the schedule."""

from __future__ import annotations

import pytest
import synthetic as syn

from trainwell.errors import MissingDependencyError
from trainwell.find.result import analyze


def _result():  # type: ignore[no-untyped-def]
    losses = syn.clean()
    return analyze(
        syn.LRS,
        losses,
        losses,
        beta=0.6,
        rule="combined",
        stop_reason=None,
        planned_steps=len(losses),
        min_lr=syn.LRS[0],
        max_lr=syn.LRS[-1],
    )


def test_plot_shows_each_pick_and_the_suggestion() -> None:
    pytest.importorskip("matplotlib")
    from trainwell.report.plots import plot_lr_find

    result = _result()
    fig = plot_lr_find(result.to_json(with_curve=True))
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert ax.get_xscale() == "log"
    for name, pick in result.picks.items():
        assert pick is not None and any(label.startswith(f"{name}:") for label in labels)
    assert any(label.startswith("suggested:") for label in labels)


def test_plot_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from trainwell.report import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingDependencyError, match=r"trainwell\[plot\]"):
        plots.plot_lr_find(_result().to_json(with_curve=True))
