"""Checks for a run that is numerically unstable: NaN/Inf, divergence, spikes, oscillation, and the
early instability that a too-short warmup causes."""

from __future__ import annotations

import math
import statistics

from trainwell.doctor.checks import thresholds as t
from trainwell.doctor.checks.base import (
    at,
    check,
    finding,
    fmt,
    lr_change,
    needs_loss,
    needs_lr,
    needs_train_loss,
    primary_loss,
    smoothed,
    start_level,
)
from trainwell.doctor.history import Finding, History, Point, Series, Severity
from trainwell.doctor.signal import mad, odd_window, position, prominent_peaks, rolling_median, smooth


@check("nan_inf", Severity.CRITICAL, 0, "003 'Good Training Signs': no NaN/Inf; 001 'Gradient Clip Value'", live=True)
def nan_inf(history: History) -> Finding | None:
    """NaN or Inf in the loss, the gradient norm or an evaluation metric."""
    bad: list[Point] = []
    counts: dict[str, int] = {}
    for name, series in history.all_series().items():
        hits = [i for i, v in enumerate(series.values) if not math.isfinite(v)]
        if hits:
            counts[name] = len(hits)
            bad.append(at(series, hits[0], name, f"first of {len(hits)} non-finite values"))
    if not bad:
        return None
    train_side = any(p.series in ("train_loss", "grad_norm") for p in bad)
    where = ", ".join(f"{name} ({n}x)" for name, n in counts.items())
    if train_side:
        message = f"non-finite values in {where}: the optimisation blew up (LR too high or no gradient clipping)"
        fix = f"{lr_change(history, 1 / t.LR_DIVIDE)}; training.max_grad_norm: 1.0"
    else:
        message = (
            f"non-finite values in {where} while the train loss is finite: evaluation overflows "
            "(fp16 logits) or its batches have no valid labels"
        )
        fix = "training.precision: bf16 (or fp32) for evaluation; check that validation labels are not all ignored (-100)"
    return finding("nan_inf", message, bad, fix, step=min(p.step for p in bad))


@check(
    "divergence",
    Severity.CRITICAL,
    1,
    t.SOURCES["LR_DIVIDE"],
    (needs_loss,),
    live=True,
    supersedes=("spikes", "oscillation", "warmup_too_short", "saturating", "overfitting"),
)
def divergence(history: History) -> Finding | None:
    """The loss explodes (3x where it started) or rises and stays up (gives back half its progress)."""
    name, series = primary_loss(history)
    smooth_values = smoothed(series)
    begin = start_level(series.values)
    peak = max(range(len(smooth_values)), key=smooth_values.__getitem__)
    head = statistics.median(series.values[:2])  # the very start: a fast early drop must not lower the bar
    if history.hints.num_classes and history.hints.num_classes >= 2 and name == "train_loss":
        # A K-class model starts near ln K (uniform prediction); a first log far above it already exploded.
        head = min(head, math.log(history.hints.num_classes))
    if (peak > 0 or head < series.values[0]) and head > 0 and smooth_values[peak] >= t.DIVERGE_EXPLODE * head:
        evidence = [
            at(series, 0, name, f"first logged (reference level {fmt(head)})"),
            at(series, peak, name, "exploded"),
            at(series, len(series) - 1, name, "last value"),
        ]
        message = (
            f"{name} exploded: from {fmt(head)} at the start to {fmt(smooth_values[peak])} (smoothed) at "
            f"{history.x_unit} {series.steps[peak]:g}; last value {fmt(series.values[-1])}"
        )
        return finding("divergence", message, evidence, lr_change(history, 1 / t.LR_DIVIDE), step=series.steps[peak])
    best_index = min(range(len(smooth_values)), key=smooth_values.__getitem__)
    best = smooth_values[best_index]
    tail = series.values[-t.DIVERGE_TAIL :]
    threshold = max(best + t.DIVERGE_REGRESS * max(begin - best, 0.0), best * t.DIVERGE_RATIO, best + 1e-12)
    if best_index >= len(series) - t.DIVERGE_TAIL or min(tail) <= threshold:
        return None
    first_up = next(i for i in range(best_index, len(series)) if series.values[i] > threshold)
    evidence = [
        at(series, best_index, name, "lowest smoothed loss"),
        at(series, first_up, name, "rose past the divergence line"),
        at(series, len(series) - 1, name, "last value"),
    ]
    message = (
        f"{name} diverged: it reached {fmt(best)} at {history.x_unit} {series.steps[best_index]:g}, "
        f"then rose to {fmt(series.values[-1])} (started at {fmt(begin)})"
    )
    return finding("divergence", message, evidence, lr_change(history, 1 / t.LR_DIVIDE), step=series.steps[first_up])


def _spike_indices(series: Series) -> list[int]:
    values = series.values
    local = rolling_median(values, min(t.SPIKE_WINDOW, odd_window(len(values), 1.0)))
    residuals = [v - m for v, m in zip(values, local)]
    # Progress from the first logged value: a spike must undo a real share of what the run achieved.
    progress = max(values[0], start_level(values)) - min(local)
    first, last = series.steps[0], series.steps[-1]
    half = t.SPIKE_NOISE_WINDOW // 2
    hits = []
    for i, (v, m) in enumerate(zip(values, local)):
        if position(series.steps[i], first, last) < t.SPIKE_SKIP_FRACTION:
            continue
        jump = v - m
        if v <= m * t.SPIKE_RATIO or jump <= t.SPIKE_PROGRESS_FRACTION * progress:
            continue
        noise = mad(residuals[max(0, i - half) : i + half + 1])  # local: noise differs between early and late training
        if noise == 0 or jump / noise > t.SPIKE_Z:
            hits.append(i)
    return hits


@check("spikes", Severity.WARNING, 6, t.SOURCES["SPIKE_RATIO"], (needs_train_loss,), live=True)
def spikes(history: History) -> Finding | None:
    """Sudden jumps of the train loss far above its local level that come back down."""
    series = history.train_loss.finite()
    hits = _spike_indices(series)
    if not hits:
        return None
    evidence = [at(series, i, "train_loss", "spike") for i in hits[:5]]
    clip = history.hints.max_grad_norm
    if history.source == "trainwell-run" and clip is None:
        fix = "training.max_grad_norm: null → 1.0"
    elif clip is not None:
        fix = f"{lr_change(history, 1 / t.LR_MILD_DIVIDE)}; or training.max_grad_norm: {fmt(clip)} → {fmt(clip / 2)}"
    else:
        fix = f"training.max_grad_norm: 1.0 (if clipping is off), else {lr_change(history, 1 / t.LR_MILD_DIVIDE)}"
    message = f"{len(hits)} loss spike(s): the train loss jumped to >= {t.SPIKE_RATIO:g}x its local level, first at {history.x_unit} {series.steps[hits[0]]:g}"
    return finding("spikes", message, evidence, fix, step=series.steps[hits[0]])


def _swings(name: str, series: Series, smooth_fraction: float) -> tuple[str, Series, list[int]]:
    """Prominent peaks of a (smoothed) curve past its first 5%; on the train loss each must also clear
    the batch noise left near it after smoothing (about 1.25 sigma / sqrt(window) for a running median)."""
    raw = series.values
    values = smooth(raw, smooth_fraction) if smooth_fraction else raw
    start = next((i for i, s in enumerate(series.steps) if position(s, series.steps[0], series.steps[-1]) >= t.SPIKE_SKIP_FRACTION), 0)
    window = values[start:]
    span = max(window) - min(window) if window else 0.0
    if span <= 0:
        return name, Series(series.steps, values), []
    peaks = [(start + i, p) for i, p in prominent_peaks(window, t.OSC_PROMINENCE * span)]
    if smooth_fraction:
        residuals = [r - v for r, v in zip(raw, values)]
        scale = 1.25 / math.sqrt(odd_window(len(raw), smooth_fraction))
        half = t.SPIKE_NOISE_WINDOW // 2
        peaks = [(i, p) for i, p in peaks if p >= t.OSC_NOISE_Z * scale * mad(residuals[max(0, i - half) : i + half + 1])]
    return name, Series(series.steps, values), [i for i, _ in peaks]


@check("oscillation", Severity.WARNING, 7, t.SOURCES["OSC_PROMINENCE"], (needs_loss,))
def oscillation(history: History) -> Finding | None:
    """The loss swings up and back down repeatedly (the eval loss, or the smoothed train loss)."""
    candidates = []
    if len(history.eval_loss.finite()) >= t.MIN_POINTS:
        candidates.append(_swings("val_loss", history.eval_loss.finite(), 0.0))  # each eval is already a mean
    if len(history.train_loss.finite()) >= t.MIN_POINTS:
        candidates.append(_swings("train_loss", history.train_loss.finite(), t.OSC_SMOOTH_FRACTION))
    name, series, peaks = max(candidates, key=lambda c: len(c[2]))
    if len(peaks) < t.OSC_MIN_PEAKS:
        return None
    evidence = [at(series, i, name, "swing peak") for i in peaks[:5]]
    fix = lr_change(history, 1 / t.LR_MILD_DIVIDE)
    if history.hints.schedule in (None, "constant") and _lr_flat(history):
        fix += "; schedule.name: constant → cosine"
    message = f"{name} oscillates: {len(peaks)} swings of >= {t.OSC_PROMINENCE:.0%} of its range (LR slightly high)"
    return finding("oscillation", message, evidence, fix, step=series.steps[peaks[0]])


def _lr_flat(history: History) -> bool:
    lrs = history.lr.finite().values
    return bool(lrs) and min(lrs[len(lrs) // 2 :]) >= t.LR_DECAY_MIN_RATIO * max(lrs)


def warmup_length(history: History) -> float | None:
    """Warmup in x units: from the config, else until the logged LR first reaches 95% of its peak."""
    if history.hints.warmup_steps is not None:
        return history.hints.warmup_steps
    lr = history.lr.finite()
    if len(lr) < t.MIN_POINTS:
        return None
    peak = max(lr.values)
    reached = next(i for i, v in enumerate(lr.values) if v >= t.WARMUP_PEAK * peak)
    return lr.steps[reached] if reached > 0 else 0.0


def _early_instability(series: Series, end: float) -> int | None:
    """Index of the first early point where the smoothed loss stands 10% above where it started."""
    values = smooth(series.values, t.SMOOTH_FRACTION)
    begin = values[0]
    for i, (step, v) in enumerate(zip(series.steps, values)):
        if step > end:
            break
        if i > 0 and v > begin * (1 + t.WARMUP_RISE):
            return i
    return None


def _needs_warmup_info(history: History) -> str | None:
    return None if history.hints.warmup_steps is not None else needs_lr(history)


@check("warmup_too_short", Severity.WARNING, 4, t.SOURCES["WARMUP_MIN_FRACTION"], (needs_train_loss, _needs_warmup_info))
def warmup_too_short(history: History) -> Finding | None:
    """The loss rises early in the run while the warmup is shorter than 6% of it."""
    series = history.train_loss.finite()
    total = history.hints.planned_steps or history.last_step
    warmup = warmup_length(history)
    if warmup is None or total <= 0 or warmup / total >= t.WARMUP_MIN_FRACTION:
        return None
    early_end = series.steps[0] + t.WARMUP_EARLY_FRACTION * (series.steps[-1] - series.steps[0])
    index = _early_instability(series, early_end)
    if index is None:
        return None
    evidence = [at(series, 0, "train_loss", "start"), at(series, index, "train_loss", "early rise")]
    current = fmt(warmup / total) if history.source == "trainwell-run" else f"{warmup:g} {history.x_unit}s ({warmup / total:.1%})"
    message = (
        f"early instability: the loss rose above its starting level at {history.x_unit} {series.steps[index]:g} "
        f"with a warmup of {warmup / total:.1%} of the run"
    )
    return finding(
        "warmup_too_short", message, evidence, f"schedule.warmup: {current} → {t.WARMUP_MIN_FRACTION:g}", step=series.steps[index]
    )
