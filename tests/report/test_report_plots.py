"""Each plot function returns a Figure drawn from plain data; the run's plot registry is covered entry by entry."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import BEST_STEP, lr_find_result, metric_rows, write_run
from trainwell.report import plots
from trainwell.report.rundata import RunData, load_run
from trainwell.report.runplots import RUN_PLOTS, metric_names, ordered

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402


def _texts(fig: Figure) -> str:
    """Every piece of text on a figure (titles, labels, legend entries), for checking what it says."""
    out = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return "\n".join(out)


def test_plot_schedule_takes_a_list_of_floats_as_schedule_cmd_calls_it() -> None:
    fig = plots.plot_schedule([1e-3 * i / 10 for i in range(10)] + [1e-3] * 5, title="cosine (warmup 0.1)")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata())[-1] == pytest.approx(1e-3)
    assert "cosine (warmup 0.1)" in _texts(fig)
    assert plots.to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_loss_marks_best_and_stop_and_shows_non_finite_losses() -> None:
    rows = metric_rows()
    rows.append({"event": "train", "step": 730, "loss": float("nan"), "lr": 1e-4, "grad_norm": 1.0})
    train = [r for r in rows if r["event"] == "train"]
    evals = [r for r in rows if r["event"] == "eval"]
    fig = plots.plot_loss(train, evals, best_step=BEST_STEP, stop_step=730)
    text = _texts(fig)
    assert f"best (step {BEST_STEP})" in text
    assert "stopped (step 730)" in text
    assert "non-finite loss (1)" in text
    xs = {float(x) for line in fig.axes[0].lines for x in line.get_xdata()}
    assert {float(BEST_STEP), 730.0} <= xs  # the two vertical markers


def test_plot_grad_norm_reports_how_often_clipping_bit() -> None:
    train = [{"step": i, "grad_norm": 2.0 if i % 4 == 0 else 0.5} for i in range(1, 101)]
    fig = plots.plot_grad_norm(train, clip=1.0)
    assert "clipped at 1 in 25% of logged steps" in _texts(fig)


def test_plot_lr_find_draws_every_rules_pick_and_the_suggestion() -> None:
    result = lr_find_result()
    fig = plots.plot_lr_find(result)
    text = _texts(fig)
    for name in result["rules"]:
        assert f"{name}:" in text
    assert "suggested: 0.0012" in text
    assert fig.axes[0].get_xscale() == "log"


@pytest.mark.parametrize(
    "result",
    [
        {"curve": {"lrs": [1e-4, 1e-3, 1e-2], "losses": [2.0, 1.0, 3.0]}},
        {"curve": [[1e-4, 2.0], [1e-3, 1.0], [1e-2, 3.0]]},
        {"curve": [{"lr": 1e-4, "loss": 2.0}, {"lr": 1e-3, "loss": 1.0}, {"lr": 1e-2, "loss": 3.0}]},
        {"lr": [1e-4, 1e-3, 1e-2, 1e-1], "loss": [2.0, 1.0, 3.0, float("nan")]},
    ],
)
def test_lr_find_curve_reads_each_layout_and_drops_non_finite_points(result: dict[str, object]) -> None:
    assert plots.lr_find_curve(result) == ([1e-4, 1e-3, 1e-2], [2.0, 1.0, 3.0])


def test_rule_picks_skips_rules_without_an_answer() -> None:
    picks = plots.rule_picks({"rules": {"a": {"lr": 1e-3}, "b": None, "c": 2e-3, "d": {"lr": float("nan")}}})
    assert picks == {"a": 1e-3, "c": 2e-3}


def test_downsample_bounds_the_points_and_keeps_a_spike() -> None:
    xs = [float(i) for i in range(100_000)]
    ys = [1.0] * 100_000
    ys[54_321] = 50.0
    dx, dy = plots.downsample(xs, ys, max_points=2000)
    assert len(dx) <= 2000
    assert 50.0 in dy and dx == sorted(dx)
    assert plots.downsample([1.0, 2.0], [3.0, 4.0]) == ([1.0, 2.0], [3.0, 4.0])


def test_smoothing_has_no_lag_on_a_straight_line() -> None:
    line = [10.0 - 0.01 * i for i in range(1000)]
    smoothed = plots.smooth(line)
    assert max(abs(a - b) for a, b in zip(line[100:900], smoothed[100:900])) < 1e-6 + 0.05
    assert plots.ema(line, 0.9)[500] > line[500] + 0.05  # the causal EMA lags a falling curve, which is why smooth exists


@pytest.mark.parametrize("name", RUN_PLOTS.names())
def test_every_registered_run_plot_draws_on_a_full_run_and_skips_an_empty_one(name: str, run_dir: Path, tmp_path: Path) -> None:
    spec = RUN_PLOTS.get(name)
    assert isinstance(spec.build(load_run(run_dir)), Figure)
    assert spec.build(RunData(run_dir=tmp_path)) is None
    assert spec.caption


def test_run_plots_are_ordered_loss_first() -> None:
    assert next(n for n, _ in ordered()) == "loss"


def test_metric_names_lists_validation_metrics_other_than_loss_in_order() -> None:
    assert metric_names([{"val_loss": 1.0, "val_accuracy": 0.5}, {"val_f1": 0.4, "val_bad": float("nan")}]) == ["val_accuracy", "val_f1"]


def test_search_plots_history_importances_and_lr_response() -> None:
    values = [3.0, None, 2.0, 2.5, 1.0]
    fig = plots.plot_tuning_history(values, "minimize")
    best_line = fig.axes[0].lines[1]
    assert list(best_line.get_ydata()) == [3.0, 2.0, 2.0, 1.0]
    fig = plots.plot_param_importances({"optimizer.lr": 0.7, "batch.size": 0.3})
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["batch.size", "optimizer.lr"]  # most important on top
    fig = plots.plot_lr_response([1e-4, 1e-3, 1e-2], [0.5, 0.2, 0.9], "minimize")
    assert "best: lr 0.001" in _texts(fig)


def test_a_long_run_plots_quickly(tmp_path: Path) -> None:
    """20k logged steps are decimated: every plot stays at about MAX_POINTS points."""
    train = [{"event": "train", "step": i, "loss": 1.0 + math.sin(i / 50), "grad_norm": 1.0, "lr": 1e-3} for i in range(1, 20_001)]
    fig = plots.plot_loss(train, [])
    assert max(len(line.get_xdata()) for line in fig.axes[0].lines) <= plots.MAX_POINTS
    fig = plots.plot_schedule([r["lr"] for r in train], steps=[r["step"] for r in train])
    assert len(fig.axes[0].lines[0].get_xdata()) <= plots.MAX_POINTS


def test_write_run_fixture_is_readable(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "r"))
    assert run.best_step == BEST_STEP and run.metric == "val_accuracy" and run.lr_find is not None


def test_plots_ignore_a_global_style_the_host_process_set() -> None:
    """Optuna's matplotlib plots switch the process to ggplot; the report keeps its own look and restores the caller's."""
    with matplotlib.rc_context({"axes.facecolor": "#E5E5E5", "axes.grid": False}):
        fig = plots.plot_schedule([1.0, 2.0])
        assert matplotlib.colors.to_hex(fig.axes[0].get_facecolor()) == "#ffffff"
        assert matplotlib.rcParams["axes.facecolor"] == "#E5E5E5"


def test_metrics_that_coincide_stay_distinguishable() -> None:
    evals = [{"step": s, "val_accuracy": 0.9, "val_f1_macro": 0.9} for s in (10, 20, 30)]
    fig = plots.plot_metrics(evals, ["val_accuracy", "val_f1_macro"], monitored="val_accuracy")
    lines = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("val_")]
    assert len(lines) == 2
    assert lines[0].get_marker() != lines[1].get_marker() and lines[0].get_linestyle() != lines[1].get_linestyle()
