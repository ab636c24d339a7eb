"""Checks for a run that does not learn: a flat loss, a plateau at chance level, a loss that collapses
to exactly zero."""

from __future__ import annotations

import dataclasses
import math
import statistics

from trainwell.doctor.checks import thresholds as t
from trainwell.doctor.checks.base import (
    at,
    check,
    decay_raise,
    ends_near_best,
    finding,
    fmt,
    for_tool,
    lr_change,
    mode_of,
    needs_loss,
    needs_unsigned_loss,
    peak_lr,
    primary_loss,
    quality_metrics,
    start_level,
    tool,
)
from trainwell.doctor.history import Finding, History, Point, Series, Severity
from trainwell.doctor.signal import mann_kendall_z, rolling_median, tail_level


@check("flat_loss", Severity.ERROR, 3, t.SOURCES["FLAT_REL"], (needs_loss, needs_unsigned_loss), live=True, supersedes=("no_progress",))
def flat_loss(history: History) -> Finding | None:
    """The loss barely moves from start to end: the LR is far too low, or the model is not connected."""
    name, series = primary_loss(history)
    begin, end = start_level(series.values), tail_level(series.values, t.EDGE_FRACTION)
    change = (begin - end) / abs(begin) if begin else 0.0
    if abs(change) >= t.FLAT_REL:
        return None
    evidence = [at(series, 0, name, "start"), at(series, len(series) - 1, name, "end")]
    message = (
        f"{name} is flat: {fmt(begin)} at the start, {fmt(end)} at the end ({change:+.1%}); "
        "the LR is too low, or the parameters are not updated (frozen, detached, zero LR scale)"
    )
    return finding("flat_loss", message, evidence, lr_change(history, t.LR_MULTIPLY), step=series.steps[0])


def _chance_levels(history: History) -> list[tuple[float, str, float]]:
    """(loss level, what it means, tolerance) for the chance levels this log could sit at."""
    k = history.hints.num_classes
    if k and k >= 2:
        return [(math.log(k), f"ln({k}) for {k} classes", t.CHANCE_TOL_HINTED)]
    levels = [(math.log(n), f"ln({n}): {n} classes assumed", t.CHANCE_TOL) for n in range(2, t.CHANCE_MAX_K + 1)]
    # MSE of a constant 0.5 prediction on balanced 0/1 targets: the regression form of "predicts the prior".
    levels.append((0.25, "0.25: MSE of predicting 0.5 for balanced 0/1 targets", t.CHANCE_TOL))
    return levels


def _plateau(series: Series) -> tuple[float, int] | None:
    """(level, first index) of the last half when it is flat (spread < CHANCE_SPREAD of its level)."""
    if len(series) < 2:
        return None
    start = len(series) // 2
    tail = series.values[start:]
    level = statistics.median(tail)
    if level <= 0 or (len(tail) > 2 and (max(tail) - min(tail)) > t.CHANCE_SPREAD * level):
        return None
    return level, start


def _accuracy_near_prior(history: History, k: float | None) -> bool | None:
    """None when no accuracy is logged; else whether its last half sits within a margin of 1/K."""
    acc = next((s.finite() for name, s in history.eval.items() if "accuracy" in name), None)
    if not acc or k is None:
        return None
    tail = acc.values[len(acc) // 2 :]
    return statistics.median(tail) <= 1 / k + t.CHANCE_ACC_MARGIN


def _chance_corroborated(history: History, series: Series, start: int, chance: float, tol: float) -> bool:
    """Whether more than the plateau's level says the run sits at chance, when no accuracy is logged: a loss that ends
    near ln K by coincidence is common (a fine-tune's token loss converging at 0.686 is not a binary classifier at ln 2),
    so one value near the level is not enough. Enough is a class count from the config, a plateau of at least MIN_POINTS
    values, the loss at the same level from its first values (it never left chance: two values at each end), or the
    other loss (train vs eval) plateaued at the same level."""
    if history.hints.num_classes is not None or len(series) - start >= t.MIN_POINTS:
        return True
    if len(series) >= 4 and abs(start_level(series.values) - chance) <= tol * chance:
        return True
    others = [s for s in (history.train_loss.finite(), history.eval_loss.finite()) if s is not series]
    return any((other := _plateau(s)) is not None and abs(other[0] - chance) <= tol * chance for s in others)


@check(
    "chance_plateau",
    Severity.ERROR,
    2,
    t.SOURCES["CHANCE_TOL"],
    supersedes=("flat_loss", "saturating", "underfitting", "still_improving", "no_progress"),
)
def chance_plateau(history: History) -> Finding | None:
    """The loss sits at the chance level (ln K for K classes): the model predicts the class prior."""
    lr = peak_lr(history)
    if lr is not None and lr < t.LR_TYPICAL_MIN:
        return None  # a model at initialisation also sits at ln K; with an LR this low the cause is the LR (flat_loss)
    for name, series in (("train_loss", history.train_loss.finite()), ("val_loss", history.eval_loss.finite())):
        plateau = _plateau(series)
        if plateau is None:
            continue
        level, start = plateau
        for chance, meaning, tol in _chance_levels(history):
            if abs(level - chance) > tol * chance:
                continue
            k = round(math.exp(chance)) if "ln(" in meaning else 2
            prior = _accuracy_near_prior(history, k)
            corroborated = prior if prior is not None else _chance_corroborated(history, series, start, chance, tol)
            if not corroborated:
                continue
            evidence = [at(series, start, name, "plateau starts"), at(series, len(series) - 1, name, f"chance = {fmt(chance)}")]
            message = (
                f"{name} plateaus at {fmt(level)} ≈ {meaning}: the model predicts the prior and learned nothing "
                "(a collapsed fine-tune, labels not aligned with inputs, or an LR far off)"
            )
            fix = f"{lr_change(history, 1 / t.LR_DIVIDE)}; check that labels line up with inputs"
            return finding("chance_plateau", message, evidence, fix, step=series.steps[start])
    return None


# Metric names that mark a regression run: its loss (MSE, MAE) is on the target's scale, with no zero to read.
_REGRESSION_METRICS = ("mse", "mae", "rmse", "r2", "mape", "smape")


def _regression(history: History) -> str | None:
    """Why the loss is a regression loss rather than a cross-entropy, or None."""
    names = [*history.eval, *history.train_metrics, *history.extra]
    named = next((n for n in names if any(part in _REGRESSION_METRICS for part in n.split("_"))), None)
    if named:
        return f"{named} is logged (a regression run)"
    train = history.train_loss.finite()
    if train and train.values[0] > t.CE_INIT_MAX:
        return f"the first train loss {fmt(train.values[0])} is above any cross-entropy at initialisation (> {t.CE_INIT_MAX:g})"
    return None


def _cross_entropy(history: History) -> str | None:
    """What shows the loss is a cross-entropy (the only loss whose near-zero value has a meaning: near-certainty on
    every example), or None: an HF Trainer log (its models' losses are cross-entropies), a known class count, or a
    classification metric logged beside the loss. A bare train/val loss pair may as well be an MSE on small targets."""
    if tool(history) == "hf":
        return "an HF Trainer loss"
    if history.hints.num_classes:
        return f"{history.hints.num_classes} classes"
    names = [*history.eval, *history.train_metrics]
    return next((f"{n} is logged" for n in names if "loss" not in n and any(k in n for k in _CLASSIFICATION_METRICS)), None)


# Metric names only a classifier logs (after the val_/train_ prefix): they make the loss beside them a cross-entropy.
_CLASSIFICATION_METRICS = ("acc", "f1", "auc", "precision", "recall", "matthews", "mcc")


def _needs_classification_loss(history: History) -> str | None:
    why = _regression(history)
    return None if why is None else f"{why}: an MSE's zero is the target's scale, not a sign of leakage"


# What an RL trainer logs about its rewards' spread per group of completions (TRL's GRPO: the mean within-group reward
# std, and the share of groups whose rewards were all equal). A group with equal rewards has zero advantage, so it adds
# nothing to the policy loss or its gradient.
_REWARD_SPREAD = ("reward_std", "frac_reward_zero_std")


def _reward_spread(history: History) -> tuple[str, Series] | None:
    for name in _REWARD_SPREAD:
        series = history.train_metrics.get(name, Series()).finite()
        if len(series) >= t.MIN_POINTS:
            return name, series
    return None


def _needs_readable_zero(history: History) -> str | None:
    """A loss whose zero means something: a cross-entropy-like loss bounded by 0, or an RL loss with its rewards' spread
    logged (its zero is then read from the rewards, not the loss)."""
    if _reward_spread(history) is not None:
        return None
    return _needs_classification_loss(history) or needs_unsigned_loss(history)


def _no_reward_signal(history: History, name: str, series: Series) -> Finding | None:
    """An RL run whose groups of completions all got equal rewards in ZERO_SHARE of its logged steps: the advantages,
    and so the policy loss and its gradient, are zero there; the run learns nothing from those steps."""
    dead = [i for i, v in enumerate(series.values) if (v >= 1.0 if name == "frac_reward_zero_std" else v <= 0.0)]
    if len(dead) < t.ZERO_SHARE * len(series):
        return None
    what = "every group's rewards were equal" if name == "frac_reward_zero_std" else "the reward std was 0"
    message = (
        f"no learning signal: {what} at {len(dead)} of {len(series)} logged steps (from {history.x_unit} "
        f"{series.steps[dead[0]]:g}), so the advantages and the policy loss are 0 there: the reward cannot tell the "
        "completions apart (too easy or too hard a task, a reward that is constant, or completions that all look alike)"
    )
    fix = (
        "no LR fixes this: make the reward graded rather than pass/fail, pick prompts the model sometimes solves, and "
        "raise the group's diversity (GRPOConfig num_generations, temperature)"
    )
    found = finding("zero_loss", message, [at(series, dead[0], name, "no reward spread")], fix, step=series.steps[dead[0]])
    return dataclasses.replace(found, source=f"{t.SOURCES['ZERO_SHARE']}; a group with equal rewards has zero advantage")


@check(
    "zero_loss",
    Severity.ERROR,
    5,
    t.SOURCES["ZERO_EPS"],
    (_needs_readable_zero,),
    supersedes=("flat_loss", "saturating", "overfitting"),
)
def zero_loss(history: History) -> Finding | None:
    """The loss collapses to 0 (train early or often, or the eval loss early or exactly): label leakage, or a degenerate task."""
    spread = _reward_spread(history)
    if spread is not None:
        return _no_reward_signal(history, *spread)
    series = history.train_loss.finite()
    # Near zero but not zero is read only for a loss known to be a cross-entropy: an MSE on targets of scale 0.01 sits
    # at 1e-4 from its first evaluation with nothing leaking. A bare loss counts as zero only when it is logged as 0.
    cross_entropy = _cross_entropy(history) is not None
    eps = t.ZERO_EPS if cross_entropy else 0.0
    zeros = [i for i, v in enumerate(series.values) if abs(v) <= eps]
    held_out, evals = _held_out_loss(history)
    near_zero_eval = [i for i, v in enumerate(evals.values) if 0 <= v <= (t.ZERO_EVAL_EPS if cross_entropy else 0.0)]
    # A held-out loss near zero from the first evaluations is leakage; one reached gradually over many evaluations
    # (the metric improving all the way) is an easy task learned. "Early" is both within the first quarter of the
    # evaluations and within the first MIN_POINTS of them: a 150-epoch run that took 18 epochs of steady descent to
    # reach 1e-3 (val accuracy 36% -> 100%) learned its task, though 18 is under a quarter of 150. Exactly zero is
    # degenerate wherever it falls.
    eval_early = bool(near_zero_eval) and near_zero_eval[0] <= min(t.ZERO_EARLY_FRACTION * (len(evals) - 1), t.MIN_POINTS - 1)
    # "Exactly" zero: 0.0, or below ZERO_EPS only in an HF log, whose 4-decimal rounding is that band's reason; a Keras
    # or Lightning val loss of 4e-5 is logged in full precision and is a confident model, not a zero.
    exact_eps = eps if tool(history) == "hf" else 0.0
    eval_exact = [i for i in near_zero_eval if evals.values[i] <= exact_eps]
    if not eval_early:
        near_zero_eval = eval_exact
    often = bool(zeros) and len(zeros) >= t.ZERO_SHARE * len(series)
    # An early zero counts only where the loss stays there: a per-step loss of one small batch can round to 0.0 in a run
    # hovering at 0.6 (a Lightning train_loss_step at 0.0 twice among 345 values), which says nothing about the task.
    # Leakage puts the loss at zero and keeps it there: the median of the MIN_POINTS values from the zero on is zero too.
    zeros = [i for i in zeros if often or statistics.median(series.values[i : i + t.MIN_POINTS]) <= eps]
    early = bool(zeros) and zeros[0] <= t.ZERO_EARLY_FRACTION * len(series)
    if not (early or often or near_zero_eval):
        return None
    evidence: list[Point] = []
    parts = []
    if zeros and (early or often):
        evidence.append(at(series, zeros[0], "train_loss", f"loss {series.values[zeros[0]]:g}"))
        parts.append(f"train_loss is 0 from {history.x_unit} {series.steps[zeros[0]]:g} ({len(zeros)} of {len(series)} logged values)")
    if near_zero_eval:
        first = near_zero_eval[0]
        evidence.append(at(evals, first, held_out, f"eval loss {evals.values[first]:g}"))
        parts.append(
            f"{held_out} is {fmt(evals.values[first])} at {history.x_unit} {evals.steps[first]:g} "
            f"(evaluation {first + 1} of {len(evals)}; below {t.ZERO_EVAL_EPS:g} on held-out data)"
        )
    message = "; ".join(parts) + ": the target leaks into the inputs, the task is degenerate (one class), or the loss ignores every label"
    fix = "no hyperparameter fixes this: check the data for a feature that copies the label and for a constant target; loss.name must match the task"
    return finding("zero_loss", message, evidence, fix, step=evidence[0].step)


def _held_out_loss(history: History) -> tuple[str, Series]:
    """The held-out loss: the val loss, else a test loss logged through the run (a Keras history's ``test_loss`` beside
    ``loss``, kept as an extra since no other check reads it) with MIN_POINTS values: a zero on either is leakage."""
    if history.eval_loss.finite() or not history.extra:
        return "val_loss", history.eval_loss.finite()
    tests = sorted((name, s.finite()) for name, s in history.extra.items() if name.startswith("test") and "loss" in name)
    return next(((name, s) for name, s in tests if len(s) >= t.MIN_POINTS), ("val_loss", Series()))


def _stuck_accuracy(history: History) -> bool:
    """An accuracy-like eval metric is logged and every one stays within NO_PROGRESS_ACC of its first value."""
    accs = [s.finite().values for name, s in history.eval.items() if "loss" not in name and mode_of(name) == "max" and s.finite()]
    scale = [1 if max(abs(v) for v in values) <= 1 else 100 for values in accs]
    return bool(accs) and all(max(abs(v - values[0]) for v in values) < t.NO_PROGRESS_ACC * k for values, k in zip(accs, scale))


def _needs_evals(history: History) -> str | None:
    """FEW_EVALS evaluations of the val loss, or with no evaluation at all a train loss of MIN_POINTS (then the train
    loss alone is read: 001's "loss barely moves" needs no held-out data)."""
    n = len(history.eval_loss.finite())
    if n >= t.FEW_EVALS or (not history.eval and len(history.train_loss.finite()) >= t.MIN_POINTS):
        return None
    return f"needs >= {t.FEW_EVALS} evaluations of val_loss (or none at all and a train loss), the log has {n}"


def _stuck_fix(history: History) -> str:
    """001's fix for a loss that barely moves (LR x10), and the data check that a loss stuck for another reason needs."""
    return f"{lr_change(history, t.LR_MULTIPLY)} (if the loss never moved; divide instead if it jumped up first); check that labels line up with inputs"


def _no_train_progress(history: History) -> Finding | None:
    """A train-only log whose loss ended less than NO_PROGRESS_EVAL below where it started (the higher of its first
    value and the median of its first EDGE_FRACTION, so a first log caught mid-drop still counts as the start): 001's
    "loss barely moves", read on the only curve there is, by the held-out reading's own threshold (a one-epoch LoRA whose
    LM loss eased 3.26 -> 3.0, -8%, is learning). A signed objective's level says nothing."""
    if needs_unsigned_loss(history) is not None:
        return None
    train = history.train_loss.finite()
    begin = max(train.values[0], start_level(train.values))
    end = tail_level(train.values, t.EDGE_FRACTION)
    if begin <= 0 or (begin - end) / begin >= t.NO_PROGRESS_EVAL:
        return None
    message = (
        f"no progress: train_loss went from {fmt(begin)} at the start to {fmt(end)} at the end ({(end - begin) / begin:+.1%}, "
        f"not {t.NO_PROGRESS_EVAL:.0%} below its start) and no evaluation was logged: the LR is far "
        "off, the parameters are frozen, or the labels do not match the inputs"
    )
    evidence = [at(train, 0, "train_loss", "first logged"), at(train, len(train) - 1, "train_loss", "end")]
    fix = _stuck_fix(history)
    return finding("no_progress", message, evidence, fix, step=train.steps[0])


@check(
    "no_progress",
    Severity.WARNING,
    3,
    t.SOURCES["NO_PROGRESS_EVAL"],
    (_needs_evals,),
    supersedes=("saturating", "still_improving", "overfitting", "underfitting", "oscillation"),
)
def no_progress(history: History) -> Finding | None:
    """Nothing improves: the val loss never gets 5% below its first evaluation and no accuracy-like metric moves, or
    with no evaluation logged the train loss falls by less than 5% (NO_PROGRESS_EVAL) (with a flat train loss: the LR or frozen weights; with a falling one that the val
    loss does not follow: nothing carries over to validation); or a model trained from scratch stalls early, its loss
    less than a quarter below its first value and flat for the last half of the run."""
    found = _no_progress_from_start(history)
    return found if found is not None else _stalled_low(history)


def _no_progress_from_start(history: History) -> Finding | None:
    if not history.eval:
        return _no_train_progress(history)
    val = history.eval_loss.finite()
    first, best = val.values[0], min(val.values)
    if first <= 0 or (first - best) / first >= t.NO_PROGRESS_EVAL:
        return None
    train = history.train_loss.finite()
    parts = [f"val_loss never got {t.NO_PROGRESS_EVAL:.0%} below its first evaluation ({fmt(first)}, best {fmt(best)})"]
    evidence = [at(val, 0, "val_loss", "first evaluation"), at(val, val.values.index(best), "val_loss", "best")]
    learned = False  # the train loss fell although nothing held-out moved
    if len(train) >= t.MIN_POINTS:
        begin, end = start_level(train.values), tail_level(train.values, t.EDGE_FRACTION)
        if begin <= 0:
            return None
        learned = (begin - end) / begin >= t.NO_PROGRESS_TRAIN
        if learned and val.values[-1] > first * (1 + t.NO_PROGRESS_EVAL) and not _stuck_accuracy(history):
            # The val loss rose from the first evaluation while train fell: overfitting's to report, unless the
            # held-out accuracy never moved at all (nothing was ever learned that a turn could give back).
            return None
        fell = f"fell {(begin - end) / begin:.0%}" if learned else f"fell only {(begin - end) / begin:.0%}"
        parts.append(f"train_loss {fell} ({fmt(begin)} → {fmt(end)})")
        evidence.append(at(train, len(train) - 1, "train_loss", "end"))
    for name, series in sorted(history.eval.items()):
        if "loss" in name or not series.finite():
            continue
        values = series.finite().values
        sign = 1.0 if mode_of(name) == "max" else -1.0
        if sign * (max(values, key=lambda v: sign * v) - values[0]) >= t.NO_PROGRESS_ACC * (1 if max(abs(v) for v in values) <= 1 else 100):
            return None  # a metric the run tracks did improve: not a run that learned nothing
        parts.append(f"{name} stays near {fmt(values[0])}")
    if learned:
        message = (
            "no progress on held-out data: " + "; ".join(parts) + ": what the model learns does not carry over to validation "
            "(a val split from another distribution or preprocessing, labels misaligned in one split, or memorisation from "
            "the first epoch)"
        )
        decay, new_wd = decay_raise(history)
        first_check = "check that the val split is drawn and preprocessed like the train split and that its labels line up; then "
        fix = first_check + for_tool(
            history,
            trainwell=f"{decay}; model.dropout: raise it",
            hf=f"TrainingArguments(weight_decay={new_wd}); raise the model's dropout",
            lightning=f"weight_decay={new_wd} in configure_optimizers; raise dropout",
            keras=f"the optimizer's weight_decay={new_wd} (keras.optimizers.AdamW); raise the Dropout layers' rate",
        )
        return finding("no_progress", message, evidence, fix, step=val.steps[0])
    message = "no progress: " + "; ".join(parts) + " (the LR is far off, the parameters are frozen, or the labels do not match the inputs)"
    fix = _stuck_fix(history)
    return finding("no_progress", message, evidence, fix, step=val.steps[0])


def _judged_curve(history: History) -> tuple[str, Series, Series]:
    """The curve a run is judged by: its val loss when evaluations are logged (no_progress needs FEW_EVALS of them), else
    its train loss; as logged, and read through its noise (a median of 3 neighbours) from PLATEAU_SMOOTH_MIN points on."""
    name, series = ("val_loss", history.eval_loss.finite()) if history.eval else ("train_loss", history.train_loss.finite())
    if len(series) < t.PLATEAU_SMOOTH_MIN:
        return name, series, series
    return name, series, Series(list(series.steps), rolling_median(series.values, 3))


def _got_good(history: History) -> str | None:
    """The quality metric the run tracks reached UNDERFIT_ACC (on a 0-1 scale): the run got good, whatever its loss. The
    tracked metric is the one it selects by or a headline metric, else any metric logged with the evaluations, or with
    the training when there are none (a segmentation log's train IoU reaching 0.8 while its Dice loss eases 0.12 -> 0.11)."""
    logged = history.eval if history.eval else history.train_metrics
    for name, series, mode in quality_metrics(history) or [
        (n, s.finite(), mode_of(n)) for n, s in sorted(logged.items()) if "loss" not in n and s.finite()
    ]:
        if mode != "max" or max(abs(v) for v in series.values) > 1:
            continue
        if max(series.values) >= t.UNDERFIT_ACC:
            return name
    return None


def _stalled_low(history: History) -> Finding | None:
    """A run that never got good and stopped moving: the judged curve's best is less than PLATEAU_GAIN below its first
    value, its last half brings less than PLATEAU_TAIL_SHARE of that fall (or less than PLATEAU_TAIL_LEVEL of its level,
    or no Mann-Kendall trend), it ends at its floor (a rise is overfitting's), and no tracked 0-1 metric reached
    UNDERFIT_ACC. A fine-tune (an HF Trainer log) starts from a good model, so a small fall means nothing there."""
    if tool(history) == "hf" or needs_unsigned_loss(history) is not None or _got_good(history) is not None:
        return None
    name, raw, series = _judged_curve(history)
    if len(series) < t.MIN_POINTS:
        return None
    values = series.values
    # The first point as logged (the label rules' D runs from it): at the edge the median has only two neighbours, so a
    # blow-up at the second evaluation would lift a smoothed first point (2.20, 5.11 -> 3.65) and hide the stall.
    first, best = raw.values[0], min(values)
    if first <= 0 or best <= 0 or (first - best) / first >= t.PLATEAU_GAIN:
        return None
    half = len(values) // 2
    tail = values[half:]
    gain = values[half] - min(tail)
    flat = gain < t.PLATEAU_TAIL_SHARE * (first - best) or gain < t.PLATEAU_TAIL_LEVEL * values[half] or mann_kendall_z(tail) > -t.TREND_Z
    # The end is read as logged: a last value that rises out of the band (above every value of the last half before it
    # and OVERFIT_RISE above the best) is a turn, overfitting's to report, which the median of its neighbours would hide.
    end = raw.values[-1]
    turned = end > max(raw.values[half:-1], default=end) and end > (1 + t.OVERFIT_RISE) * min(raw.values)
    if not flat or turned or not ends_near_best(raw, "min"):
        return None
    message = (
        f"stalled at a poor level: {name} fell only {(first - best) / first:.0%} from its first value ({fmt(first)}, best "
        f"{fmt(best)}) and its last half, from {history.x_unit} {series.steps[half]:g}, is flat: the model never got good "
        "(an LR far off, a model too small or wrongly wired, or inputs that do not carry the target)"
    )
    evidence = [at(series, 0, name, "first"), at(series, values.index(best), name, "best"), at(series, len(series) - 1, name, "end")]
    return finding("no_progress", message, evidence, _stuck_fix(history), step=series.steps[half])
