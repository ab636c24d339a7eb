"""Early stopping on the monitored metric, returned as a decision with its reason.

Patience counts evaluations (not steps or epochs) without an improvement larger than ``threshold``
(absolute). A non-finite metric never counts as an improvement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    improved: bool
    reason: str


@dataclass
class EarlyStopping:
    """Tracks the best value of one metric; ``update`` says whether to stop, and why."""

    metric: str
    mode: str = "min"  # "min": lower is better; "max": higher is better
    patience: int | None = None  # None: never stop, only track the best
    threshold: float = 0.0
    best: float | None = None
    best_step: int | None = None
    wait: int = 0
    evaluations: int = 0

    def is_improvement(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.threshold
        return value > self.best + self.threshold

    def update(self, value: float, step: int) -> StopDecision:
        """Record one evaluation's ``value`` at ``step`` and decide."""
        self.evaluations += 1
        if self.is_improvement(value):
            previous = self.best
            self.best, self.best_step, self.wait = value, step, 0
            was = "first evaluation" if previous is None else f"was {previous:.6g}"
            return StopDecision(False, True, f"{self.metric} improved to {value:.6g} ({was})")
        self.wait += 1
        best = "none yet" if self.best is None else f"{self.best:.6g} at step {self.best_step}"
        if self.patience is not None and self.wait >= self.patience:
            return StopDecision(
                True,
                False,
                f"early stopping: {self.metric} did not improve by more than {self.threshold:g} for {self.wait} "
                f"evaluations (patience {self.patience}); best {best}",
            )
        return StopDecision(False, False, f"{self.metric} = {value:.6g}, no improvement for {self.wait} evaluation(s); best {best}")

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("best", "best_step", "wait", "evaluations"):
            setattr(self, key, state[key])
