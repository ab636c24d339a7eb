"""Checks on what the run learned and how long it ran: overfitting onset, underfitting, still improving
at the end, and saturating long before the end."""

from __future__ import annotations

import math
import statistics

from trainwell.doctor.checks import thresholds as t
from trainwell.doctor.checks.base import (
    at,
    beyond_jitter,
    check,
    decay_raise,
    ends_near_best,
    finding,
    fmt,
    for_tool,
    lr_change,
    monitored,
    needs_eval,
    needs_loss,
    quality_metrics,
    smoothed,
    start_level,
)
from trainwell.doctor.checks.stability import val_excursions
from trainwell.doctor.history import Finding, History, Series, Severity
from trainwell.doctor.signal import chunk_medians, mann_kendall_z, position, step_jitter, tail_level, theil_sen_slope


def _better(a: float, b: float, mode: str) -> bool:
    return a < b if mode == "min" else a > b


def _best_index(series: Series, mode: str) -> int:
    best = 0
    for i, v in enumerate(series.values):
        if _better(v, series.values[best], mode):
            best = i
    return best


def _worse_by(value: float, best: float, mode: str) -> float:
    """Relative distance from the best value in the bad direction (positive = worse)."""
    scale = abs(best) or 1.0
    return (value - best) / scale if mode == "min" else (best - value) / scale


def _train_at(history: History, step: float) -> float | None:
    """The train loss nearest to ``step`` at or before it."""
    train = history.train_loss.finite()
    before = [v for s, v in zip(train.steps, train.values) if s <= step]
    return before[-1] if before else (train.values[0] if train else None)


def _length_fix(history: History, at_step: float, verb: str = "stop near") -> str:
    """The run length to stop at, in the producing tool's names: epochs when the run counts epochs, else steps."""
    if history.x_unit == "epoch":
        epochs = max(1, math.ceil(at_step))
        return for_tool(
            history,
            trainwell=f"training.epochs: {history.last_step:g} → {epochs:g}",
            hf=f"TrainingArguments(num_train_epochs={epochs:g})  # was {history.last_step:g}",
            lightning=f"Trainer(max_epochs={epochs:g})  # was {history.last_step:g}",
            keras=f"model.fit(..., epochs={epochs:g})  # was {history.last_step:g}",
        )
    steps = max(1, round(at_step))
    return for_tool(
        history,
        trainwell=f"training.max_steps: {steps:g} ({verb} {history.x_unit} {at_step:g})",
        hf=f"TrainingArguments(max_steps={steps:g})  # {verb} step {at_step:g}",
        lightning=f"Trainer(max_steps={steps:g})  # {verb} step {at_step:g}",
        keras=f"model.fit(..., epochs=...) ending near step {at_step:g} ({verb})",
    )


def _patience_fix(history: History, patience: int, monitor: str = "val_loss", mode: str = "min") -> str:
    """Early stopping with ``patience`` evaluations, in the producing tool's names."""
    return for_tool(
        history,
        trainwell=f"early_stopping.patience: {patience}",
        hf=f"EarlyStoppingCallback(early_stopping_patience={patience})"
        + ("" if history.hints.load_best else " with TrainingArguments(load_best_model_at_end=True)"),
        lightning=f"EarlyStopping(monitor='{monitor}', mode='{mode}', patience={patience})",
        keras=f"keras.callbacks.EarlyStopping(monitor='{monitor}', mode='{mode}', patience={patience}, restore_best_weights=True)",
    )


@check(
    "overfitting", Severity.WARNING, 5, t.SOURCES["OVERFIT_RISE"], (needs_eval,), live=True, supersedes=("saturating", "still_improving")
)
def overfitting(history: History) -> Finding | None:
    """The validation metric turns and gets worse while the train loss falls, train loss << val loss, or train acc >> val acc."""
    name, series, mode = monitored(history)  # type: ignore[misc]  # needs_eval guarantees one
    if name == "val_loss" and _disagreement(history) is not None:
        return None  # the eval loss turned but the metric the run optimises did not: loss_metric_disagree says so
    return _overfit_turn(history, name, series, mode) or _accuracy_gap(history)


def _overfit_turn(history: History, name: str, series: Series, mode: str) -> Finding | None:
    best = _best_index(series, mode)
    after = len(series) - 1 - best
    if after < t.OVERFIT_MIN_AFTER:
        return None  # the metric is still at (or next to) its best: no turn to speak of
    hints = history.hints
    if hints.load_best and hints.patience and after <= hints.patience:
        # Early stopping is watching this turn and the best checkpoint comes back at the end: the rise is its
        # patience window, not a problem to fix. On the default digits run (6 seeds) the fix this check used to
        # give did not help: weight decay 0.05 -> 0.25 -0.05 points, patience 3 -0.09 points
        # (benchmarks/results/default_run.json; issue G item 6).
        return None
    late = after < t.OVERFIT_LATE_FRACTION * (len(series) - 1)
    if (after <= t.OVERFIT_MIN_AFTER or late) and not beyond_jitter(series, best, mode):
        # A turn seen on only the last OVERFIT_MIN_AFTER evaluations, or on fewer than OVERFIT_LATE_FRACTION of them,
        # must stand out of the curve's jitter: a noisy curve's latest evaluations often sit above its luckiest one (a
        # spiky 100-epoch val loss best at epoch 97, 0.056, and 0.085 three epochs later). A longer turn is evidence by
        # persistence.
        return None
    if _inside_plateau_noise(series, best, mode) and not _quality_turned(history, name):
        # The curve flattened early and the rise after its best is within the jitter it wandered with on that plateau:
        # the best was its luckiest evaluation, not a turn (a 10-epoch Keras val loss 0.35 / 0.36 / 0.40 / 0.40 / 0.32
        # / 0.35 / 0.33 / 0.36 with val accuracy flat at 0.88). A quality metric that turned too makes it a turn.
        return None
    if mode == "min" and max(series.values[best + 1 :]) >= t.VAL_SPIKE_RATIO * series.values[-1] > 0:
        # The loss rose after its best and came back down to half of that or less by the end: a blow-up (or spike) the run
        # recovered from, which val_spikes reports; overfitting is a rise that lasts.
        return None
    best_step, last_step = series.steps[best], series.steps[-1]
    train_then, train_now = _train_at(history, best_step), _train_at(history, last_step)
    if train_then is not None and train_now is not None and train_now > train_then:
        return None  # both got worse: that is divergence, not overfitting
    message = _turned(history, name, series, mode, best, train_then, train_now) or _gap(history, name, series, best, train_now)
    if message is None:
        return None
    severity = None
    gained = _worse_by(series.values[0], series.values[best], mode)  # how much better the best is than the first
    lost = _worse_by(series.values[-1], series.values[best], mode)
    if gained > 0 and lost < t.OVERFIT_MILD_SHARE * gained and lost < t.OVERFIT_MILD_RISE:
        if _plateaued_early(series, mode) is not None:
            # A small "turn" after a curve that flattened in the first SATURATE_FRACTION of the run: the plateau wandering
            # in its noise band (saturating says when it flattened), not the first sign of overfitting.
            return None
        # A late, small turn near a floor (noise or the first sign): the best checkpoint keeps almost everything.
        severity = Severity.INFO
        message += f"; mild: the end gave back {lost / gained:.0%} of the improvement made before the best evaluation"
    evidence = [at(series, best, name, "best (turn)"), at(series, len(series) - 1, name, "last")]
    return finding("overfitting", message, evidence, _overfit_fix(history, name, mode, best_step), step=best_step, severity=severity)


def _inside_plateau_noise(series: Series, best: int, mode: str) -> bool:
    """Whether the curve plateaued in the first SATURATE_FRACTION of the run (saturating's reading), ends better than
    its first evaluation (a curve that gave back all it gained has turned, whatever its jitter), and every evaluation
    after its best stays inside the band the plateau held before the best (no worse than its worst) with a rise within
    the jitter of that stretch (a rise that climbs out of the band, however steady, is a turn)."""
    found = _plateaued_early(series, mode, settled=True)
    if found is None or best - found[0] < 2 or not _better(series.values[-1], series.values[0], mode):
        return False
    band = series.values[found[0] : best]
    worst = max(band) if mode == "min" else min(band)
    inside = all(not _better(worst, v, mode) for v in series.values[best + 1 :])
    return inside and not beyond_jitter(series, best, mode, since=found[0])


def _quality_turned(history: History, name: str) -> bool:
    """Whether a quality metric the run optimises (other than ``name``) ends more than OVERFIT_DROP below its best."""
    return any(
        _worse_by(metric.values[-1], metric.values[_best_index(metric, mode)], mode) > t.OVERFIT_DROP
        for other, metric, mode in quality_metrics(history)
        if other != name
    )


def _overfit_fix(history: History, name: str, mode: str, best_step: float) -> str:
    """003's overfitting fixes (stop earlier, more weight decay) in the producing tool's own names; a setting the
    run already has (HF load_best_model_at_end with this metric) is not repeated."""
    decay, new_wd = decay_raise(history)
    hf_name = "eval_" + name.removeprefix("val_")
    selected = history.hints.load_best and history.hints.metric == name
    hf_args = "" if selected else f"load_best_model_at_end=True, metric_for_best_model='{hf_name}', greater_is_better={mode == 'max'}, "
    return for_tool(
        history,
        trainwell=f"early_stopping.patience: {t.OVERFIT_PATIENCE} (or {_length_fix(history, best_step)}); {decay}",
        hf=f"TrainingArguments({hf_args}weight_decay={new_wd}) with EarlyStoppingCallback(early_stopping_patience={t.OVERFIT_PATIENCE})",
        lightning=(
            f"EarlyStopping(monitor='{name}', mode='{mode}', patience={t.OVERFIT_PATIENCE}) and "
            f"ModelCheckpoint(monitor='{name}', mode='{mode}', save_top_k=1); weight_decay={new_wd} in configure_optimizers"
        ),
        keras=(
            f"keras.callbacks.EarlyStopping(monitor='{name}', mode='{mode}', patience={t.OVERFIT_PATIENCE}, "
            f"restore_best_weights=True); the optimizer's weight_decay={new_wd} (keras.optimizers.AdamW)"
        ),
    )


def _accuracy_gap(history: History) -> Finding | None:
    """004's sign: train acc >> val acc. The training set is memorised (train accuracy >= 0.95) and the held-out
    accuracy ends 0.2 or more below it, even while the val loss still drifts down."""
    train = next((s.finite() for k, s in sorted(history.train_metrics.items()) if k in ("accuracy", "acc")), None)
    val = history.eval.get("val_accuracy", Series()).finite()
    if not train or len(val) < t.MIN_POINTS - 1:
        return None
    train_end, val_end = tail_level(train.values, t.EDGE_FRACTION), tail_level(val.values, t.EDGE_FRACTION)
    if train_end < t.OVERFIT_ACC_MEMORISED or train_end - val_end < t.OVERFIT_ACC_GAP:
        return None
    if _gap_opened_in_a_blow_up(history, train, val):
        return None  # the val loss blew up and the accuracy has not recovered yet: val_spikes' finding, not memorisation
    message = (
        f"overfitting: train accuracy reaches {fmt(train_end)} while val_accuracy ends at {fmt(val_end)}, "
        f"{train_end - val_end:.2f} lower: the model memorised the training set (train acc >> val acc)"
    )
    evidence = [at(train, len(train) - 1, "train_accuracy", "end"), at(val, len(val) - 1, "val_accuracy", "end")]
    decay, new_wd = decay_raise(history)
    fix = for_tool(
        history,
        trainwell=f"{decay}; model.dropout: raise it; more data augmentation (004 'Add Regularization')",
        hf=f"TrainingArguments(weight_decay={new_wd}); raise the model's dropout (config.hidden_dropout_prob)",
        lightning=f"weight_decay={new_wd} in configure_optimizers; raise dropout; more augmentation",
        keras=f"the optimizer's weight_decay={new_wd} (keras.optimizers.AdamW); raise the Dropout layers' rate; more augmentation",
    )
    return finding("overfitting", message, evidence, fix, step=val.steps[-1])


def _gap_opened_in_a_blow_up(history: History, train: Series, val: Series) -> bool:
    """Whether the val loss had an excursion (val_spikes' reading: a jump to VAL_SPIKE_RATIO x and back) and, at the
    evaluation before it, the val accuracy was within OVERFIT_ACC_GAP of the train accuracy: the gap opened with the
    blow-up (a val loss 0.33 -> 7.2 -> 1.2 with val accuracy 0.85 -> 0.24 -> 0.61), it was not there before."""
    loss = history.eval_loss.finite()
    found = val_excursions(loss.values)
    if not found:
        return False
    before = loss.steps[found[0][0] - 1]
    val_then = [v for s, v in zip(val.steps, val.values) if s <= before]
    train_then = [v for s, v in zip(train.steps, train.values) if s <= before]
    return bool(val_then and train_then) and train_then[-1] - val_then[-1] < t.OVERFIT_ACC_GAP


def _disagreement(history: History) -> tuple[str, Series, str, int, int] | None:
    """(metric, its series, mode, eval-loss best index, metric best index) when the eval loss has turned
    (>= OVERFIT_RISE above its best on >= OVERFIT_MIN_AFTER later evaluations) while the quality metric the
    run optimises kept improving past the eval-loss best and is within OVERFIT_DROP of its own best at the end.

    The quality metric is the one the run selects its checkpoint by (HF metric_for_best_model) when that is not a
    loss; otherwise the headline metrics it logs (accuracy, F1, WER ...): none may have turned with the loss, and one
    must have improved past the eval-loss best by OVERFIT_DROP (relative), more than a flat metric's wobble. Per-class
    metrics are not read: with dozens of them, some one always improves."""
    loss = history.eval_loss.finite()
    if len(loss) < t.FEW_EVALS - 1:
        return None
    loss_best = _best_index(loss, "min")
    rose = [_worse_by(v, loss.values[loss_best], "min") >= t.OVERFIT_RISE for v in loss.values[loss_best + 1 :]]
    if sum(rose) < t.OVERFIT_MIN_AFTER or not rose[-1]:
        return None
    improved = []
    for name, metric, mode in quality_metrics(history):
        if metric.steps != loss.steps:
            continue
        metric_best = _best_index(metric, mode)
        if _worse_by(metric.values[-1], metric.values[metric_best], mode) > t.OVERFIT_DROP:
            return None  # a quality metric turned with the loss: that is overfitting, not a disagreement
        if metric_best > loss_best and _worse_by(metric.values[loss_best], metric.values[metric_best], mode) >= t.OVERFIT_DROP:
            improved.append((name, metric, mode, loss_best, metric_best))
    return improved[0] if improved else None


# No needs: _disagreement judges from FEW_EVALS - 1 evaluations (a rising loss over 3 evaluations of an improving metric).
@check("loss_metric_disagree", Severity.INFO, 4, t.SOURCES["OVERFIT_RISE"], supersedes=("still_improving", "saturating"))
def loss_metric_disagree(history: History) -> Finding | None:
    """The eval loss rises while the metric the run optimises keeps improving: select and stop on the metric."""
    found = _disagreement(history)
    if found is None:
        return None
    name, metric, mode, loss_best, metric_best = found
    loss = history.eval_loss.finite()
    message = (
        f"val_loss was best at {history.x_unit} {loss.steps[loss_best]:g} ({fmt(loss.values[loss_best])}) and rose to "
        f"{fmt(loss.values[-1])}, but {name} kept improving to {fmt(metric.values[metric_best])} at {history.x_unit} "
        f"{metric.steps[metric_best]:g}: the model grows over-confident on the examples it gets wrong (loss up) while "
        f"getting more of them right; stopping on val_loss would give up the better {name}"
    )
    evidence = [
        at(loss, loss_best, "val_loss", "eval-loss best"),
        at(loss, len(loss) - 1, "val_loss", "last"),
        at(metric, metric_best, name, f"{name} best"),
    ]
    hf_name = "eval_" + name.removeprefix("val_")
    fix = for_tool(
        history,
        trainwell=f"early_stopping.monitor: {name} (mode {mode}); keep the best checkpoint by {name}, not by val_loss",
        hf=f"TrainingArguments(metric_for_best_model='{hf_name}', greater_is_better={mode == 'max'}, load_best_model_at_end=True)",
        lightning=f"ModelCheckpoint(monitor='{name}', mode='{mode}') and EarlyStopping(monitor='{name}', mode='{mode}')",
        keras=(
            f"keras.callbacks.ModelCheckpoint(path, monitor='{name}', mode='{mode}', save_best_only=True) and "
            f"EarlyStopping(monitor='{name}', mode='{mode}', restore_best_weights=True)"
        ),
    )
    return finding("loss_metric_disagree", message, evidence, fix, step=metric.steps[metric_best])


def _needs_few_evals(history: History) -> str | None:
    n = len(history.eval_loss.finite()) or max((len(s.finite()) for s in history.eval.values()), default=0)
    return None if 0 < n < t.FEW_EVALS else f"applies to 1-{t.FEW_EVALS - 1} evaluations, the log has {n}"


@check("few_evals", Severity.INFO, 13, t.SOURCES["FEW_EVALS"], (_needs_few_evals,))
def few_evals(history: History) -> Finding | None:
    """Fewer than 4 evaluations: overfitting and underfitting cannot be judged, and the doctor says so."""
    found = monitored(history)
    if found is None:
        return None
    name, series, mode = found
    trend = " → ".join(fmt(v) for v in series.values)
    planned = history.hints.planned_steps
    partial = ""
    if planned and history.x_unit == "step" and history.last_step < t.PARTIAL_RUN_FRACTION * planned:
        partial = f"; the log stops at step {history.last_step:g} of a planned {planned:g} (a checkpoint of an unfinished run)"
    message = (
        f"only {len(series)} evaluation(s) of {name} ({trend}){partial}; {_few_verdict(series, mode)}: overfitting, "
        f"underfitting and saturation need >= {t.FEW_EVALS} evaluations to be judged"
    )
    span = history.last_step - history.first_step
    every = max(1, round(span / (2 * t.FEW_EVALS))) if span > 0 else 1
    fix = for_tool(
        history,
        trainwell=f"eval.every: {every} (or more epochs) so that the run has >= {2 * t.FEW_EVALS} evaluations",
        hf=f"TrainingArguments(eval_strategy='steps', eval_steps={every})",
        lightning=f"Trainer(val_check_interval={every}) or check_val_every_n_epoch=1",
        keras=f"model.fit(..., validation_data=..., validation_freq=1) over more epochs, so that the run has >= {2 * t.FEW_EVALS} evaluations",
    )
    return finding("few_evals", message, [at(series, len(series) - 1, name, "last evaluation")], fix, step=series.steps[-1])


def _few_verdict(series: Series, mode: str) -> str:
    """What so few evaluations do show, stated as a verdict rather than left out."""
    if len(series) < 2:
        return "a single evaluation shows no trend"
    best = _best_index(series, mode)
    if best == len(series) - 1:
        return "the last evaluation is the best: still improving at the end"
    drop = _worse_by(series.values[-1], series.values[best], mode)
    return f"the last evaluation is {drop:.0%} worse than the best: a possible turn, too short to confirm"


def _turned(history: History, name: str, series: Series, mode: str, best: int, then: float | None, now: float | None) -> str | None:
    """003's first sign: the validation metric rises (falls) while the train loss keeps falling."""
    limit = t.OVERFIT_RISE if mode == "min" else t.OVERFIT_DROP
    worse = [_worse_by(v, series.values[best], mode) for v in series.values[best + 1 :]]
    if worse[-1] < limit or sum(w >= limit for w in worse) < t.OVERFIT_MIN_AFTER:
        return None
    gap = ""
    if then is not None and now is not None and "loss" in name:
        gap = f"; the val-train gap grew from {fmt(series.values[best] - then)} to {fmt(series.values[-1] - now)}"
    return (
        f"overfitting from {history.x_unit} {series.steps[best]:g}: {name} was best at {fmt(series.values[best])} and ended at "
        f"{fmt(series.values[-1])} ({worse[-1]:+.0%} worse){gap}"
    )


def _gap(history: History, name: str, series: Series, best: int, now: float | None) -> str | None:
    """003's definition: train loss << eval loss, once the eval loss has stopped improving."""
    if name != "val_loss" or now is None or now <= 0 or series.values[-1] < t.OVERFIT_GAP_RATIO * now:
        return None
    return (
        f"overfitting: val_loss stopped improving at {history.x_unit} {series.steps[best]:g} ({fmt(series.values[best])}) "
        f"and ends at {fmt(series.values[-1])}, {series.values[-1] / now:.0f}x the train loss {fmt(now)}"
    )


def _tail_gain(series: Series, mode: str) -> tuple[float, float]:
    """(share of the total improvement made in the last IMPROVING_TAIL of the run, total improvement)."""
    sign = 1.0 if mode == "min" else -1.0
    values = [sign * v for v in series.values]
    total = values[0] - min(values)
    cut = series.steps[0] + (1 - t.IMPROVING_TAIL) * (series.steps[-1] - series.steps[0])
    before = [v for s, v in zip(series.steps, values) if s <= cut]
    tail_best = min(values[len(before) :], default=before[-1])
    return ((before[-1] - tail_best) / total if total > 0 else 0.0), total


def _bounded_below(series: Series, mode: str) -> bool:
    """A loss or error rate (lower is better, every value > 0): a quantity bounded by 0, whose relative changes mean
    the same at any level. An accuracy or a reward is not read this way (0.95 -> 0.96 is a fifth of the errors gone)."""
    return mode == "min" and bool(series.values) and min(series.values) > 0


def _edges_of(series: Series, start: int) -> tuple[float, float]:
    """(the level where the stretch from ``start`` begins, the level at the end): medians of EDGE_FRACTION of the run's
    points (at least 2) from ``start`` and at the end, so one lucky or unlucky evaluation sets neither."""
    k = max(2, int(len(series) * t.EDGE_FRACTION))
    return statistics.median(series.values[start : start + k]), tail_level(series.values, t.EDGE_FRACTION)


def _cut_index(series: Series, fraction: float) -> int:
    """The first index at or past ``fraction`` of the run (by position, not by count: evaluations may be uneven)."""
    first, last = series.steps[0], series.steps[-1]
    return next(i for i, s in enumerate(series.steps) if position(s, first, last) >= fraction)


def relative_tail_drop(series: Series, mode: str) -> float | None:
    """How far below the level where the last IMPROVING_TAIL starts the curve ends, relative to that level, for a loss
    or error bounded by 0 (None otherwise)."""
    if not _bounded_below(series, mode) or len(series) < t.FEW_EVALS:
        return None
    begin, end = _edges_of(series, _cut_index(series, 1 - t.IMPROVING_TAIL))
    return (begin - end) / begin


def improving_at_end(series: Series, mode: str) -> bool:
    """The best value is at (or next to, the last near it by ends_near_best) the end, and the last third brought
    IMPROVING_SHARE of the total gain, or the last value beats every earlier one by IMPROVING_LAST_GAIN (a curve whose
    early drop dwarfs a late one that is still going on), or (a loss or error bounded by 0) the end level is
    IMPROVING_REL_DROP below where the last third started: the one reading of "still improving" that still_improving,
    saturating and underfitting share."""
    best = _best_index(series, mode)
    share, _ = _tail_gain(series, mode)
    if best < len(series) - 2:
        return False
    if best == len(series) - 2 and not ends_near_best(series, mode):
        return False  # the last evaluation fell away from the best (a BLEU 2.49 -> 0.007): a turn or a collapse, not improving
    if share >= t.IMPROVING_SHARE:
        return True
    drop = relative_tail_drop(series, mode)
    if drop is not None and drop >= t.IMPROVING_REL_DROP:
        return True
    earlier = series.values[:-1]
    if best != len(series) - 1 or not earlier:
        return False
    previous = min(earlier) if mode == "min" else max(earlier)
    return _worse_by(previous, series.values[-1], mode) >= t.IMPROVING_LAST_GAIN


def _train_trend(history: History) -> tuple[float, float, float] | None:
    """(Mann-Kendall z, share of the total improvement the Theil-Sen line drops, that drop relative to the line's level
    where the last third starts; 0 unless every value is > 0) over the last IMPROVING_TAIL of the raw train loss, read on
    at most TREND_MAX_POINTS chunk medians; None with too few points to say."""
    train = history.train_loss.finite()
    if len(train) < t.MIN_POINTS * 3:
        return None
    total = start_level(train.values) - min(smoothed(train))
    cut = _cut_index(train, 1 - t.IMPROVING_TAIL)
    steps, values = chunk_medians(train.steps[cut:], train.values[cut:], t.TREND_MAX_POINTS)
    if len(values) < t.MIN_POINTS or total <= 0:
        return None
    slope = theil_sen_slope(steps, values)
    drop = -slope * (train.steps[-1] - train.steps[cut])
    # The line's level where the last third starts (Theil-Sen's intercept: the median of value - slope x step).
    start = statistics.median(v - slope * s for s, v in zip(steps, values)) + slope * train.steps[cut]
    # Capped at the whole level: a steep line over a noisy tail can reach below 0, where a loss bounded by 0 cannot go.
    relative = min(drop, start) / start if min(train.values) > 0 and start > 0 else 0.0
    return mann_kendall_z(values), drop / total, relative


def _still_falling(history: History, trend: tuple[float, float, float] | None = None) -> bool:
    """The train loss's last third still falls: a significant Mann-Kendall trend (TREND_Z) whose Theil-Sen line drops
    more than 1 - SATURATE_LEVEL of the total improvement, or (the loss bounded by 0) IMPROVING_REL_DROP of its level
    where the last third starts."""
    trend = trend or _train_trend(history)
    return trend is not None and trend[0] <= -t.TREND_Z and (trend[1] > 1 - t.SATURATE_LEVEL or trend[2] >= t.IMPROVING_REL_DROP)


def _watched(history: History) -> tuple[str, Series, str]:
    """The monitored eval metric when there are enough evaluations, else the smoothed train loss, else the
    few evaluations there are (a 3-epoch Keras run has 3 of each: its verdict is stated, not skipped)."""
    found = monitored(history)
    if found and len(found[1]) >= t.MIN_POINTS - 1:
        return found
    train = history.train_loss.finite()
    if len(train) >= t.MIN_POINTS:
        return "train_loss", Series(train.steps, smoothed(train)), "min"
    return found or ("train_loss", train, "min")  # a few epoch means are read as they are


def _needs_curve(history: History) -> str | None:
    """A train loss of MIN_POINTS, at least two evaluations, or with no evaluation at all FEW_EVALS - 1 train losses
    (a 3-epoch run logging its epoch means: its verdict is stated, as few_evals states one for 3 evaluations)."""
    found = monitored(history)
    if needs_loss(history) is None or (found and len(found[1]) >= 2):
        return None
    if not found and len(history.train_loss.finite()) >= t.FEW_EVALS - 1:
        return None
    return f"needs >= {t.MIN_POINTS} loss points or >= 2 evaluations"


def _unfinished(history: History) -> float | None:
    """The planned length when the log stops before PARTIAL_RUN_FRACTION of it (a checkpoint of a run still going)."""
    planned = history.hints.planned_steps
    if planned and history.x_unit == "step" and history.last_step < t.PARTIAL_RUN_FRACTION * planned:
        return planned
    return None


@check("still_improving", Severity.INFO, 9, t.SOURCES["IMPROVING_TAIL"], (_needs_curve,), supersedes=("saturating",))
def still_improving(history: History) -> Finding | None:
    """The watched metric is still improving at the end: the run stopped too soon."""
    name, series, mode = _watched(history)
    if len(series) < 2:
        return None
    planned = _unfinished(history)
    # An unfinished run only has to be making its best in its last third: how much of the gain came late says
    # nothing about a curve that has not reached its end.
    recent_best = position(series.steps[_best_index(series, mode)], series.steps[0], series.steps[-1]) >= 1 - t.IMPROVING_TAIL
    trend = _train_trend(history) if name == "train_loss" else None
    # A train-only log is one noisy curve: its smoothed minimum wanders, so a significant downward trend over its last
    # third counts too (for an unfinished run the trend alone, as recent_best alone does).
    falling = trend is not None and trend[0] <= -t.TREND_Z and (bool(planned) or _still_falling(history, trend))
    if not (improving_at_end(series, mode) or (planned and recent_best) or falling):
        return None
    share, _ = _tail_gain(series, mode)
    cut_index = _cut_index(series, 1 - t.IMPROVING_TAIL)
    evidence = [at(series, cut_index, name, "last third starts"), at(series, len(series) - 1, name, "best, at the end")]
    message = f"{name} is still improving at the end: the last third of the run brought {share:.0%} of its total improvement"
    drop = relative_tail_drop(series, mode)
    if drop is not None and drop >= t.IMPROVING_REL_DROP:
        message += f" and lowered it by {drop:.0%} of its level"
    if falling and trend is not None:
        evidence[-1] = at(series, len(series) - 1, name, "end of a falling trend")
        message = (
            f"{name} is still falling at the end: over the last third a robust trend line drops it by {trend[1]:.0%} of its "
            f"total improvement, {trend[2]:.0%} of its level (Mann-Kendall z = {trend[0]:.1f}, significant beyond {t.TREND_Z:g})"
        )
    end = history.last_step
    if planned:
        # A checkpoint copy of an unfinished run: the run already plans more steps; more epochs is not the fix.
        message += f"; the log stops at step {end:g} of a planned {planned:g}, so this is a checkpoint of an unfinished run"
        fix = for_tool(
            history,
            trainwell=f"nothing to change: resume the run (trainwell train --resume) to its planned {planned:g} steps and judge the finished log",
            hf=f"nothing to change: trainer.train(resume_from_checkpoint=True) finishes the planned max_steps={planned:g}",
        )
        return finding("still_improving", message, evidence, fix, step=series.steps[cut_index])
    epochs = history.hints.epochs if history.x_unit == "step" else end
    if epochs:
        fix = for_tool(
            history,
            trainwell=f"training.epochs: {epochs:g} → {2 * epochs:g}",
            hf=f"TrainingArguments(num_train_epochs={2 * epochs:g})  # was {epochs:g}",
            lightning=f"Trainer(max_epochs={2 * epochs:g})  # was {epochs:g}",
            keras=f"model.fit(..., epochs={2 * epochs:g})  # was {epochs:g}",
        )
    else:
        fix = for_tool(
            history,
            trainwell=f"training.max_steps: {end:g} → {2 * end:g}",
            hf=f"TrainingArguments(max_steps={2 * end:g})  # was {end:g}",
            lightning=f"Trainer(max_steps={2 * end:g})  # was {end:g}",
            keras=f"model.fit(..., epochs=...) for twice the steps ({2 * end:g}, was {end:g})",
        )
    return finding("still_improving", message, evidence, fix, step=series.steps[cut_index])


def _gained(values: list[float], gain: float) -> bool:
    """Whether a curve improved at all: by SATURATE_MIN_GAIN of where it started, or, for a quantity with no zero to
    measure from (a reward, a signed objective: some value <= 0), by OVERFIT_NOISE_Z robust standard deviations of its
    step-to-step jitter (a val reward -114.5 -> -110.5 is 3.5% of its level but 20 times its noise)."""
    if min(values) > 0:
        return gain >= t.SATURATE_MIN_GAIN * abs(values[0])
    return gain > 0 and gain >= t.OVERFIT_NOISE_Z * step_jitter(values)


def _plateaued_early(series: Series, mode: str, settled: bool = False) -> tuple[int, float] | None:
    """(index, position in the run) where the curve got within 1 - SATURATE_LEVEL of its total improvement, when that is
    in the first SATURATE_FRACTION of the run and the curve improved by SATURATE_MIN_GAIN at all; else None. The
    improvement runs to the best value, or with ``settled`` to the level the curve settled at (saturating's reading)."""
    if len(series) < t.MIN_POINTS - 1:
        return None
    sign = 1.0 if mode == "min" else -1.0
    values = [sign * v for v in series.values]
    best, begin = min(values), values[0]
    if not _gained(series.values, begin - best):
        return None
    # The level the curve settled at: the higher of its best and the median of its last EDGE_FRACTION (in a noisy band
    # the raw best is the luckiest evaluation, and a line 5% above it is crossed late and by chance). Not for
    # overfitting's question (did the curve flatten before its turn?): a turn lifts the tail above the best.
    end = max(best, tail_level(values, t.EDGE_FRACTION)) if settled else best
    if end >= begin:
        return None  # the curve settled no better than it started (a blow-up it never recovered from): no plateau reached
    line = end + (1 - t.SATURATE_LEVEL) * (begin - end)
    reached = next(i for i, v in enumerate(values) if v <= line)
    where = position(series.steps[reached], series.steps[0], series.steps[-1])
    return (reached, where) if where <= t.SATURATE_FRACTION else None


def _flat_after_early(series: Series, mode: str) -> tuple[int, float] | None:
    """(index, relative change) when a loss or error bounded by 0 that improved by SATURATE_MIN_GAIN at all barely moved
    (less than FLAT_REL of its level, flat_loss's own "barely moves") from SATURATE_FRACTION of the run to the end: the
    level at the last point at or before that fraction (a median of EDGE_FRACTION of the points from there) against the
    end level. A 0.0199 -> 0.0183 -> 0.0180 val RMSE gained 16% of its improvement late, but 1.6% of its level."""
    if not _bounded_below(series, mode) or len(series) < t.MIN_POINTS - 1:
        return None
    begin = series.values[0]
    if begin - min(series.values) < t.SATURATE_MIN_GAIN * begin:
        return None
    first, last = series.steps[0], series.steps[-1]
    cut = max(i for i, s in enumerate(series.steps) if position(s, first, last) <= t.SATURATE_FRACTION)
    level, end = _edges_of(series, cut)
    if end >= begin or level <= 0:
        return None
    change = (level - end) / level
    return (cut, change) if abs(change) < t.FLAT_REL else None


@check("saturating", Severity.INFO, 10, t.SOURCES["SATURATE_FRACTION"], (_needs_curve,))
def saturating(history: History) -> Finding | None:
    """The watched metric reached its plateau in the first 30% of the run: the rest was wasted."""
    name, series, mode = _watched(history)
    found = _plateaued_early(series, mode, settled=True)
    flat = None if found is not None else _flat_after_early(series, mode)
    if found is None and flat is None:
        return None
    if found is not None:
        reached, where = found
        message = (
            f"{name} plateaued {where:.0%} of the way through: {t.SATURATE_LEVEL:.0%} of its improvement came by "
            f"{history.x_unit} {series.steps[reached]:g}"
        )
        evidence = [at(series, reached, name, f"{t.SATURATE_LEVEL:.0%} of the improvement"), at(series, len(series) - 1, name, "end")]
    else:
        reached, change = flat  # type: ignore[misc]  # one of the two readings found the plateau
        where = position(series.steps[reached], series.steps[0], series.steps[-1])
        message = (
            f"{name} barely moved after {history.x_unit} {series.steps[reached]:g} ({where:.0%} of the way through): "
            f"{change:+.1%} of its level from there to the end (under {t.FLAT_REL:.0%})"
        )
        evidence = [at(series, reached, name, "flat from here"), at(series, len(series) - 1, name, "end")]
    stop_at = series.steps[0] + 1.5 * (series.steps[reached] - series.steps[0]) + 1
    fix = _length_fix(history, stop_at, "about")
    # Early stopping already at SATURATE_PATIENCE or tighter is no fix to offer (trainwell's default run has patience 5
    # and was told to set patience 5): the budget is what is left to change.
    if not (history.hints.patience and history.hints.patience <= t.SATURATE_PATIENCE):
        fix += f"; or {_patience_fix(history, t.SATURATE_PATIENCE, name, mode)}"
    return finding("saturating", message, evidence, fix, step=series.steps[reached])


def _passes(history: History) -> float | None:
    """How many passes over the training data the log covers: the planned epochs (HF num_train_epochs), else the epochs
    the log went through (an epoch index counted from 0, as Lightning and Keras write it: the number of epochs seen; HF's
    fractional progress: the passes completed), else the x axis when it counts epochs; None when the log does not say."""
    if history.hints.epochs:
        return history.hints.epochs
    epochs = history.epochs.finite().values
    if epochs and all(v.is_integer() for v in epochs):
        return max(epochs) - min(epochs) + 1
    if epochs:
        return max(epochs)
    return history.last_step if history.x_unit == "epoch" else None


def _high(history: History, train_end: float, train_begin: float) -> str | None:
    """Why the final train loss counts as high, or None."""
    acc = next((s.finite() for k, s in history.train_metrics.items() if "accuracy" in k), None)
    if acc:
        final = tail_level(acc.values, t.EDGE_FRACTION)
        val = history.eval.get("val_accuracy", Series()).finite()
        if val and tail_level(val.values, t.EDGE_FRACTION) >= t.UNDERFIT_ACC:
            # 004's underfitting is both accuracies low. A val accuracy that got good while the train accuracy stayed low
            # measures the train side under dropout, augmentation or mixup (a train loss above the val loss throughout),
            # not a model that cannot fit its data.
            return None
        return f"train accuracy {final:.2f} < {t.UNDERFIT_ACC}" if final < t.UNDERFIT_ACC else None
    k = history.hints.num_classes
    if k and train_end > t.UNDERFIT_CHANCE_FRACTION * math.log(k):
        return f"train loss {fmt(train_end)} > half of ln({k})"
    if train_begin > 0 and (train_begin - train_end) / train_begin < t.UNDERFIT_PROGRESS:
        return f"train loss fell only {(train_begin - train_end) / train_begin:.0%} ({fmt(train_begin)} → {fmt(train_end)})"
    return None


def _train_accuracy(history: History) -> Series | None:
    return next((s.finite() for k, s in history.train_metrics.items() if "accuracy" in k and s.finite()), None)


def _needs_eval_or_train_accuracy(history: History) -> str | None:
    """Held-out evaluations, or with none at all a logged train accuracy (004's train-side sign of underfitting)."""
    why = needs_eval(history)
    return None if why is None or (not history.eval and _train_accuracy(history)) else why


def _both_accuracies_low(history: History) -> bool:
    """004's 'underfitting = both accuracies low': train and val accuracy both end below UNDERFIT_ACC."""
    train, val = _train_accuracy(history), history.eval.get("val_accuracy", Series()).finite()
    if not train or not val:
        return False
    return max(tail_level(train.values, t.EDGE_FRACTION), tail_level(val.values, t.EDGE_FRACTION)) < t.UNDERFIT_ACC


@check("underfitting", Severity.WARNING, 8, t.SOURCES["UNDERFIT_GAP"], (needs_loss, _needs_eval_or_train_accuracy))
def underfitting(history: History) -> Finding | None:
    """Train and eval losses both stay high, with no generalisation gap, and have stopped improving (or both
    accuracies stay low); with no evaluation, a low train accuracy under a train loss that stopped improving."""
    train, val = history.train_loss.finite(), history.eval_loss.finite()
    if not history.eval:
        return _underfit_train_only(history, train)
    # Both accuracies low is underfitting even while the val loss still creeps down: more epochs of a model that
    # fits a third of its training set is not the fix.
    if len(train) < 2 or len(val) < 2 or (improving_at_end(val, "min") and not _both_accuracies_low(history)):
        return None
    train_end, train_begin = tail_level(train.values, t.EDGE_FRACTION), train.values[0]
    val_end = tail_level(val.values, t.EDGE_FRACTION)
    if train_end < (1 - t.UNDERFIT_GAP) * val_end:
        return None
    passes = _passes(history)
    if passes is not None and passes <= 1 and not _both_accuracies_low(history):
        # One pass over the data (an LLM fine-tune's single epoch): every train batch was new to the model when its loss
        # was logged, so the train loss is a held-out estimate itself and sits on the val loss whatever the capacity;
        # 003's "no generalisation gap" says nothing until the model has seen its data twice.
        return None
    why = _high(history, train_end, train_begin)
    if why is None:
        return None
    evidence = [at(train, len(train) - 1, "train_loss", "end"), at(val, len(val) - 1, "val_loss", "end")]
    message = f"underfitting: {why}, and train loss {fmt(train_end)} is not below val loss {fmt(val_end)} (no capacity to spare)"
    return finding("underfitting", message, evidence, _underfit_fix(history), step=train.steps[-1])


def _underfit_train_only(history: History, train: Series) -> Finding | None:
    """No held-out data: the train accuracy ends below UNDERFIT_ACC and the (smoothed) train loss has stopped
    improving: the model cannot fit even the data it trains on."""
    acc = _train_accuracy(history)
    if acc is None or len(train) < t.MIN_POINTS:
        return None
    final = tail_level(acc.values, t.EDGE_FRACTION)
    curve = Series(train.steps, smoothed(train))
    if final >= t.UNDERFIT_ACC or improving_at_end(curve, "min") or _still_falling(history):
        return None  # a train loss still falling (still_improving's reading of a train-only log) has not stopped
    share, _ = _tail_gain(curve, "min")
    evidence = [at(acc, len(acc) - 1, "train_accuracy", "end"), at(train, len(train) - 1, "train_loss", "end")]
    message = (
        f"underfitting: train accuracy ends at {final:.2f} < {t.UNDERFIT_ACC} while the train loss has stopped improving "
        f"(the last third brought {share:.0%} of its gain, {fmt(train.values[0])} → {fmt(train.values[-1])}): the model "
        "cannot fit even its training data (no evaluation was logged)"
    )
    return finding("underfitting", message, evidence, _underfit_fix(history), step=train.steps[-1])


def _underfit_fix(history: History) -> str:
    """003's underfitting fixes: a higher LR and less regularisation (a LoRA run's rank first)."""
    wd = history.hints.weight_decay
    decay = for_tool(
        history,
        trainwell=f"optimizer.weight_decay: {fmt(wd)} → {fmt(wd / 10)}" if wd else "lower dropout (model.dropout) and weight decay",
        hf=f"TrainingArguments(weight_decay={fmt(wd / 10)})" if wd else "lower the model's dropout and TrainingArguments(weight_decay=...)",
        lightning=f"weight_decay={fmt(wd / 10)} in configure_optimizers" if wd else "lower dropout and the optimizer's weight_decay",
        keras="lower the Dropout layers' rate and the optimizer's weight_decay (or the layers' kernel_regularizer)",
    )
    fix = f"{lr_change(history, 2.0)}; {decay}"
    r = history.hints.lora_r
    if r:  # a LoRA run's capacity is its rank: 003's underfitting fix
        fix = f"model.lora_r: {r} → {2 * r} (003: increase LoRA rank when both losses stay high); {fix}"
    return fix
