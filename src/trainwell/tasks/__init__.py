"""Built-in tasks (digits, fashion-mnist, text-classification, tabular) and user tasks ("pkg.mod:fn").

This layer owns the task registry, so it gives the config layer (which may not import it) the check of
``task``: a built-in name must be registered; ``pkg.module:function`` is a user task, checked when built.
"""

from __future__ import annotations

from trainwell.config.rules import NAME_CHECKS
from trainwell.tasks.catalog import TASKS

NAME_CHECKS.register("task", lambda c: None if ":" in c.task else TASKS.check(c.task, "task"), "a registered task or pkg.mod:fn")
