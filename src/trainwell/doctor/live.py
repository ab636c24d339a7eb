"""Live mode: the doctor as an engine callback, running the checks that make sense on a growing history.

``LiveDoctor(config)`` keeps a History from the engine's ``on_log`` records and ``on_evaluate``
metrics and runs the live checks (``Check.live``: NaN/Inf, divergence, flat loss, spikes, overfitting)
every ``LIVE_EVERY`` log records and after every evaluation.

How findings come out, once per finding (its code and the series it was seen on):
- ``new_findings()`` returns the findings not yet handed out (the CLI prints them);
- each is also issued as a ``DoctorWarning`` through Python's ``warnings`` (filter it to silence);
- ``findings_json()`` is the full offline diagnosis of the history so far (every check), which the
  engine writes to RUN_DIR/findings.json at the end of the run.

With ``doctor.stop_on_divergence: true``, a divergence (or a non-finite train loss) makes ``on_log`` /
``on_evaluate`` return a stop reason naming the finding, and the engine stops the run.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from trainwell.doctor.checks import CHECKS, diagnose, run_checks
from trainwell.doctor.history import Finding, History
from trainwell.doctor.readers.base import Collector
from trainwell.doctor.readers.trainwell_run import RECORD_SKIP, hints_from_config
from trainwell.engine.callbacks import Callback

if TYPE_CHECKING:
    from trainwell.config.schema import Config

# Run the live checks every 5 train records: cheap (pure Python over a few hundred points) yet soon enough.
LIVE_EVERY = 5
LIVE_SPACING = 20
# A flat loss is only judged after a quarter of the planned steps: earlier it may still be in warmup.
LIVE_FLAT_MIN_PROGRESS = 0.25
# Findings that stop the run when doctor.stop_on_divergence is set.
STOPPING = ("divergence", "nan_inf")


class DoctorWarning(UserWarning):
    """A live doctor finding, issued once per finding code during training."""


class LiveDoctor(Callback):
    """Engine callback: watches the run, warns once per finding (code and series), optionally stops on divergence."""

    def __init__(self, config: Config, every: int = LIVE_EVERY) -> None:
        self.config = config
        self.every = every
        self.stop_on_divergence = bool(config.doctor.stop_on_divergence)
        self.collector = Collector()
        self.history = History(source="trainwell-live")
        self.findings: list[Finding] = []  # every finding warned about, in the order found
        self._pending: list[Finding] = []
        self._logs = 0
        self._total_steps: float | None = None
        self._steps_per_epoch: float | None = None
        self.stop_reason: str | None = None

    # ---- engine hooks ----------------------------------------------------------------------------

    def on_train_start(self, state: Any) -> None:
        self._total_steps = _number(getattr(state, "total_steps", None))
        self._steps_per_epoch = _number(getattr(state, "steps_per_epoch", None))
        for record in getattr(state, "history", []) or []:  # a resumed run: replay what was logged before
            self._add(record)

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        self._add(record)
        self._logs += 1
        # Every `every` records early on, then about 20 times per doubling of the log, so a long run pays
        # O(log n) diagnoses instead of O(n).
        interval = max(self.every, self._logs // LIVE_SPACING)
        return self._run() if self._logs % interval == 0 else None

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> str | None:
        step = _number(getattr(state, "step", None)) or (self.collector.raw["loss"].steps[-1] if "loss" in self.collector.raw else 0.0)
        self._add({"event": "eval", "step": step, **metrics})
        return self._run()

    # ---- outputs ---------------------------------------------------------------------------------

    def new_findings(self) -> list[Finding]:
        """Findings not yet handed out by this accessor (each finding code appears once per run)."""
        out, self._pending = self._pending, []
        return out

    def findings_json(self) -> list[dict[str, Any]]:
        """The full diagnosis (every check, not only the live ones) of the history so far."""
        return [f.to_dict() for f in diagnose(self.current_history()).findings]

    def current_history(self) -> History:
        history = self.collector.build(History(source="trainwell-live"))
        history.notes.clear()  # the live history is young; "no eval yet" is not worth saying
        from trainwell.config.structure import to_dict

        history.hints = hints_from_config(to_dict(self.config), history)
        if self._total_steps:
            history.hints.planned_steps = self._total_steps
        return history

    # ---- internals -------------------------------------------------------------------------------

    def _add(self, record: dict[str, Any]) -> None:
        step = _number(record.get("step"))
        if step is None:
            return
        fields = {k: v for k, v in record.items() if k not in RECORD_SKIP}
        if record.get("event") == "eval":
            fields = {k if k.startswith("val_") else f"val_{k}": v for k, v in fields.items() if k != "epoch"}
        self.collector.add_record(fields, step)

    def _live_checks(self, history: History) -> list[str]:
        names = [name for name, spec in CHECKS.items() if spec.live]
        progress = history.last_step / self._total_steps if self._total_steps else 1.0
        return [n for n in names if n != "flat_loss" or progress >= LIVE_FLAT_MIN_PROGRESS]

    def _run(self) -> str | None:
        history = self.current_history()
        self.history = history
        found, _ = run_checks(history, self._live_checks(history))
        seen = {_key(f) for f in self.findings}
        for item in found:
            if _key(item) in seen:
                continue
            self.findings.append(item)
            self._pending.append(item)
            warnings.warn(DoctorWarning(f"doctor: {item.rule}: {item.message}. Fix: {item.fix}"), stacklevel=2)
            if self.stop_on_divergence and _stops(item) and self.stop_reason is None:
                self.stop_reason = f"doctor: {item.rule}: {item.message}"
        return self.stop_reason


def _key(item: Finding) -> tuple[str, tuple[str, ...]]:
    """What "the same finding" means: its code and the series it was seen on (a NaN eval, then a NaN loss, are two)."""
    return item.rule, tuple(sorted({p.series for p in item.evidence}))


def _stops(item: Finding) -> bool:
    """Divergence, or NaN/Inf in the train loss or gradients (a NaN eval alone does not stop a run)."""
    if item.rule == "nan_inf":
        return any(p.series in ("train_loss", "grad_norm") for p in item.evidence)
    return item.rule in STOPPING


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
