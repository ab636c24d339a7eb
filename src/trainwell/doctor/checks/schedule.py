"""Checks on the schedule and the evaluation cadence: an LR that never decays, evaluations too sparse
for early stopping to act."""

from __future__ import annotations

import math
import statistics

from trainwell.doctor.checks import thresholds as t
from trainwell.doctor.checks.base import at, check, cosine_fix, finding, fmt, for_tool, monitored, needs_eval, needs_lr
from trainwell.doctor.history import Finding, History, Severity


@check("lr_never_decays", Severity.INFO, 11, t.SOURCES["LR_DECAY_MIN_RATIO"], (needs_lr,))
def lr_never_decays(history: History) -> Finding | None:
    """The learning rate stays at its peak to the end of the run: no schedule anneals it."""
    if history.hints.schedule == "reduce_on_plateau":
        return None  # a plateau schedule legitimately holds the LR until the metric stalls
    if history.hints.planned_steps and history.last_step < (1 - t.EDGE_FRACTION) * history.hints.planned_steps:
        return None  # a checkpoint copy of an unfinished run: the decay may still be ahead
    lr = history.lr.finite()
    peak_index = max(range(len(lr)), key=lr.values.__getitem__)
    peak = lr.values[peak_index]
    if peak <= 0 or min(lr.values[peak_index:]) < t.LR_DECAY_MIN_RATIO * peak:
        return None
    evidence = [at(lr, peak_index, "lr", "peak"), at(lr, len(lr) - 1, "lr", "end")]
    message = (
        f"the LR stays at {fmt(peak)} from {history.x_unit} {lr.steps[peak_index]:g} to the end: it never decays, so the run never anneals"
    )
    fix = cosine_fix(history)
    return finding("lr_never_decays", message, evidence, fix, step=lr.steps[peak_index])


def _needs_configured_lr(history: History) -> str | None:
    if not history.hints.lr:
        return "needs the configured LR (trainwell config.yaml, Lightning hparams.yaml, HF training_args.bin/.json beside the state)"
    return "param groups rescale the LR: the logged LR is one group's" if history.hints.lr_scaled else None


def _scheduled(history: History, step: float) -> float | None:
    """The multiplier the configured schedule gives at ``step`` (None when the schedule or the run length is
    unknown): a decaying schedule logged sparsely never shows its peak, so the logged LR is compared with
    what the schedule gives where it was logged. HF's decays are the same formulas (optim/schedules.py)."""
    name, total = history.hints.schedule, history.hints.planned_steps
    if not name or not total or history.x_unit != "step":
        return None
    from trainwell.optim.schedules import METRIC_DRIVEN, SCHEDULES

    if name in METRIC_DRIVEN or name not in SCHEDULES:
        return None
    return SCHEDULES.get(name)(int(step), int(total), int(history.hints.warmup_steps or 0))


@check("lr_mismatch", Severity.WARNING, 5, t.SOURCES["LR_MISMATCH"], (needs_lr, _needs_configured_lr))
def lr_mismatch(history: History) -> Finding | None:
    """The LR the optimizer logged is not the LR the config set: above its peak, or below what the schedule gives."""
    configured = history.hints.lr or 0.0
    lr = history.lr.finite()
    peak_index = max(range(len(lr)), key=lr.values.__getitem__)
    peak = lr.values[peak_index]
    warmed = peak_index < len(lr) - 1 and lr.values[-1] < peak  # the schedule turned: its peak is behind it
    if history.hints.warmup_steps is not None:
        warmed = warmed or lr.steps[-1] > history.hints.warmup_steps
    multiplier = _scheduled(history, lr.steps[peak_index])
    past_warmup = lr.steps[peak_index] >= (history.hints.warmup_steps or 0)
    expected = configured * multiplier if multiplier is not None and past_warmup else configured
    if peak > (1 + t.LR_MISMATCH) * configured:
        how = f"above the configured {fmt(configured)}: no schedule lifts the LR past its peak"
    elif multiplier is not None and past_warmup and peak < (1 - t.LR_MISMATCH) * expected:
        how = f"below the {fmt(expected)} the configured {history.hints.schedule} schedule from {fmt(configured)} gives there"
    elif multiplier is None and peak < (1 - t.LR_MISMATCH) * configured and warmed:
        how = f"below the configured {fmt(configured)} although the schedule was past its peak"
    else:
        return None
    message = (
        f"the logged LR peaks at {fmt(peak)} ({history.x_unit} {lr.steps[peak_index]:g}), {peak / expected:.2g}x and {how}: "
        "the run did not train at the LR its config names (an LR scaled by batch size or a multiplier, a scheduler built "
        "from another value, or a config that was not applied)"
    )
    evidence = [at(lr, peak_index, "lr", f"logged peak (configured {fmt(configured)})")]
    fix = for_tool(
        history,
        trainwell=f"optimizer.lr: {fmt(configured)} → {fmt(peak)} if the logged LR is the one you meant; else find what rescales it",
        hf=(
            f"TrainingArguments(learning_rate={fmt(configured)}) is what the run was given but not what it trained at: pass the "
            "TrainingArguments you edited to the Trainer (a stale or default args object, an optimizers=(opt, sched) pair built "
            "from another LR, or a DeepSpeed/accelerate config that sets its own LR all override it)"
        ),
        lightning=(
            f"lr={fmt(peak)} in hparams (was {fmt(configured)}) if the logged LR is the one you meant; else pass "
            "self.hparams.lr to the optimizer in configure_optimizers and build the scheduler from it"
        ),
        keras=(
            f"the optimizer's learning_rate={fmt(peak)} (was {fmt(configured)}) if the logged LR is the one you meant; else "
            "check the callbacks that set it (LearningRateScheduler, ReduceLROnPlateau) and the schedule passed as learning_rate"
        ),
    )
    return finding("lr_mismatch", message, evidence, fix, step=lr.steps[peak_index])


@check("eval_too_sparse", Severity.INFO, 12, t.SOURCES["EVAL_TARGET_PER_PATIENCE"], (needs_eval,))
def eval_too_sparse(history: History) -> Finding | None:
    """Too few evaluations (or none late in the run) for early stopping and best-checkpoint choice to act."""
    name, series, _ = monitored(history)  # type: ignore[misc]  # needs_eval guarantees one
    patience = history.hints.patience or t.DEFAULT_PATIENCE
    # Coverage of the logged run: a checkpoint copy of an unfinished run is judged on what it logged.
    span = history.last_step - history.first_step
    coverage = (series.steps[-1] - history.first_step) / span if span > 0 else 1.0
    too_few = len(series) < patience + t.EVAL_SPARSE_MARGIN
    if not too_few and coverage >= t.EVAL_COVERAGE:
        return None
    target = t.EVAL_TARGET_PER_PATIENCE * patience
    every = max(1, math.floor(span / target)) if span > 0 else 1
    if too_few:
        assumed = "" if history.hints.patience else f" (patience {patience} assumed)"
        message = (
            f"{len(series)} evaluations: early stopping with patience {patience}{assumed} needs at least {patience + t.EVAL_SPARSE_MARGIN}"
        )
    else:
        message = (
            f"the last evaluation is at {history.x_unit} {series.steps[-1]:g}, {coverage:.0%} of the run: the rest was never evaluated"
        )
    severity = Severity.WARNING if history.hints.patience or coverage < t.EVAL_COVERAGE else Severity.INFO
    gaps = [b - a for a, b in zip(series.steps, series.steps[1:])]
    observed = history.hints.eval_every or (statistics.median(gaps) if gaps else None)
    current = f"{observed:g}" if observed else "(never)"
    fix = for_tool(
        history,
        trainwell=f"evaluation.every: {current} → {every} (steps; about {target} evaluations)",
        hf=f"TrainingArguments(eval_strategy='steps', eval_steps={every})  # about {target} evaluations",
        lightning=f"Trainer(val_check_interval={every})  # about {target} evaluations",
        keras=(
            f"model.fit(..., steps_per_epoch={every}, epochs=...): Keras validates at the end of each epoch, so epochs of "
            f"{every} steps give about {target} evaluations"
        ),
    )
    if history.x_unit == "epoch":
        fix = for_tool(
            history,
            trainwell=f"evaluation.strategy: steps; evaluation.every: a fraction of an epoch (about {target} evaluations per run)",
            lightning=f"Trainer(val_check_interval=0.25)  # four evaluations per epoch, about {target} per run",
            keras=(
                "model.fit(..., steps_per_epoch=steps // 4, epochs=4 * epochs): Keras validates at the end of each epoch, "
                f"so quarter epochs give four evaluations per pass, about {target} per run"
            ),
        )
    evidence = [at(series, 0, name, "first evaluation"), at(series, len(series) - 1, name, "last evaluation")]
    return finding("eval_too_sparse", message, evidence, fix, step=series.steps[-1], severity=severity)
