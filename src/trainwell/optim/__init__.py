"""Optimizers, parameter groups, LR schedules (pure multipliers), losses and the LR scaling rule.

This layer owns the optimizer, schedule and loss registries, so it gives the config layer (which may not
import it) the checks of the fields that name them: ``config validate``, ``lint`` and every load see a
typo such as ``schedule.name: cosin`` with a did-you-mean.
"""

from __future__ import annotations

from trainwell.config.rules import NAME_CHECKS
from trainwell.optim.losses import LOSSES
from trainwell.optim.optimizers import OPTIMIZERS
from trainwell.optim.schedules import SCHEDULES

NAME_CHECKS.register("optimizer.name", lambda c: OPTIMIZERS.check(c.optimizer.name, "optimizer.name"), "a registered optimizer")
NAME_CHECKS.register("schedule.name", lambda c: SCHEDULES.check(c.schedule.name, "schedule.name"), "a registered schedule")
NAME_CHECKS.register("loss.name", lambda c: LOSSES.check(c.loss.name, "loss.name"), "a registered loss")
