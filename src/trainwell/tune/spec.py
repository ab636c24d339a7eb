"""What a search space is made of: the priority order of hyperparameters (guide 001), one searchable
value (``ParamSpec``) and the space (``SearchSpace``). ``space.py`` builds the default space from the
guides' tables and ``overrides.py`` applies ``tune.space``; both build on these types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["float", "int", "categorical"]

# 001 §The Priority Order, most important first: (category, why it sits there).
PRIORITY: tuple[tuple[str, str], ...] = (
    ("lr", "001 §Learning Rate: the single most important hyperparameter"),
    ("batch_size", "001 §Batch Size: tightly coupled with LR"),
    ("weight_decay", "001 §Weight Decay: second most impactful regularizer"),
    ("warmup", "001 §Warmup Steps: non-negotiable for transformers"),
    ("schedule", "001 §Scheduler Choice: defines the LR trajectory"),
    ("max_grad_norm", "001 §Gradient Clip Value: stability, not performance"),
    ("dropout", "001 §Dropout Rate: tune this last"),
    ("epochs", "001 §Number of Epochs: when to stop"),
    ("optimizer", "001 §Optimizer Choice: usually decided upfront"),
    ("architecture", "001 §Architecture Depth: rarely tuned mid-project"),
)
CATEGORIES = tuple(name for name, _ in PRIORITY)


@dataclass(frozen=True)
class ParamSpec:
    """One searchable value. ``name`` is what Optuna sees; ``path`` is where it lives in the config.

    ``probes`` (linear values) or ``ratio`` (log floats: spacing factor around the current value) give the
    staged strategy its grid; ``ordered`` says whether a categorical's choices form a line (clipping
    strength) or are unrelated (schedule names, which are each tried once).
    """

    name: str
    path: str
    kind: Kind
    category: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    ordered: bool = True
    probes: tuple[Any, ...] = ()
    ratio: float = 0.0
    source: str = ""

    def contains(self, value: Any) -> bool:
        if self.kind == "categorical":
            return value in self.choices
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high  # type: ignore[operator]

    def clip(self, value: Any) -> Any:
        """The nearest value inside the space (the start config may sit outside a range)."""
        if self.contains(value):
            return value
        if self.kind == "categorical":
            return self.choices[0]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return self.low
        low, high = float(self.low or 0.0), float(self.high or 0.0)
        clipped = min(max(float(value), low), high)
        return round(clipped) if self.kind == "int" else clipped

    def grid(self, center: Any, fine: bool = False) -> list[Any]:
        """Ordered probe values for a line search through ``center`` (which is always included)."""
        if self.kind == "categorical":
            values = list(self.choices)
        elif self.log and self.ratio > 1:
            values = self._geometric(float(center), math.sqrt(self.ratio) if fine else self.ratio)
        else:
            values = sorted({*self.probes, center}) if self.probes else self._linear(center)
        if center not in values:
            values = sorted([*values, center], key=float) if self.kind != "categorical" else [*values, center]
        if self.kind == "int":
            values = sorted({round(v) for v in values})
        return values

    def _geometric(self, center: float, ratio: float) -> list[float]:
        assert self.low is not None and self.high is not None
        down = [center / ratio**k for k in range(1, 60) if center / ratio**k >= self.low * (1 - 1e-9)]
        up = [center * ratio**k for k in range(1, 60) if center * ratio**k <= self.high * (1 + 1e-9)]
        # Clamp: the last step may overshoot a bound by a rounding error, which Optuna would reject.
        return [max(self.low, v) for v in reversed(down)] + [center] + [min(self.high, v) for v in up]

    def _linear(self, center: Any) -> list[float]:
        assert self.low is not None and self.high is not None
        if self.log and self.low > 0:
            step = (self.high / self.low) ** 0.25
            return sorted({self.low * step**k for k in range(5)} | {center})
        return sorted({self.low + (self.high - self.low) * k / 4 for k in range(5)} | {center})


@dataclass(frozen=True)
class SearchSpace:
    """Searched parameters in priority order, plus values fixed by ``tune.space`` (by config path)."""

    params: tuple[ParamSpec, ...]
    fixed: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> ParamSpec:
        return next(p for p in self.params if p.name == name)

    def in_category(self, category: str) -> list[ParamSpec]:
        return [p for p in self.params if p.category == category]
