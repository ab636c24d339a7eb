"""Checks for a run that is numerically unstable: NaN/Inf, divergence, spikes, oscillation, and the
early instability that a too-short warmup causes."""

from __future__ import annotations

import itertools
import math
import statistics

from trainwell.doctor.checks import thresholds as t
from trainwell.doctor.checks.base import (
    at,
    check,
    clip_fix,
    cosine_fix,
    ends_near_best,
    finding,
    fmt,
    for_tool,
    lr_change,
    monitored,
    needs_eval,
    needs_loss,
    needs_lr,
    needs_train_loss,
    needs_unsigned_loss,
    primary_loss,
    quality_metrics,
    smoothed,
    start_level,
)
from trainwell.doctor.history import Finding, History, Point, Series, Severity
from trainwell.doctor.signal import mad, odd_window, position, prominent_peaks, rolling_median, smooth, tail_level


@check("nan_inf", Severity.ERROR, 0, "003 'Good Training Signs': no NaN/Inf; 001 'Gradient Clip Value'", live=True)
def nan_inf(history: History) -> Finding | None:
    """NaN or Inf in the loss, the gradient norm or an evaluation metric."""
    bad: list[Point] = []
    counts: dict[str, int] = {}
    # The other losses a run trains on count too (a GAN's generator and discriminator losses, a multi-term loss's
    # terms: kept as extras because no other check reads them): a GAN whose losses are NaN from the first log blew up.
    trained = {k: v for k, v in history.extra.items() if "loss" in k and not k.startswith(("test", "val", "eval"))}
    # Train-side metrics (not losses, not the gradient norm) with no finite value at all were never computed, nothing
    # overflowed; an eval metric NaN throughout stays an error: an evaluation with no valid labels (an AUC on a val split
    # with no positives) is a data problem.
    never: list[Point] = []
    for name, series in {**history.all_series(), **trained}.items():
        hits = [i for i, v in enumerate(series.values) if not math.isfinite(v)]
        if hits and len(hits) == len(series) and "loss" not in name and name != "grad_norm" and name not in history.eval:
            never.append(at(series, 0, name, "non-finite in every record"))
        elif hits:
            counts[name] = len(hits)
            bad.append(at(series, hits[0], name, f"first of {len(hits)} non-finite values"))
    if not bad and never:
        names = ", ".join(p.series for p in never)
        message = (
            f"{names} is NaN/Inf in every record while every loss is finite: a training-side metric never computed (a "
            "placeholder logged before its first value), not a blow-up"
        )
        fix = "nothing to change in training; log the metric once it has a value, or give the evaluation data"
        return finding("nan_inf", message, never, fix, step=never[0].step, severity=Severity.INFO)
    if not bad:
        return None
    train_side = any(p.series in ("train_loss", "grad_norm", *trained) for p in bad)
    where = ", ".join(f"{name} ({n}x)" for name, n in counts.items())
    if set(counts) == {"grad_norm"}:
        # Only the gradient norm, every loss finite: the steps whose gradients overflowed and were skipped, which a
        # mixed-precision loss scaler does by design while it calibrates (HF Trainer logs their norm as NaN/Inf).
        # A warning, not an error: the run went on; many of them mean the scale never settles.
        share = counts["grad_norm"] / len(history.grad_norm)
        norms = history.grad_norm
        # The scaler's first calibration: it starts at 2**16 and halves on each overflow, so the first steps of an fp16
        # run are skipped until the scale fits; non-finite norms only in the first NAN_GRAD_EARLY of the run are that.
        early = all(
            position(s, norms.steps[0], norms.steps[-1]) <= t.NAN_GRAD_EARLY
            for s, v in zip(norms.steps, norms.values)
            if not math.isfinite(v)
        )
        if share < t.NAN_GRAD_RARE:
            verdict = "rare: the loss scaler calibrating, harmless"
        elif early:
            verdict = f"only in the first {t.NAN_GRAD_EARLY:.0%} of the run: the loss scaler's first calibration, harmless"
        else:
            verdict = "a problem: the loss scale never settles"
        rare = share < t.NAN_GRAD_RARE or early
        message = (
            f"non-finite values in {where} while every loss stayed finite: steps whose gradients overflowed "
            f"and were skipped (fp16 loss scaling); {share:.1%} of the logged norms, {verdict}"
        )
        fix = f"{_bf16_fix(history)} if the hardware has it; else {clip_fix(history, t.GRAD_CLIP)}"
        if rare:
            fix = f"nothing to change for this run; for the next, {fix}"
        severity = Severity.INFO if rare else Severity.WARNING
        return finding("nan_inf", message, bad, fix, step=min(p.step for p in bad), severity=severity)
    if train_side:
        message = f"non-finite values in {where}: the optimisation blew up (LR too high or no gradient clipping)"
        fix = f"{lr_change(history, 1 / t.LR_DIVIDE)}; {clip_fix(history, t.GRAD_CLIP)}"
    else:
        message = (
            f"non-finite values in {where} while the train loss is finite: evaluation overflows "
            "(fp16 logits) or its batches have no valid labels"
        )
        fix = f"{_bf16_fix(history)} (or fp32) for evaluation; check that validation labels are not all ignored (-100)"
    return finding("nan_inf", message, bad, fix, step=min(p.step for p in bad))


def _bf16_fix(history: History) -> str:
    """bf16 mixed precision (fp32's exponent range: nothing overflows, no loss scaler) in the producing tool's names."""
    return for_tool(
        history,
        trainwell="training.precision: bf16",
        hf="TrainingArguments(bf16=True, fp16=False)",
        lightning="Trainer(precision='bf16-mixed')",
        keras="keras.mixed_precision.set_global_policy('mixed_bfloat16')",
    )


@check(
    "divergence",
    Severity.ERROR,
    1,
    t.SOURCES["LR_DIVIDE"],
    (needs_loss, needs_unsigned_loss),
    live=True,
    supersedes=("spikes", "oscillation", "warmup_too_short", "saturating", "overfitting", "flat_loss", "loss_metric_disagree"),
)
def divergence(history: History) -> Finding | None:
    """The loss explodes (3x its start) or rises and stays up (half its progress back), or val and train loss both blow up late.

    The last: the val loss ends DIVERGE_EXPLODE x its best and still climbing while the train loss rises too."""
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
    rising = _rising_from_start(history)
    if rising is not None:
        return rising
    blown = _eval_blow_up(history)
    if blown is not None:
        return blown
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


def _eval_blow_up(history: History) -> Finding | None:
    """The eval loss climbs to DIVERGE_EXPLODE x its best after it and is still climbing at its last evaluation (the
    worst since the best), while the train loss ends above where it was at that best: both sides got worse, so it is
    not overfitting (which hands this case over) but the run coming apart late (an LR restart or a schedule that rose
    again, an update that broke the weights)."""
    val, train = history.eval_loss.finite(), history.train_loss.finite()
    if len(val) < t.FEW_EVALS or len(train) < 2:
        return None
    best = min(range(len(val)), key=val.values.__getitem__)
    after = val.values[best + 1 :]
    if len(after) < 2 or val.values[best] <= 0 or val.values[-1] < t.DIVERGE_EXPLODE * val.values[best]:
        return None
    if val.values[-1] < max(after) or val.values[-1] <= val.values[-2]:
        return None  # it came back down, or is no longer climbing: val_spikes' or overfitting's business
    then = [v for s, v in zip(train.steps, train.values) if s <= val.steps[best]]
    now = tail_level(train.values, t.EDGE_FRACTION)
    if not then or now <= then[-1]:
        return None  # the train loss kept falling: the held-out side alone got worse, which overfitting reads
    evidence = [at(val, best, "val_loss", "best"), at(val, len(val) - 1, "val_loss", "last evaluation, still climbing")]
    message = (
        f"val_loss blew up: {fmt(val.values[best])} at {history.x_unit} {val.steps[best]:g}, then {fmt(val.values[-1])} "
        f"({val.values[-1] / val.values[best]:.0f}x) at the last evaluation and still climbing, while the train loss rose too "
        f"({fmt(then[-1])} → {fmt(now)})"
    )
    return finding("divergence", message, evidence, lr_change(history, 1 / t.LR_DIVIDE), step=val.steps[best])


def _rose_from_first(series: Series) -> bool:
    """Never below its first logged value, and ending DIVERGE_FROM_START above it."""
    values = series.values
    return (
        len(values) >= 3
        and values[0] > 0
        and min(values[1:]) >= values[0]
        and tail_level(values, t.EDGE_FRACTION) >= (1 + t.DIVERGE_FROM_START) * values[0]
    )


def _clear_of_noise(series: Series) -> bool:
    """The first value stands DIVERGE_START_Z robust standard deviations below the median of the rest: the lowest of 28
    noisy values around a level (a probe whose loss wanders 2.35-3.99 from its first log) is a start the loss never
    left, not one it rose from."""
    rest = series.values[1:]
    spread = mad(rest)
    return spread == 0 or statistics.median(rest) - series.values[0] >= t.DIVERGE_START_Z * spread


def _rising_from_start(history: History) -> Finding | None:
    """The train loss rises from its first log and never comes back (the eval loss too, when logged): the run
    diverged from its first updates. A rising eval loss alone is overfitting's business, not this."""
    train, val = history.train_loss.finite(), history.eval_loss.finite()
    planned, warmup = history.hints.planned_steps, history.hints.warmup_steps
    if (planned and history.last_step < t.WARMUP_EARLY_FRACTION * planned) or (warmup and history.last_step <= warmup):
        return None  # a live run still in its first 10% or in warmup: an early rise there is warmup_too_short's business
    if not (_rose_from_first(train) and _clear_of_noise(train)) or (len(val) >= 3 and not _rose_from_first(val)):
        return None
    evidence = [at(train, 0, "train_loss", "first logged (lowest)"), at(train, len(train) - 1, "train_loss", "last value")]
    message = f"train_loss rises from its first log: {fmt(train.values[0])} at {history.x_unit} {train.steps[0]:g}, never lower, {fmt(train.values[-1])} at the end"
    if len(val) >= 3:
        evidence.append(at(val, len(val) - 1, "val_loss", "last evaluation"))
        message += f"; val_loss too ({fmt(val.values[0])} → {fmt(val.values[-1])})"
    return finding(
        "divergence",
        message + ": the LR is too high from the first updates",
        evidence,
        lr_change(history, 1 / t.LR_DIVIDE),
        step=train.steps[0],
    )


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
        if i > 0 and v <= max(values[max(0, i - t.SPIKE_WINDOW // 2) : i]):
            continue  # not a jump up: the loss was higher just before (an early descent's second log)
        noise = mad(residuals[max(0, i - half) : i + half + 1])  # local: noise differs between early and late training
        if noise == 0 or jump / noise > t.SPIKE_Z:
            hits.append(i)
    return hits


@check("spikes", Severity.WARNING, 6, t.SOURCES["SPIKE_RATIO"], (needs_train_loss, needs_unsigned_loss), live=True)
def spikes(history: History) -> Finding | None:
    """Sudden jumps of the train loss far above its local level that come back down."""
    series = history.train_loss.finite()
    hits = _spike_indices(series)
    if not hits:
        return None
    evidence = [at(series, i, "train_loss", "spike") for i in hits[:5]]
    fix = _spike_fix(history)
    message = f"{len(hits)} loss spike(s): the train loss jumped to >= {t.SPIKE_RATIO:g}x its local level, first at {history.x_unit} {series.steps[hits[0]]:g}"
    severity = None
    recovered = _recovered_after(history, series.steps[hits[0]])
    if not recovered and monitored(history) is None:
        # No held-out data: the train loss itself shows whether the run got past the last jump.
        recovered = _back_to_level(series, hits)
    if recovered:
        # Single hard batches of a per-step log (Lightning logs the batch loss itself, not a mean): the held-out
        # metric shows no harm, so the finding is information, not a change the run needs.
        severity = Severity.INFO
        message += f"; harmless so far: {recovered}"
    return finding("spikes", message, evidence, fix, step=series.steps[hits[0]], severity=severity)


def _spike_fix(history: History) -> str:
    """001's fix for sudden jumps: clip gradients (tighter if already on), else a mild LR reduction."""
    clip = history.hints.max_grad_norm
    if history.source == "trainwell-run" and clip is None:
        return "training.max_grad_norm: null → 1.0"
    if clip is not None:
        return f"{lr_change(history, 1 / t.LR_MILD_DIVIDE)}; or training.max_grad_norm: {fmt(clip)} → {fmt(clip / 2)}"
    return f"{clip_fix(history, t.GRAD_CLIP)} (if clipping is off), else {lr_change(history, 1 / t.LR_MILD_DIVIDE)}"


def _recovered_after(history: History, step: float) -> str | None:
    """Why the run shows no harm from trouble at ``step``: the watched eval metric was evaluated after it and ended
    at its best (within OVERFIT_RISE / OVERFIT_DROP of it), or else every quality metric the run optimises did."""
    found = monitored(history)
    if found is not None:
        name, series, mode = found
        if len(series) >= 2 and series.steps[-1] > step and ends_near_best(series, mode):
            last, best = series.values[-1], (min if mode == "min" else max)(series.values)
            limit = t.OVERFIT_RISE if mode == "min" else t.OVERFIT_DROP
            return f"{name} ends at {fmt(last)}, {'its best' if last == best else f'within {limit:.0%} of its best'}"
    quality = [q for q in quality_metrics(history) if found is None or q[0] != found[0]]
    if quality and all(len(s) >= 2 and s.steps[-1] > step and ends_near_best(s, m) for _, s, m in quality):
        return f"{', '.join(n for n, _, _ in quality)} end{'s' if len(quality) == 1 else ''} at or near the best"
    return None


def _back_to_level(series: Series, hits: list[int]) -> str | None:
    """Why a train-only loss shows no lasting harm from its spikes: over the SPIKE_WINDOW points after the last spike its
    median is within OVERFIT_RISE (or the batch noise) of the median over the SPIKE_WINDOW points before the first (the
    loss came straight back to where it was: one hard batch in a noisy per-step log), else None."""
    before = series.values[max(0, hits[0] - t.SPIKE_WINDOW) : hits[0]]
    after = series.values[hits[-1] + 1 : hits[-1] + 1 + t.SPIKE_WINDOW]
    if len(before) < t.MIN_POINTS or len(after) < t.MIN_POINTS:
        return None
    then, now = statistics.median(before), statistics.median(after)
    # Within OVERFIT_RISE of the level, or within OVERFIT_NOISE_Z standard errors of a SPIKE_WINDOW-point median of the
    # batch noise there (1.25 sigma / sqrt(n)): a 9-point median of a per-step loss noisy by 12% wobbles by ~5% itself.
    noise = 1.25 * mad([*before, *after]) / math.sqrt(min(len(before), len(after)))
    if now - then > max(t.OVERFIT_RISE * then, t.OVERFIT_NOISE_Z * noise):
        return None
    return f"the train loss came straight back to its level ({fmt(then)} before, {fmt(now)} after)"


def val_excursions(values: list[float]) -> list[tuple[int, int]]:
    """(first, end) index ranges of evaluations that jump up and come back: every value in [first, end) is at least
    VAL_SPIKE_RATIO x both the evaluation before and the one it came back to (index end, before the last), and the jump
    undoes at least SPIKE_PROGRESS_FRACTION of the progress the run made (a doubling near a floor of 1e-4 is noise in the
    fourth decimal, not an unstable update). One evaluation wide is a spike; a few wide, a blow-up the run recovered from."""
    progress = values[0] - min(values)
    found: list[tuple[int, int]] = []
    i = 1
    while i < len(values) - 1:
        before = max(values[i - 1], 0.0)
        end, low = None, values[i]
        # One pass from i: `low` is the lowest value of the excursion so far; once it is below RATIO x the value before,
        # no later end can qualify (linear per start, so a 2,000-evaluation log stays cheap).
        for j in range(i + 1, len(values)):
            if low < t.VAL_SPIKE_RATIO * before:
                break
            if low >= t.VAL_SPIKE_RATIO * max(before, values[j]) > 0:
                end = j
                break
            low = min(low, values[j])
        if end is not None and max(values[i:end]) - max(before, values[end]) >= t.SPIKE_PROGRESS_FRACTION * progress:
            found.append((i, end))
            i = end
        else:
            i += 1
    return found


@check("val_spikes", Severity.WARNING, 6, t.SOURCES["VAL_SPIKE_RATIO"], (needs_eval,), live=True)
def val_spikes(history: History) -> Finding | None:
    """Evaluations of the val loss jump to 2x (or more) the ones before and after, and come back down."""
    series = history.eval_loss.finite()
    values = series.values
    if len(values) < 3:
        return None  # needs_eval found another metric: no eval loss to spike
    hits = val_excursions(values)
    if not hits:
        return None
    evidence = [
        at(
            series,
            max(range(a, b), key=values.__getitem__),
            "val_loss",
            f"{max(values[a:b]) / max(values[a - 1], values[b]):.0f}x its neighbours",
        )
        for a, b in hits[:5]
    ]
    first, end = max(hits, key=lambda h: max(values[h[0] : h[1]]) - max(values[h[0] - 1], values[h[1]]))  # the largest jump
    width = "" if end - first == 1 else f" for {end - first} evaluations"
    message = (
        f"{len(hits)} val-loss spike(s): val_loss jumped from {fmt(values[first - 1])} to {fmt(max(values[first:end]))} at "
        f"{history.x_unit} {series.steps[first]:g}{width} and came back to {fmt(values[end])}: an unstable update (LR too "
        "high, no clipping) or an evaluation that ran on different weights or statistics (BatchNorm, EMA)"
    )
    severity = None
    recovered = _recovered_after(history, series.steps[end])
    if recovered:
        # As for train-loss spikes: the run came back and ends at its best, so the spike cost nothing the final model
        # shows; clipping is an option for the next run, not a change this one needs.
        severity = Severity.INFO
        message += f"; harmless so far: {recovered}"
    return finding("val_spikes", message, evidence, _spike_fix(history), step=series.steps[first], severity=severity)


def _needs_grad_norm(history: History) -> str | None:
    n = len(history.grad_norm.finite())
    return None if n >= t.MIN_POINTS else f"needs >= {t.MIN_POINTS} logged gradient norms, the log has {n}"


@check("grad_norm_growth", Severity.WARNING, 6, t.SOURCES["GRAD_GROWTH"], (_needs_grad_norm,), live=True)
def grad_norm_growth(history: History) -> Finding | None:
    """The gradient norm grows 10x over the run, or one step's norm is 100x the run's median: gradients explode."""
    series = history.grad_norm.finite()
    values = series.values
    begin, end = start_level(values), tail_level(values, t.EDGE_FRACTION)
    peak = max(range(len(values)), key=values.__getitem__)
    # The reference is the norm before the peak: a run whose loss collapses to ~0 has a tiny late median that
    # would make any ordinary early norm look like an explosion.
    middle = statistics.median(values[:peak]) if peak >= t.MIN_POINTS else 0.0
    if begin > 0 and end >= t.GRAD_GROWTH * begin:
        message = (
            f"the gradient norm grew {end / begin:.0f}x, from {fmt(begin)} at the start to {fmt(end)} at the end: gradients are exploding"
        )
        evidence = [at(series, 0, "grad_norm", "start"), at(series, len(values) - 1, "grad_norm", "end")]
        step = series.steps[0]
    elif middle > 0 and values[peak] >= t.GRAD_EXPLODE * middle:
        message = (
            f"the gradient norm exploded to {fmt(values[peak])} at {history.x_unit} {series.steps[peak]:g}, "
            f"{values[peak] / middle:.0f}x its median before then ({fmt(middle)})"
        )
        evidence = [at(series, peak, "grad_norm", "explosion")]
        step = series.steps[peak]
    else:
        return None
    clip = history.hints.max_grad_norm
    clipping = (
        f"training.max_grad_norm: {fmt(clip)} → {fmt(clip / 2)}"
        if clip and history.source == "trainwell-run"
        else clip_fix(history, t.GRAD_CLIP)
    )
    return finding("grad_norm_growth", message, evidence, f"{clipping}; {lr_change(history, 1 / t.LR_MILD_DIVIDE)}", step=step)


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
    # A swing must also undo a real share of the progress the run made (as a spike must): on a plateau the window's
    # range is the evaluation noise itself, and 20% of it is no oscillation.
    progress = max(raw[0], start_level(raw)) - min(values)
    least = max(t.OSC_PROMINENCE * span, t.SPIKE_PROGRESS_FRACTION * progress)
    peaks = [(start + i, p) for i, p in prominent_peaks(window, least)]
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
    period = _epoch_period(history)
    if name == "train_loss" and period and _recur_each_epoch(history.train_loss.finite(), peaks, period):
        message = (
            f"train_loss swings at the same point of every epoch ({len(peaks)} swings, {fmt(period)} {history.x_unit}s apart or a "
            "multiple): the data comes in the same order each epoch (no shuffling, or a block of hard examples), not an LR too high"
        )
        fix = for_tool(
            history,
            trainwell="shuffle the training data each epoch (a custom dataset or sampler that fixes the order overrides it)",
            hf="keep Trainer's shuffling: no custom sampler or IterableDataset in a fixed order (TrainingArguments needs no change)",
            lightning="DataLoader(train_set, shuffle=True) in train_dataloader",
            keras="model.fit(..., shuffle=True) for arrays; dataset.shuffle(buffer_size) before .batch() for a tf.data pipeline",
        )
        return finding("oscillation", message, evidence, fix, step=series.steps[peaks[0]], severity=Severity.INFO)
    fix = lr_change(history, 1 / t.LR_MILD_DIVIDE)
    if history.hints.schedule in (None, "constant") and _lr_flat(history):
        fix += "; " + cosine_fix(history)
    message = f"{name} oscillates: {len(peaks)} swings of >= {t.OSC_PROMINENCE:.0%} of its range (LR slightly high)"
    severity = None
    recovered = _recovered_after(history, series.steps[peaks[0]]) if name == "val_loss" else None
    if recovered:
        # Swings of the eval loss alone, in a run that ends at its best: a small validation set's noise, or an LR a
        # little high that the schedule already tamed; 001's mild reduction is an option, not a change the run needs.
        severity = Severity.INFO
        message += f"; harmless so far: {recovered}"
    return finding("oscillation", message, evidence, fix, step=series.steps[peaks[0]], severity=severity)


def _epoch_period(history: History) -> float | None:
    """Steps per epoch from the log's epoch column: the median over consecutive logged epoch values of (steps
    between their first logged steps) / (epochs between them), so a last row logged at the next epoch value does
    not skew it."""
    epochs = history.epochs.finite()
    if history.x_unit != "step" or len(epochs) < 2:
        return None
    first_step: dict[float, float] = {}
    for step, epoch in zip(epochs.steps, epochs.values):
        first_step[epoch] = min(step, first_step.get(epoch, step))
    keys = sorted(first_step)
    rates = [(first_step[b] - first_step[a]) / (b - a) for a, b in itertools.pairwise(keys)]
    period = statistics.median(rates) if rates else 0.0
    return period if period > 0 else None


def _recur_each_epoch(series: Series, peaks: list[int], period: float) -> bool:
    """Whether the swings follow the data order: the peaks sit at the same point of their epochs (every gap within
    OSC_EPOCH_PHASE of an epoch from a whole number >= 1 of epochs), and the raw loss's pattern within an epoch
    repeats from one epoch to the next (mean correlation >= OSC_EPOCH_CORR over at least OSC_MIN_PEAKS + 1 epochs)."""
    gaps = [(series.steps[b] - series.steps[a]) / period for a, b in itertools.pairwise(peaks)]
    if not gaps or not all(round(g) >= 1 and abs(g - round(g)) <= t.OSC_EPOCH_PHASE for g in gaps):
        return False
    by_epoch: dict[int, list[float]] = {}
    for step, value in zip(series.steps, series.values):
        by_epoch.setdefault(int((step - series.steps[0]) // period), []).append(value)
    shapes = [[v - statistics.fmean(vs) for v in vs] for vs in by_epoch.values() if len(vs) >= t.MIN_POINTS]
    pairs = [(a[: min(len(a), len(b))], b[: min(len(a), len(b))]) for a, b in itertools.pairwise(shapes)]
    scores = [statistics.correlation(a, b) for a, b in pairs if len(set(a)) > 1 and len(set(b)) > 1]
    return len(scores) >= t.OSC_MIN_PEAKS and statistics.fmean(scores) >= t.OSC_EPOCH_CORR


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


@check(
    "warmup_too_short", Severity.WARNING, 4, t.SOURCES["WARMUP_MIN_FRACTION"], (needs_train_loss, needs_unsigned_loss, _needs_warmup_info)
)
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
    fix = for_tool(
        history,
        trainwell=f"schedule.warmup: {current} → {t.WARMUP_MIN_FRACTION:g}",
        hf=f"TrainingArguments(warmup_ratio={t.WARMUP_MIN_FRACTION:g})  # was {current}",
        lightning=f"a linear warmup over {t.WARMUP_MIN_FRACTION:.0%} of the steps (LinearLR, then the decay, via SequentialLR)",
        keras=(
            f"learning_rate=keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=peak_lr, "
            f"warmup_steps={t.WARMUP_MIN_FRACTION:g} * total_steps)"
        ),
    )
    return finding("warmup_too_short", message, evidence, fix, step=series.steps[index])
