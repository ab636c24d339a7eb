"""Built-in tasks (digits, fashion-mnist, text-classification, tabular) and user tasks ("pkg.mod:fn").

This layer owns the task registry, so it gives the config layer (which may not import it) the check of
``task``: a built-in name must be registered; ``pkg.module:function`` is a user task, checked when built. It
also gives the check of a built-in task's ``model:`` options and ``data.options`` (tasks.catalog.task_problems).
"""

from __future__ import annotations

from trainwell.config.rules import NAME_CHECKS, OPTION_CHECKS
from trainwell.tasks.catalog import TASKS, task_problems

NAME_CHECKS.register("task", lambda c: None if ":" in c.task else TASKS.check(c.task, "task"), "a registered task or pkg.mod:fn")
OPTION_CHECKS.register("task", task_problems, "a built-in task's model options and data.options")
