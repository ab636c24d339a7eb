"""The check contract, the ``CHECKS`` registry, and the helpers checks share to pick their series.

A check is a pure function ``History -> Finding | None``. It declares what it ``needs`` (so a log
without that series skips it with a reason instead of failing), whether it makes sense ``live`` on a
growing history, and which other findings it ``supersedes`` (a loss pinned at ln K is also flat; only
the more specific finding is reported).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from trainwell.doctor.checks.thresholds import (
    EDGE_FRACTION,
    MIN_POINTS,
    OVERFIT_DROP,
    OVERFIT_NOISE_Z,
    OVERFIT_RISE,
    SMOOTH_FRACTION,
    WEIGHT_DECAY_RAISE,
)
from trainwell.doctor.history import Finding, History, Point, Series, Severity
from trainwell.doctor.signal import head_level, smooth, step_jitter
from trainwell.registry import Registry

Need = Callable[[History], str | None]  # returns why the check cannot run, or None


@dataclass(frozen=True)
class Check:
    name: str
    severity: Severity  # the usual severity; a finding may raise or lower its own
    priority: int  # ranks findings of equal severity: lower comes first
    run: Callable[[History], Finding | None]
    needs: tuple[Need, ...]
    source: str
    live: bool = False
    supersedes: tuple[str, ...] = ()
    help: str = ""


CHECKS: Registry[Check] = Registry("doctor check")


def check(
    name: str,
    severity: Severity,
    priority: int,
    source: str,
    needs: tuple[Need, ...] = (),
    live: bool = False,
    supersedes: tuple[str, ...] = (),
) -> Callable[[Callable[[History], Finding | None]], Callable[[History], Finding | None]]:
    """Register the decorated function as a check; its docstring's first line is its help."""

    def wrap(fn: Callable[[History], Finding | None]) -> Callable[[History], Finding | None]:
        summary = (fn.__doc__ or "").strip().split("\n")[0]
        CHECKS.register(name, Check(name, severity, priority, fn, needs, source, live, supersedes, summary), summary)
        return fn

    return wrap


# ---- what a check needs -------------------------------------------------------------------------


def needs_train_loss(history: History) -> str | None:
    n = len(history.train_loss.finite())
    return None if n >= MIN_POINTS else f"needs >= {MIN_POINTS} finite train-loss points, the log has {n}"


def needs_loss(history: History) -> str | None:
    _, series = primary_loss(history)
    return None if len(series) >= MIN_POINTS else f"needs >= {MIN_POINTS} finite loss points, the log has {len(series)}"


def needs_eval(history: History) -> str | None:
    found = monitored(history)
    n = len(found[1]) if found else 0
    return None if n >= MIN_POINTS - 1 else f"needs >= {MIN_POINTS - 1} finite evaluations, the log has {n}"


def needs_unsigned_loss(history: History) -> str | None:
    """Why the loss is not a loss bounded below by 0, or None. Cross-entropy, MSE and KL never go negative, so a logged
    value below 0 marks a signed objective (a policy-gradient, GRPO/PPO or DPO loss, a contrastive bound) that hovers
    around 0 by construction: its level measures no progress, and the checks that read levels as ratios of it or its
    distance from 0 (divergence, a flat loss, a loss at 0) cannot read it."""
    name, series = primary_loss(history)
    low = min(series.values, default=0.0)
    if low >= 0:
        return None
    return f"{name} goes below 0 (to {fmt(low)}): a signed objective (an RL policy or preference loss), not a loss bounded by 0"


def needs_lr(history: History) -> str | None:
    return None if len(history.lr.finite()) >= MIN_POINTS else "needs a logged learning rate"


# ---- which series a check reads ------------------------------------------------------------------

_HIGHER_IS_BETTER = ("acc", "f1", "auc", "rouge", "bleu", "precision", "recall", "matthews", "exact", "map", "score", "reward")
# Whole name parts (between underscores) of higher-is-better metrics too short or too common to match inside a word:
# 'cos' is not 'cost', 'r2' is a coefficient of determination, 'sim' a similarity (a distillation's val_cos).
_HIGHER_IS_BETTER_PARTS = frozenset(
    {"r2", "pearson", "spearman", "spearmanr", "dice", "iou", "miou", "psnr", "ssim", "cos", "cosine", "similarity", "sim"}
)
_LOWER_IS_BETTER_PARTS = frozenset({"mape", "smape"})  # error rates whose names contain 'map'


def mode_of(name: str) -> str:
    """'max' for accuracy-like metrics, 'min' for losses, error rates and perplexities."""
    parts = set(name.split("_"))
    if "loss" in name or parts & _LOWER_IS_BETTER_PARTS:
        return "min"
    return "max" if parts & _HIGHER_IS_BETTER_PARTS or any(k in name for k in _HIGHER_IS_BETTER) else "min"


def primary_loss(history: History) -> tuple[str, Series]:
    """The train loss if logged, else the eval loss: the curve the LR symptoms (001) talk about."""
    train = history.train_loss.finite()
    if len(train) >= MIN_POINTS or not history.eval_loss:
        return "train_loss", train
    return "val_loss", history.eval_loss.finite()


def monitored(history: History) -> tuple[str, Series, str] | None:
    """The eval metric that early stopping watches: the configured one, else val_loss, else the first."""
    names = [history.hints.metric] if history.hints.metric else []
    names += ["val_loss", *sorted(k for k in history.eval if "loss" in k), *sorted(history.eval)]
    for name in names:
        if name in history.eval and history.eval[name].finite():
            mode = history.hints.mode if name == history.hints.metric and history.hints.mode else mode_of(name)
            return name, history.eval[name].finite(), mode
    return None


# The summary quality metrics a run reports (after the val_ prefix): with no metric_for_best_model naming one, these
# (and only these: per-class and per-label metrics are excluded by name) say what the run achieved.
HEADLINE_METRICS = frozenset(
    {
        "accuracy", "overall_accuracy", "balanced_accuracy", "f1", "macro_f1", "micro_f1", "weighted_f1", "f1_macro",
        "f1_micro", "f1_weighted", "overall_f1", "wer", "cer", "bleu", "sacrebleu", "rouge1", "rouge2", "rougel",
        "rougelsum", "matthews_correlation", "mcc", "exact_match", "auc", "roc_auc", "auroc", "combined_score",
        "pearson", "spearmanr", "map",
    }
)  # fmt: skip


def headline_metrics(history: History) -> list[tuple[str, Series, str]]:
    """(name, finite series, mode) of each headline quality metric the log holds, by name."""
    found = []
    for name in sorted(history.eval):
        if name.removeprefix("val_") in HEADLINE_METRICS and history.eval[name].finite():
            found.append((name, history.eval[name].finite(), mode_of(name)))
    return found


def quality_metrics(history: History) -> list[tuple[str, Series, str]]:
    """The quality metric(s) the run optimises: the one it selects its checkpoint by when that is not a loss (HF
    metric_for_best_model, trainwell evaluation.metric), else every headline metric it logs."""
    metric = history.hints.metric
    if metric and "loss" not in metric and history.eval.get(metric, Series()).finite():
        mode = history.hints.mode or mode_of(metric)
        return [(metric, history.eval[metric].finite(), mode)]
    return headline_metrics(history)


def ends_near_best(series: Series, mode: str) -> bool:
    """The last value is within OVERFIT_RISE (losses, error rates) or OVERFIT_DROP (accuracies) of the best, or within
    the curve's own evaluation noise of it (beyond_jitter's reading: a val loss wandering 5.0-5.4e-7 that ends 8% above
    its luckiest evaluation ends at its floor)."""
    best = min(series.values) if mode == "min" else max(series.values)
    last = series.values[-1]
    off = (last - best) / (abs(best) or 1.0) if mode == "min" else (best - last) / (abs(best) or 1.0)
    if off <= (OVERFIT_RISE if mode == "min" else OVERFIT_DROP):
        return True
    index = series.values.index(best)
    return len(series) >= MIN_POINTS and index < len(series) - 1 and not beyond_jitter(series, index, mode)


def beyond_jitter(series: Series, best: int, mode: str, since: int | None = None) -> bool:
    """Whether the rise past the best (at the end, or on average over the evaluations after it) exceeds
    OVERFIT_NOISE_Z robust standard deviations of the eval-to-eval jitter. The jitter is the MAD of successive
    differences (from ``since``, by default the middle of the curve, to the best) over sqrt 2: a steady trend moves
    every difference alike and adds none."""
    values = series.values
    # Jitter from the second half up to the best: an early steep descent is trend, and the turn's own rise is the signal.
    if since is None:
        half = (len(values) - 1) // 2
        since = half if best - half >= 2 else 0
    jitter = step_jitter(values[since : best + 1])
    if jitter == 0:
        return True
    sign = 1.0 if mode == "min" else -1.0
    after = values[best + 1 :]
    rise = max(sign * (values[-1] - values[best]), sign * (statistics.fmean(after) - values[best]))
    return rise >= OVERFIT_NOISE_Z * jitter


def start_level(values: list[float]) -> float:
    return head_level(values, EDGE_FRACTION)


def smoothed(series: Series) -> list[float]:
    return smooth(series.values, SMOOTH_FRACTION)


def peak_lr(history: History) -> float | None:
    """The configured LR, else the highest logged one."""
    if history.hints.lr:
        return history.hints.lr
    finite = history.lr.finite().values
    return max(finite) if finite and max(finite) > 0 else None


def lr_change(history: History, factor: float) -> str:
    """An LR change in the producing tool's names: 'optimizer.lr: 3e-4 → 3e-5' (trainwell),
    'TrainingArguments(learning_rate=3e-05)' (HF), the optimizer's lr in configure_optimizers (Lightning).
    factor < 1 lowers the LR."""
    lr = peak_lr(history)
    if lr is None:
        verb = f"divide by {1 / factor:g}" if factor < 1 else f"multiply by {factor:g}"
        return for_tool(
            history,
            trainwell=f"optimizer.lr: {verb} (the log does not record the LR)",
            hf=f"TrainingArguments(learning_rate=...): {verb} (the log does not record the LR)",
            lightning=f"the optimizer's lr in configure_optimizers: {verb} (the log does not record the LR)",
            keras=f"the optimizer's learning_rate (keras.optimizers.Adam(learning_rate=...)): {verb} (the log does not record the LR)",
        )
    return for_tool(
        history,
        trainwell=f"optimizer.lr: {fmt(lr)} → {fmt(lr * factor)}",
        hf=f"TrainingArguments(learning_rate={fmt(lr * factor)})  # was {fmt(lr)}",
        lightning=f"lr={fmt(lr * factor)} in configure_optimizers (was {fmt(lr)})",
        keras=f"the optimizer's learning_rate={fmt(lr * factor)} (was {fmt(lr)})",
    )


def clip_fix(history: History, max_norm: float) -> str:
    """Gradient clipping at ``max_norm`` in the producing tool's names."""
    return for_tool(
        history,
        trainwell=f"training.max_grad_norm: {fmt(max_norm)}",
        hf=f"TrainingArguments(max_grad_norm={fmt(max_norm)})",
        lightning=f"Trainer(gradient_clip_val={fmt(max_norm)})",
        keras=f"the optimizer's global_clipnorm={fmt(max_norm)} (keras.optimizers.Adam(global_clipnorm=...))",
    )


def cosine_fix(history: History) -> str:
    """A cosine decay (001 'Scheduler Choice'), in the producing tool's names."""
    return for_tool(
        history,
        trainwell=f"schedule.name: {history.hints.schedule or 'constant'} → cosine",
        hf="TrainingArguments(lr_scheduler_type='cosine')",
        lightning="CosineAnnealingLR(optimizer, T_max=max_steps) returned from configure_optimizers (interval 'step')",
        keras="learning_rate=keras.optimizers.schedules.CosineDecay(initial_learning_rate, decay_steps=epochs * steps_per_epoch)",
    )


def decay_raise(history: History) -> tuple[str, str]:
    """003's 'add/increase weight decay': (the trainwell config change, the new value)."""
    wd = history.hints.weight_decay
    if not wd:
        return "optimizer.weight_decay: 0.05", "0.05"
    new = fmt(wd * WEIGHT_DECAY_RAISE)
    return f"optimizer.weight_decay: {fmt(wd)} → {new}", new


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2g}"


def at(series: Series, index: int, name: str, label: str = "") -> Point:
    return Point(name, series.steps[index], series.values[index], label)


def unit(history: History) -> str:
    return history.x_unit


# The tool that wrote a log of each source (the readers name the source): a fix is written in that tool's names. Any other
# source (a hand-written CSV or JSON history, a TensorBoard run of unknown origin, a trainwell run) gets trainwell's keys.
TOOL_OF_SOURCE: dict[str, str] = {
    "hf-trainer-state": "hf",
    "hf-log-history": "hf",
    "hf-log-history-csv": "hf",
    "lightning-csv": "lightning",
    "keras-history": "keras",
    "keras-csv": "keras",
    "keras-tensorboard": "keras",
}


def tool(history: History) -> str:
    """'hf', 'lightning', 'keras' or 'trainwell': whose names the fixes for this log use."""
    return TOOL_OF_SOURCE.get(history.source, "trainwell")


def for_tool(history: History, trainwell: str, hf: str | None = None, lightning: str | None = None, keras: str | None = None) -> str:
    """A fix written for the tool that produced the log: HF ``TrainingArguments`` names for a trainer_state (or its
    log_history saved alone or as CSV), Lightning ``Trainer``/callback arguments for a Lightning CSV, Keras ``fit``,
    optimizer and callback arguments for a Keras History, CSVLogger file or TensorBoard callback run, trainwell config
    keys otherwise."""
    chosen = {"hf": hf, "lightning": lightning, "keras": keras}.get(tool(history))
    return chosen or trainwell


def finding(
    check_name: str, message: str, evidence: list[Point], fix: str, step: float | None = None, severity: Severity | None = None
) -> Finding:
    """A Finding carrying its check's registered severity and source unless told otherwise."""
    spec = CHECKS.get(check_name)
    return Finding(
        rule=check_name,
        severity=severity or spec.severity,
        message=message,
        fix=fix,
        source=spec.source,
        step=step,
        evidence=tuple(evidence),
    )
