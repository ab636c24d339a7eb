"""The doctor's data model: one ``History`` that every log reader produces, and the ``Diagnosis``
that ranks the findings (``trainwell.findings.Finding``, the type lint shares) each check returns.

Readers differ in what they know (a Keras History has no steps, a Lightning CSV no LR unless a
LearningRateMonitor ran, a trainer_state.json no config), so every field past ``source`` may be empty,
and ``notes`` says what was missing. Checks skip themselves when their inputs are absent.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from trainwell.findings import Finding, Point, Severity

__all__ = ["Diagnosis", "Finding", "History", "Point", "RunHints", "Series", "Severity"]


@dataclass
class Series:
    """Values logged at x positions (optimizer steps, or epochs when the log has no steps)."""

    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: float, value: float) -> None:
        self.steps.append(float(step))
        self.values.append(float(value))

    def finite(self) -> Series:
        """The same series without NaN/Inf points (the NaN check reads the raw one). A series with none is
        returned as is: checks call this dozens of times on 7,500-point logs and never mutate the result."""
        if all(map(math.isfinite, self.values)):
            return self
        pairs = [(s, v) for s, v in zip(self.steps, self.values) if math.isfinite(v)]
        return Series([s for s, _ in pairs], [v for _, v in pairs])

    def sorted(self) -> Series:
        """Ordered by step; a resumed run can log a step twice, the later record wins."""
        latest = dict(zip(self.steps, self.values))
        keys = sorted(latest)
        return Series(keys, [latest[k] for k in keys])

    def __len__(self) -> int:
        return len(self.values)

    def __bool__(self) -> bool:
        return bool(self.values)


@dataclass
class RunHints:
    """What the run's config or trainer state says, when the log carries one. None = unknown."""

    num_classes: int | None = None
    max_grad_norm: float | None = None
    lr: float | None = None  # configured peak LR
    warmup_steps: float | None = None
    schedule: str | None = None
    eval_every: float | None = None  # in the History's x unit
    patience: int | None = None
    planned_steps: float | None = None  # the run's intended length, in the x unit
    epochs: float | None = None  # the run's intended epochs
    metric: str | None = None  # the monitored metric, canonical name (val_loss, val_accuracy, ...)
    mode: str | None = None  # "min" or "max"
    weight_decay: float | None = None
    load_best: bool | None = None  # the best checkpoint is restored at the end (trainwell load_best_at_end, HF load_best_model_at_end)
    lora_r: int | None = None  # the LoRA rank when the run trained an adapter (trainwell model.adapter: lora)
    lr_scaled: bool = False  # param groups rescale the LR, so the logged LR (group 0) need not equal ``lr``


@dataclass
class History:
    """A training log normalised. Eval metric names are canonical: ``val_loss``, ``val_accuracy`` ...

    ``x_unit`` is ``"step"`` (optimizer steps) or ``"epoch"`` (Keras-style per-epoch lists); every
    series of one History shares it. ``epochs`` maps steps to epochs where the log says so.
    """

    source: str
    path: str = ""
    x_unit: str = "step"
    train_loss: Series = field(default_factory=Series)
    eval: dict[str, Series] = field(default_factory=dict)
    train_metrics: dict[str, Series] = field(default_factory=dict)
    lr: Series = field(default_factory=Series)
    grad_norm: Series = field(default_factory=Series)
    epochs: Series = field(default_factory=Series)
    extra: dict[str, Series] = field(default_factory=dict)  # series no check reads (GAN losses, test_*)
    hints: RunHints = field(default_factory=RunHints)
    notes: list[str] = field(default_factory=list)

    def _drop_relogged_evaluations(self) -> None:
        """An evaluation logged twice counts once: the val loss at a later step equal to the one before it to every
        logged digit, with no train step logged between them, is the same weights evaluated again (Lightning's
        ``trainer.validate(model)`` after ``fit`` logs the last epoch's value once more at the next step); every eval
        metric of that record goes with it. A train loss logged after the first (up to and at the second: an epoch's train
        loss shares its end step with the evaluation) means training changed the weights between them, and an equal value
        then is kept."""
        loss = self.eval.get("val_loss")
        if loss is None or len(loss) < 2:
            return
        train = self.train_loss.steps  # sorted by finish(): a bisection finds whether a train step lies in (a, b]
        dropped = {
            b
            for (a, u), (b, v) in itertools.pairwise(zip(loss.steps, loss.values))
            if u == v and math.isfinite(u) and bisect.bisect_right(train, a) == bisect.bisect_right(train, b)
        }
        if not dropped:
            return
        for key, series in self.eval.items():
            kept = [(s, v) for s, v in zip(series.steps, series.values) if s not in dropped]
            self.eval[key] = Series([s for s, _ in kept], [v for _, v in kept])
        self.notes.append(f"{len(dropped)} evaluation(s) logged again with the same val_loss and no training between: counted once")

    @property
    def eval_loss(self) -> Series:
        return self.eval.get("val_loss", Series())

    @property
    def last_step(self) -> float:
        """The furthest x any series reached (the run's logged length)."""
        ends = [s.steps[-1] for s in self.all_series().values() if s.steps]
        return max(ends) if ends else 0.0

    @property
    def first_step(self) -> float:
        starts = [s.steps[0] for s in self.all_series().values() if s.steps]
        return min(starts) if starts else 0.0

    def all_series(self) -> dict[str, Series]:
        out = {"train_loss": self.train_loss, "lr": self.lr, "grad_norm": self.grad_norm}
        out.update(self.eval)
        out.update({f"train_{k}" if not k.startswith("train_") else k: v for k, v in self.train_metrics.items()})
        return {k: v for k, v in out.items() if v}

    def finish(self) -> History:
        """Sort every series by step and note what is missing; readers call this last."""
        for name in ("train_loss", "lr", "grad_norm", "epochs"):
            setattr(self, name, getattr(self, name).sorted())
        for group in (self.eval, self.train_metrics, self.extra):
            for key in list(group):
                group[key] = group[key].sorted()
                if not group[key]:
                    del group[key]
        self._drop_relogged_evaluations()
        if not self.train_loss:
            self.notes.append("no train loss series: checks on the training curve are skipped")
        if not self.eval:
            self.notes.append("no evaluation metrics: overfitting and early-stopping checks are skipped")
        return self


@dataclass
class Diagnosis:
    """Every finding for one log, ranked most severe first; ``main_finding`` is the top one or None."""

    history: History
    findings: list[Finding]
    notes: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # check name -> why it could not run

    @property
    def main_finding(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        main = self.main_finding
        return {
            "path": self.history.path,
            "source": self.history.source,
            "x_unit": self.history.x_unit,
            "main_finding": main.rule if main else None,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
            "skipped": self.skipped,
        }
