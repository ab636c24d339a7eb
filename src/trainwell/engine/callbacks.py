"""Callbacks: hooks into the training loop at its four public moments.

Lifecycle: ``on_train_start(state)`` once, after the model, optimizer and run folder exist (and after
a resume has restored them); ``on_log(state, record)`` at every train log record; ``on_evaluate(state,
metrics)`` after each evaluation; ``on_train_end(state, summary)`` once, also when training stopped
early or failed with a TrainingError. ``on_log`` and ``on_evaluate`` may return a string: training then
stops after this step with that string as its stop reason (Optuna's pruner and the live doctor do this).
Callbacks must not change the model or optimizer; they observe and decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Callback:
    """Base class: override the hooks you need; each default does nothing."""

    def on_train_start(self, state: Any) -> None:
        return None

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        return None

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> str | None:
        return None

    def on_train_end(self, state: Any, summary: dict[str, Any]) -> None:
        return None


class CallbackList:
    """Calls every callback in order; the first stop reason returned wins, but every callback runs."""

    def __init__(self, callbacks: Iterable[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_start(self, state: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_start(state)

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        reasons = [cb.on_log(state, record) for cb in self.callbacks]
        return next((r for r in reasons if r), None)

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> str | None:
        reasons = [cb.on_evaluate(state, metrics) for cb in self.callbacks]
        return next((r for r in reasons if r), None)

    def on_train_end(self, state: Any, summary: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_end(state, summary)
