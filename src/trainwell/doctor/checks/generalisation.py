"""Checks on what the run learned and how long it ran: overfitting onset, underfitting, still improving
at the end, and saturating long before the end."""

from __future__ import annotations

import math

from trainwell.doctor.checks import thresholds as t
from trainwell.doctor.checks.base import (
    at,
    check,
    decay_raise,
    finding,
    fmt,
    for_tool,
    lr_change,
    mode_of,
    monitored,
    needs_eval,
    needs_loss,
    smoothed,
)
from trainwell.doctor.history import Finding, History, Series, Severity
from trainwell.doctor.signal import position, tail_level


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
        )
    steps = max(1, round(at_step))
    return for_tool(
        history,
        trainwell=f"training.max_steps: {steps:g} ({verb} {history.x_unit} {at_step:g})",
        hf=f"TrainingArguments(max_steps={steps:g})  # {verb} step {at_step:g}",
        lightning=f"Trainer(max_steps={steps:g})  # {verb} step {at_step:g}",
    )


def _patience_fix(history: History, patience: int, monitor: str = "val_loss", mode: str = "min") -> str:
    """Early stopping with ``patience`` evaluations, in the producing tool's names."""
    return for_tool(
        history,
        trainwell=f"early_stopping.patience: {patience}",
        hf=f"EarlyStoppingCallback(early_stopping_patience={patience}) with TrainingArguments(load_best_model_at_end=True)",
        lightning=f"EarlyStopping(monitor='{monitor}', mode='{mode}', patience={patience})",
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
        # A late, small turn near a floor (noise or the first sign): the best checkpoint keeps almost everything.
        severity = Severity.INFO
        message += f"; mild: the end gave back {lost / gained:.0%} of the improvement made before the best evaluation"
    evidence = [at(series, best, name, "best (turn)"), at(series, len(series) - 1, name, "last")]
    return finding("overfitting", message, evidence, _overfit_fix(history, name, mode, best_step), step=best_step, severity=severity)


def _overfit_fix(history: History, name: str, mode: str, best_step: float) -> str:
    """003's overfitting fixes (stop earlier, more weight decay) in the producing tool's own names."""
    decay, new_wd = decay_raise(history)
    hf_name = "eval_" + name.removeprefix("val_")
    return for_tool(
        history,
        trainwell=f"early_stopping.patience: {t.OVERFIT_PATIENCE} (or {_length_fix(history, best_step)}); {decay}",
        hf=(
            f"TrainingArguments(load_best_model_at_end=True, metric_for_best_model='{hf_name}', greater_is_better={mode == 'max'}, "
            f"weight_decay={new_wd}) with EarlyStoppingCallback(early_stopping_patience={t.OVERFIT_PATIENCE})"
        ),
        lightning=(
            f"EarlyStopping(monitor='{name}', mode='{mode}', patience={t.OVERFIT_PATIENCE}) and "
            f"ModelCheckpoint(monitor='{name}', mode='{mode}', save_top_k=1); weight_decay={new_wd} in configure_optimizers"
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
    )
    return finding("overfitting", message, evidence, fix, step=val.steps[-1])


def _disagreement(history: History) -> tuple[str, Series, str, int, int] | None:
    """(metric, its series, mode, eval-loss best index, metric best index) when the eval loss has turned
    (>= OVERFIT_RISE above its best on >= OVERFIT_MIN_AFTER later evaluations) while the quality metric the
    run optimises (HF metric_for_best_model, else the first accuracy/F1/WER-like eval series) kept improving
    past the eval-loss best and is within OVERFIT_DROP of its own best at the end."""
    loss = history.eval_loss.finite()
    if len(loss) < t.FEW_EVALS - 1:
        return None
    # Only a metric the run selected its checkpoint by (HF best_model_checkpoint) counts: with dozens of
    # per-class metrics logged, some unselected one always improves, and a run selected by loss optimises loss.
    names = [history.hints.metric] if history.hints.metric and "loss" not in history.hints.metric else []
    for name in names:
        metric = history.eval.get(name, Series()).finite()
        if len(metric) != len(loss) or metric.steps != loss.steps:
            continue
        mode = history.hints.mode if name == history.hints.metric and history.hints.mode else mode_of(name)
        loss_best, metric_best = _best_index(loss, "min"), _best_index(metric, mode)
        rose = [_worse_by(v, loss.values[loss_best], "min") >= t.OVERFIT_RISE for v in loss.values[loss_best + 1 :]]
        if sum(rose) < t.OVERFIT_MIN_AFTER or not rose[-1] or metric_best <= loss_best:
            continue
        if _worse_by(metric.values[-1], metric.values[metric_best], mode) > t.OVERFIT_DROP:
            continue
        return name, metric, mode, loss_best, metric_best
    return None


@check("loss_metric_disagree", Severity.INFO, 4, t.SOURCES["OVERFIT_RISE"], (needs_eval,), supersedes=("still_improving", "saturating"))
def loss_metric_disagree(history: History) -> Finding | None:
    """The eval loss rises while the metric the run optimises keeps improving: select and stop on the metric."""
    found = _disagreement(history)
    if found is None:
        return None
    name, metric, _, loss_best, metric_best = found
    mode = history.hints.mode or "min"
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


def improving_at_end(series: Series, mode: str) -> bool:
    best = _best_index(series, mode)
    share, _ = _tail_gain(series, mode)
    return best >= len(series) - 2 and share >= t.IMPROVING_SHARE


def _watched(history: History) -> tuple[str, Series, str]:
    """The monitored eval metric when there are enough evaluations, else the smoothed train loss, else the
    few evaluations there are (a 3-epoch Keras run has 3 of each: its verdict is stated, not skipped)."""
    found = monitored(history)
    if found and len(found[1]) >= t.MIN_POINTS - 1:
        return found
    train = history.train_loss.finite()
    if len(train) >= t.MIN_POINTS or not found:
        return "train_loss", Series(train.steps, smoothed(train)), "min"
    return found


def _needs_curve(history: History) -> str | None:
    """A train loss of MIN_POINTS, or at least two evaluations."""
    found = monitored(history)
    if needs_loss(history) is None or (found and len(found[1]) >= 2):
        return None
    return f"needs >= {t.MIN_POINTS} loss points or >= 2 evaluations"


@check("still_improving", Severity.INFO, 9, t.SOURCES["IMPROVING_TAIL"], (_needs_curve,))
def still_improving(history: History) -> Finding | None:
    """The watched metric is still improving at the end: the run stopped too soon."""
    name, series, mode = _watched(history)
    if len(series) < 2 or not improving_at_end(series, mode):
        return None
    share, _ = _tail_gain(series, mode)
    cut_index = next(i for i, s in enumerate(series.steps) if position(s, series.steps[0], series.steps[-1]) >= 1 - t.IMPROVING_TAIL)
    evidence = [at(series, cut_index, name, "last third starts"), at(series, len(series) - 1, name, "best, at the end")]
    message = f"{name} is still improving at the end: the last third of the run brought {share:.0%} of its total improvement"
    end = history.last_step
    planned = history.hints.planned_steps
    if planned and history.x_unit == "step" and end < t.PARTIAL_RUN_FRACTION * planned:
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
        )
    else:
        fix = for_tool(
            history,
            trainwell=f"training.max_steps: {end:g} → {2 * end:g}",
            hf=f"TrainingArguments(max_steps={2 * end:g})  # was {end:g}",
            lightning=f"Trainer(max_steps={2 * end:g})  # was {end:g}",
        )
    return finding("still_improving", message, evidence, fix, step=series.steps[cut_index])


@check("saturating", Severity.INFO, 10, t.SOURCES["SATURATE_FRACTION"], (needs_loss,))
def saturating(history: History) -> Finding | None:
    """The watched metric reached its plateau in the first 30% of the run: the rest was wasted."""
    name, series, mode = _watched(history)
    if len(series) < t.MIN_POINTS - 1:
        return None
    sign = 1.0 if mode == "min" else -1.0
    values = [sign * v for v in series.values]
    best, begin = min(values), values[0]
    if begin - best < t.SATURATE_MIN_GAIN * abs(begin):
        return None
    line = best + (1 - t.SATURATE_LEVEL) * (begin - best)
    reached = next(i for i, v in enumerate(values) if v <= line)
    where = position(series.steps[reached], series.steps[0], series.steps[-1])
    if where > t.SATURATE_FRACTION:
        return None
    evidence = [at(series, reached, name, f"{t.SATURATE_LEVEL:.0%} of the improvement"), at(series, len(series) - 1, name, "end")]
    message = f"{name} plateaued {where:.0%} of the way through: {t.SATURATE_LEVEL:.0%} of its improvement came by {history.x_unit} {series.steps[reached]:g}"
    stop_at = series.steps[0] + 1.5 * (series.steps[reached] - series.steps[0]) + 1
    fix = f"{_length_fix(history, stop_at, 'about')}; or {_patience_fix(history, t.SATURATE_PATIENCE, name, mode)}"
    return finding("saturating", message, evidence, fix, step=series.steps[reached])


def _high(history: History, train_end: float, train_begin: float) -> str | None:
    """Why the final train loss counts as high, or None."""
    acc = next((s.finite() for k, s in history.train_metrics.items() if "accuracy" in k), None)
    if acc:
        final = tail_level(acc.values, t.EDGE_FRACTION)
        return f"train accuracy {final:.2f} < {t.UNDERFIT_ACC}" if final < t.UNDERFIT_ACC else None
    k = history.hints.num_classes
    if k and train_end > t.UNDERFIT_CHANCE_FRACTION * math.log(k):
        return f"train loss {fmt(train_end)} > half of ln({k})"
    if train_begin > 0 and (train_begin - train_end) / train_begin < t.UNDERFIT_PROGRESS:
        return f"train loss fell only {(train_begin - train_end) / train_begin:.0%} ({fmt(train_begin)} → {fmt(train_end)})"
    return None


@check("underfitting", Severity.WARNING, 8, t.SOURCES["UNDERFIT_GAP"], (needs_loss, needs_eval))
def underfitting(history: History) -> Finding | None:
    """Train and eval losses both stay high, with no generalisation gap, and have stopped improving."""
    train, val = history.train_loss.finite(), history.eval_loss.finite()
    if len(train) < 2 or len(val) < 2 or improving_at_end(val, "min"):
        return None
    train_end, train_begin = tail_level(train.values, t.EDGE_FRACTION), train.values[0]
    val_end = tail_level(val.values, t.EDGE_FRACTION)
    if train_end < (1 - t.UNDERFIT_GAP) * val_end:
        return None
    why = _high(history, train_end, train_begin)
    if why is None:
        return None
    evidence = [at(train, len(train) - 1, "train_loss", "end"), at(val, len(val) - 1, "val_loss", "end")]
    message = f"underfitting: {why}, and train loss {fmt(train_end)} is not below val loss {fmt(val_end)} (no capacity to spare)"
    wd = history.hints.weight_decay
    decay = for_tool(
        history,
        trainwell=f"optimizer.weight_decay: {fmt(wd)} → {fmt(wd / 10)}" if wd else "lower dropout (model.dropout) and weight decay",
        hf=f"TrainingArguments(weight_decay={fmt(wd / 10)})" if wd else "lower the model's dropout and TrainingArguments(weight_decay=...)",
        lightning=f"weight_decay={fmt(wd / 10)} in configure_optimizers" if wd else "lower dropout and the optimizer's weight_decay",
    )
    fix = f"{lr_change(history, 2.0)}; {decay}"
    r = history.hints.lora_r
    if r:  # a LoRA run's capacity is its rank: 003's underfitting fix
        fix = f"model.lora_r: {r} → {2 * r} (003: increase LoRA rank when both losses stay high); {fix}"
    return finding("underfitting", message, evidence, fix, step=train.steps[-1])
