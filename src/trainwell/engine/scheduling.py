"""The LR schedule during training: a step-driven LambdaLR over trainwell.optim.schedules, or torch's
ReduceLROnPlateau for the one metric-driven schedule.

The scheduler advances only after an update that really happened: when fp16 loss scaling or the NaN
policy skips a step, the LR does not move (otherwise warmup would end early; HF Trainer does the same).
A step the device skipped without a host sync (the deferred CUDA path) is known only at the next sync
point: it was scheduled, and ``undo_steps`` takes it back there, so the schedule's position is exact
again at every log/eval/checkpoint step; the steps in between ran one schedule step ahead per skip.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from trainwell.config.schema import Config
from trainwell.optim.schedules import METRIC_DRIVEN, SCHEDULES, resolve_warmup, schedule_kwargs


def bound_kwargs(fn: Callable[..., float], kw: dict[str, Any]) -> dict[str, Any]:
    """Only the keyword arguments ``fn`` names. Every schedule accepts **kw and ignores the rest, and
    a call with 2 keywords instead of 20 is 5x cheaper, which shows at a step of a few hundred µs."""
    named = inspect.signature(fn).parameters
    return {k: v for k, v in kw.items() if k in named}


class StepSchedule:
    """A pure multiplier f(step) applied through LambdaLR; ignores evaluations."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: Config, total_steps: int, steps_per_epoch: int) -> None:
        fn = SCHEDULES.get(config.schedule.name, "schedule.name")
        kw = bound_kwargs(fn, schedule_kwargs(config.schedule, steps_per_epoch, config.optimizer.peak))
        warmup = resolve_warmup(config.schedule.warmup, total_steps)
        last = [-1, 1.0]  # LambdaLR asks once per parameter group for the same step: compute it once

        def multiplier(step: int) -> float:
            if step != last[0]:
                last[0], last[1] = step, fn(step, total_steps, warmup, **kw)
            return last[1]

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)

    def after_step(self) -> None:
        self.scheduler.step()

    def after_evaluate(self, value: float) -> None:
        return None

    def rebase(self, ratio: float) -> None:
        """After a resume: the peak LR times ``ratio`` and this config's schedule (its length may have changed)
        from the current step on. With neither changed, it sets exactly the LR the checkpoint held."""
        s = self.scheduler
        s.base_lrs = [base * ratio for base in s.base_lrs]
        for group, base, fn in zip(s.optimizer.param_groups, s.base_lrs, s.lr_lambdas):
            group["initial_lr"] = base
            group["lr"] = base * fn(s.last_epoch)  # what LambdaLR.get_lr computes
        s._last_lr = [group["lr"] for group in s.optimizer.param_groups]

    def undo_steps(self, n: int) -> None:
        """Take back ``n`` steps that were scheduled before the device skipped them, and set the LR
        for the step now due (LambdaLR recomputes it from ``last_epoch``)."""
        if n:
            self.scheduler.last_epoch -= n + 1
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


class PlateauSchedule:
    """ReduceLROnPlateau on the monitored metric: the LR drops after plateau_patience flat evaluations."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: Config, total_steps: int, steps_per_epoch: int) -> None:
        s = config.schedule
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=config.evaluation.mode,
            factor=s.plateau_factor,
            patience=s.plateau_patience,
            threshold=config.early_stopping.threshold,
            threshold_mode="abs",
            min_lr=s.min_lr,
        )

    def after_step(self) -> None:
        return None

    def undo_steps(self, n: int) -> None:
        return None  # metric-driven: steps do not move it

    def after_evaluate(self, value: float) -> None:
        self.scheduler.step(value)

    def rebase(self, ratio: float) -> None:
        """After a resume with a new peak LR: scale the current LR, keeping the reductions made so far."""
        for group in self.scheduler.optimizer.param_groups:
            group["lr"] *= ratio
        self.scheduler._last_lr = [group["lr"] for group in self.scheduler.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


LRSchedule = StepSchedule | PlateauSchedule


def build_schedule(optimizer: torch.optim.Optimizer, config: Config, total_steps: int, steps_per_epoch: int) -> LRSchedule:
    """The run's schedule over ``optimizer``, whose groups start at ``config.optimizer.peak`` (x their lr_scale)."""
    cls = PlateauSchedule if config.schedule.name in METRIC_DRIVEN else StepSchedule
    return cls(optimizer, config, total_steps, steps_per_epoch)
