"""One function per plot; each takes plain data (lists, dicts, metrics.jsonl rows) and returns a Figure.

matplotlib is an optional extra (``trainwell[plot]``) imported inside each function. Figures are built
with ``matplotlib.figure.Figure`` directly rather than pyplot: no global figure registry to leak, no GUI
backend to pick, and ``savefig`` renders with Agg. Long series are decimated before plotting (min and max
of each bucket are kept, so a spike survives) because drawing 100k points costs seconds and shows nothing
that 2k points do not.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trainwell.errors import require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_POINTS = 2000
SIZE = (6.4, 3.4)  # inches; at dpi 100 two plots sit side by side on a laptop screen
COLORS = {"train": "#4C72B0", "val": "#DD8452", "best": "#2CA02C", "stop": "#C44E52", "clip": "#8172B3", "pick": "#937860"}
_STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
}


@contextlib.contextmanager
def _figure(title: str, ncols: int = 1) -> Iterator[tuple[Figure, list[Axes]]]:
    """A new Figure under the house style (rcParams apply when artists are created, so inside the context)."""
    mpl = require("matplotlib", "plot", "plotting")
    from matplotlib.figure import Figure

    with mpl.rc_context():
        # start from matplotlib's defaults, not whatever style the host process set globally (Optuna's matplotlib
        # plots switch to ggplot, for one); rc_context restores the caller's settings on exit
        mpl.rcdefaults()
        mpl.rcParams.update(_STYLE)
        fig = Figure(figsize=(SIZE[0] * ncols, SIZE[1]))
        # Fixed margins, not constrained/tight layout: a layout engine draws every figure twice to measure it,
        # which doubled the report's time; these margins fit sci-notation and log tick labels at 9 pt.
        fig.subplots_adjust(left=0.11 / ncols, right=1 - 0.03 / ncols, bottom=0.14, top=0.88, wspace=0.25)
        axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        fig.suptitle(title, fontsize=10, fontweight="bold")
        yield fig, axes


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list[float], list[float]]:
    """Keep at most ~max_points points: per bucket the min and the max of y, in x order, so spikes stay visible."""
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    buckets = max(1, max_points // 2)
    size = n / buckets
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo, hi = int(b * size), min(n, int((b + 1) * size))
        if lo >= hi:
            continue
        idx = range(lo, hi)
        i_min = min(idx, key=lambda i: ys[i] if math.isfinite(ys[i]) else math.inf)
        i_max = max(idx, key=lambda i: ys[i] if math.isfinite(ys[i]) else -math.inf)
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows with a finite ``key``; NaN losses are shown separately, not as gaps."""
    xs, ys = [], []
    for r in rows:
        v, s = r.get(key), r.get("step")
        if isinstance(v, (int, float)) and isinstance(s, (int, float)) and math.isfinite(v):
            xs.append(float(s))
            ys.append(float(v))
    return xs, ys


def _nonfinite_steps(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [float(r["step"]) for r in rows if isinstance(r.get(key), float) and not math.isfinite(r[key]) and "step" in r]


def ema(values: Sequence[float], beta: float = 0.9) -> list[float]:
    """Debiased exponential moving average, the smoothing TensorBoard and the LR finder use."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta**i))
    return out


def smooth(values: Sequence[float]) -> list[float]:
    """Zero-lag smoothing for a curve of any length: the debiased EMA run forwards then backwards (a causal
    EMA trails a falling loss by ~1/(1-beta) points and draws it too high), with beta growing with the
    number of points so 70 points are barely smoothed and 10k points average over ~100."""
    beta = 1.0 - 1.0 / (1.0 + len(values) / 100.0)
    return ema(ema(values, beta)[::-1], beta)[::-1]


def _mark_steps(ax: Axes, best_step: float | None, stop_step: float | None) -> None:
    """Vertical lines at the best evaluation and where training stopped (the reason is in the page header)."""
    if best_step is not None:
        ax.axvline(best_step, color=COLORS["best"], linestyle="--", linewidth=1, label=f"best (step {best_step:g})")
    if stop_step is not None and stop_step != best_step:
        ax.axvline(stop_step, color=COLORS["stop"], linestyle=":", linewidth=1.2, label=f"stopped (step {stop_step:g})")


def _log_if_wide(ax: Axes, values: Sequence[float]) -> None:
    """Log y when positive values span more than 1.5 decades, so the end of training is not a flat line."""
    pos = [v for v in values if v > 0]
    if pos and len(pos) == len(values) and max(pos) / min(pos) > 30:
        ax.set_yscale("log")


def plot_schedule(lrs: Sequence[float], title: str = "Learning rate", steps: Sequence[float] | None = None) -> Figure:
    """The LR at each step: ``lrs[i]`` at ``steps[i]`` (default: step i)."""
    xs = [float(s) for s in steps] if steps is not None else [float(i) for i in range(len(lrs))]
    xs, ys = downsample(xs, [float(v) for v in lrs])
    with _figure(title) as (fig, (ax,)):
        ax.plot(xs, ys, color=COLORS["train"], linewidth=1.5)
        if ys:
            peak = max(ys)
            ax.annotate(f"peak {peak:.3g}", (xs[ys.index(peak)], peak), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return fig


def plot_loss(
    train: Sequence[Mapping[str, Any]],
    evals: Sequence[Mapping[str, Any]],
    best_step: float | None = None,
    stop_step: float | None = None,
) -> Figure:
    """Train loss (raw and smoothed) and validation loss over steps, with the best step and the stop point."""
    tx, ty = _series(train, "loss")
    ex, ey = _series(evals, "val_loss")
    with _figure("Loss") as (fig, (ax,)):
        if tx:
            # smooth the full series first, then decimate both, so smoothing does not depend on the decimation
            ax.plot(*downsample(tx, ty), color=COLORS["train"], alpha=0.3, linewidth=0.8)
            ax.plot(*downsample(tx, smooth(ty)), color=COLORS["train"], label="train (smoothed)")
        if ex:
            ax.plot(ex, ey, color=COLORS["val"], marker="o", markersize=3, label="validation")
        bad = _nonfinite_steps(train, "loss")
        if bad:
            ax.plot(bad, [min(ty or [0.0])] * len(bad), "x", color=COLORS["stop"], label=f"non-finite loss ({len(bad)})")
        _mark_steps(ax, best_step, stop_step)
        _log_if_wide(ax, ty + ey)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.legend(loc="best")
    return fig


METRIC_STYLES = (("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."))  # (marker, line style) per metric, in order


def plot_metrics(
    evals: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
    best_step: float | None = None,
    stop_step: float | None = None,
    monitored: str | None = None,
) -> Figure:
    """Validation metrics (e.g. val_accuracy, val_f1) over steps; the monitored one is drawn thicker.

    Each metric gets its own marker and dash pattern: accuracy and macro-F1 often coincide on balanced
    data, and two solid lines on the same points would show as one.
    """
    with _figure("Validation metrics") as (fig, (ax,)):
        for k, name in enumerate(metrics):
            xs, ys = _series(evals, name)
            if xs:
                width = 2.0 if name == monitored else 1.2
                marker, dashes = METRIC_STYLES[k % len(METRIC_STYLES)]
                label = name + (" (monitored)" if name == monitored else "")
                ax.plot(xs, ys, marker=marker, markersize=4, linestyle=dashes, linewidth=width, label=label)
        _mark_steps(ax, best_step, stop_step)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("metric")
        ax.legend(loc="best")
    return fig


def plot_grad_norm(train: Sequence[Mapping[str, Any]], clip: float | None = None) -> Figure:
    """Global gradient norm (before clipping) over steps, with the clip threshold and how often it bit."""
    xs, ys = _series(train, "grad_norm")
    title = "Gradient norm"
    if clip is not None and ys:
        share = sum(v > clip for v in ys) / len(ys)
        title += f" (clipped at {clip:g} in {share:.0%} of logged steps)"
    with _figure(title) as (fig, (ax,)):
        dx, dy = downsample(xs, ys)
        ax.plot(dx, dy, color=COLORS["train"], linewidth=1, label="grad norm")
        if clip is not None:
            ax.axhline(clip, color=COLORS["clip"], linestyle="--", linewidth=1, label=f"clip threshold {clip:g}")
        _log_if_wide(ax, dy + ([clip] if clip else []))
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("L2 norm")
        ax.legend(loc="best")
    return fig


def lr_find_curve(result: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """(lrs, losses) from an LR-finder result, whichever of the usual layouts it uses; ([], []) if none."""
    curve: Any = result.get("curve", result)
    if isinstance(curve, Mapping):
        # rule_curve is the zero-lag smoothing trainwell.find's rules read, so the picks sit on it
        lrs = curve.get("lrs", curve.get("lr"))
        losses = next((curve[k] for k in ("rule_curve", "smoothed", "losses", "loss") if isinstance(curve.get(k), list)), None)
        if isinstance(lrs, list) and isinstance(losses, list):
            pairs = list(zip(lrs, losses))
        else:
            return [], []
    elif isinstance(curve, list):  # [[lr, loss], ...] or [{"lr", "loss"}, ...]
        pairs = [(p.get("lr"), p.get("smoothed", p.get("loss"))) if isinstance(p, Mapping) else tuple(p[:2]) for p in curve]
    else:
        return [], []
    good = [
        (float(a), float(b)) for a, b in pairs if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and math.isfinite(b)
    ]
    return [a for a, _ in good], [b for _, b in good]


def rule_picks(result: Mapping[str, Any]) -> dict[str, float]:
    """{rule name: suggested lr} from ``result["rules"]`` ({name: lr} or {name: {"lr": ...}}); bad ones dropped."""
    picks: dict[str, float] = {}
    rules = result.get("rules")
    if not isinstance(rules, Mapping):
        return picks
    for name, value in rules.items():
        lr = value.get("lr", value.get("suggested_lr")) if isinstance(value, Mapping) else value
        if isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 and math.isfinite(lr):
            picks[str(name)] = float(lr)
    return picks


def plot_lr_find(result: Mapping[str, Any]) -> Figure:
    """The LR range test: loss against LR (log x), each rule's pick, and the suggestion that was used."""
    lrs, losses = lr_find_curve(result)
    curve = result.get("curve")
    raw_lrs, raw = lr_find_curve({"curve": {k: curve.get(k) for k in ("lr", "loss")}}) if isinstance(curve, Mapping) else ([], [])
    suggested = result.get("suggested_lr")
    title = "LR range test"
    if result.get("reliable") is False:
        title += " (flagged unreliable)"
    with _figure(title) as (fig, (ax,)):
        if raw and raw != losses:
            ax.plot(raw_lrs, raw, color=COLORS["train"], alpha=0.3, linewidth=0.8, label="loss per step")
        if lrs:
            ax.plot(lrs, losses, color=COLORS["train"], linewidth=1.5, label="smoothed loss")
        ax.set_xscale("log")
        for i, (name, lr) in enumerate(sorted(rule_picks(result).items(), key=lambda kv: kv[1])):
            ax.axvline(lr, color=f"C{(i + 2) % 10}", linestyle=":", linewidth=1.2, label=f"{name}: {lr:.2g}")
        if isinstance(suggested, (int, float)) and suggested > 0:
            ax.axvline(float(suggested), color=COLORS["best"], linewidth=2, alpha=0.7, label=f"suggested: {suggested:.2g}")
        # The engine's record says what it trained with; the finder's own result, the peak LR for the
        # configured schedule and batch that `optimizer.lr: find` would train with.
        used, word = (
            (result.get("used_lr"), "trained with") if "used_lr" in result else (result.get("peak_lr"), "peak LR for schedule and batch")
        )
        if isinstance(used, (int, float)) and used > 0 and used != suggested:
            ax.axvline(float(used), color=COLORS["stop"], linewidth=1.5, linestyle="-.", label=f"{word}: {used:.2g}")
        if losses:
            # the divergence at the end reaches many times the start loss and would flatten the descent, which
            # is what the picks are about: show from just under the minimum to a little above the start
            low, start = min(losses), losses[0]
            span = max(start - low, 1e-3 * abs(start) + 1e-12)
            ax.set_ylim(low - 0.1 * span, start + 0.5 * span)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend(loc="best")
    return fig


def plot_tuning_history(values: Sequence[float | None], direction: str = "minimize", title: str = "Search history") -> Figure:
    """Each trial's objective (by trial number; None = failed or pruned) and the best so far."""
    pts = [(i, float(v)) for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)]
    pick = min if direction.startswith("min") else max
    best: list[float] = []
    for _, v in pts:
        best.append(v if not best else pick(best[-1], v))
    with _figure(title) as (fig, (ax,)):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", color=COLORS["train"], markersize=4, alpha=0.7, label="trial")
        ax.step([p[0] for p in pts], best, where="post", color=COLORS["best"], label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel("objective")
        ax.legend(loc="best")
    return fig


def plot_param_importances(importances: Mapping[str, float], title: str = "Parameter importances") -> Figure:
    """Horizontal bars, most important on top (fANOVA or any other importance that sums to about 1)."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    with _figure(title) as (fig, (ax,)):
        longest = max((len(k) for k, _ in items), default=4)
        fig.subplots_adjust(left=min(0.45, 0.05 + 0.0125 * longest))  # room for dotted parameter names
        ax.barh([k for k, _ in items], [v for _, v in items], color=COLORS["train"])
        for y, (_, v) in enumerate(items):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
        ax.set_xlabel("importance")
        ax.grid(axis="y", visible=False)
    return fig


def plot_lr_response(
    lrs: Sequence[float], values: Sequence[float], direction: str = "minimize", title: str = "Objective against LR"
) -> Figure:
    """The objective each trial reached against its LR (log x); the best trial is ringed."""
    pts = [(float(a), float(b)) for a, b in zip(lrs, values) if a and a > 0 and isinstance(b, (int, float)) and math.isfinite(b)]
    with _figure(title) as (fig, (ax,)):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", color=COLORS["train"], markersize=4, alpha=0.7, label="trial")
        if pts:
            best = (min if direction.startswith("min") else max)(pts, key=lambda p: p[1])
            ax.plot([best[0]], [best[1]], "o", markersize=11, markerfacecolor="none", color=COLORS["best"], label=f"best: lr {best[0]:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("objective")
        ax.legend(loc="best")
    return fig


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (what the HTML report embeds as a data: URI)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
