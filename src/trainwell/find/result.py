"""The range test's result as data, and the pure analysis that turns a recorded curve into it.

``analyze`` needs no torch: it smooths the recorded losses, runs every registered rule, picks the
configured one, judges reliability and derives the peak LR for the configured schedule and batch.
The finder records the curve; the CLI, the engine and the report only read this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainwell.find.curve import rule_beta, zero_lag
from trainwell.find.rules import RULES, Pick, bottom_lr, finite_prefix
from trainwell.find.verdict import Curve, verdict

if TYPE_CHECKING:
    from trainwell.config.schema import Config

# When the configured rule has no answer, fall back in this order (most robust first).
FALLBACK = ("combined", "valley", "min_div10", "steepest")


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]  # raw loss per step
    smoothed: list[float]  # the causal debiased EMA the stop test read (its beta capped by rule_beta)
    curve: list[float]  # the zero-lag smoothing the rules read
    stop_reason: str | None  # why the sweep ended early, or None when it ran every step
    picks: dict[str, Pick | None]
    rule: str  # the rule whose pick is the suggestion
    suggested_lr: float | None
    reason: str
    reliable: bool
    reasons: list[str]
    peak_lr: float | None
    peak_reason: str
    elapsed_s: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self, with_curve: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "suggested_lr": self.suggested_lr,
            "rule": self.rule,
            "reason": self.reason,
            "rules": {name: (p.to_json() if p else None) for name, p in self.picks.items()},
            "reliable": self.reliable,
            "reasons": list(self.reasons),
            "peak_lr": self.peak_lr,
            "peak_reason": self.peak_reason,
            "stopped_early": self.stop_reason,
            "steps_run": len(self.losses),
            "elapsed_s": round(self.elapsed_s, 3),
            "settings": dict(self.settings),
        }
        if with_curve:
            out["curve"] = {"lr": self.lrs, "loss": self.losses, "smoothed": self.smoothed, "rule_curve": self.curve}
        return out


def from_json(data: dict[str, Any]) -> LRFindResult:
    """Rebuild a result from ``to_json()`` output (e.g. a run folder's lr_find.json), for plots and reports."""
    curve = data.get("curve") or {}
    picks = {name: (Pick(p["lr"], int(p["index"]), p["reason"]) if p else None) for name, p in data.get("rules", {}).items()}
    return LRFindResult(
        list(curve.get("lr", [])),
        list(curve.get("loss", [])),
        list(curve.get("smoothed", [])),
        list(curve.get("rule_curve", [])),
        data.get("stopped_early"),
        picks,
        data.get("rule", ""),
        data.get("suggested_lr"),
        data.get("reason", ""),
        bool(data.get("reliable")),
        list(data.get("reasons", [])),
        data.get("peak_lr"),
        data.get("peak_reason", ""),
        float(data.get("elapsed_s", 0.0)),
        dict(data.get("settings", {})),
    )


def choose(picks: dict[str, Pick | None], rule: str) -> tuple[str, Pick | None]:
    """The configured rule's pick, or the first fallback that has one (its name says which)."""
    for name in (rule, *FALLBACK):
        if picks.get(name) is not None:
            return name, picks[name]
    return rule, None


def analyze(
    lrs: list[float],
    losses: list[float],
    smoothed: list[float],
    *,
    beta: float,
    rule: str,
    stop_reason: str | None,
    planned_steps: int,
    min_lr: float,
    max_lr: float,
) -> LRFindResult:
    """Smooth, pick with every rule, choose, and judge. ``peak_lr`` is left for ``with_peak``."""
    RULES.get(rule, "lr_find.rule")
    curve = zero_lag(losses, rule_beta(beta, planned_steps)) if losses else []
    picks = {name: fn(lrs, curve) for name, fn in RULES.items()}
    used, pick = choose(picks, rule)
    reliable, reasons = verdict(Curve(lrs, losses, curve, stop_reason, planned_steps, min_lr, max_lr, picks))
    if pick is None:
        why = "no rule found a descending region in the curve"
    else:
        why = f"{used}: {pick.reason}" + ("" if used == rule else f" (rule '{rule}' had no answer)")
    return LRFindResult(lrs, losses, smoothed, curve, stop_reason, picks, used, pick.lr if pick else None, why, reliable, reasons, None, "")


def _min_loss_lr(result: LRFindResult) -> float:
    lrs, losses = finite_prefix(result.lrs, result.curve)
    return bottom_lr(lrs, losses)


def schedule_shape(config: Config, train_size: int | None) -> tuple[float, float, int]:
    """How the configured schedule spends its LR: (mean multiplier over the run, multiplier at step 0, total
    steps); (1, 1, 0) when the run's length is unknown."""
    from trainwell.config.resolved import run_length
    from trainwell.optim.schedules import multipliers

    if config.training.max_steps is None and not train_size:
        return 1.0, 1.0, 0
    # Without a training-set size only max_steps counts; one effective batch stands in for an epoch.
    _, per_epoch, total = run_length(config, train_size or config.batch.effective)
    mult = multipliers(config.schedule.name, total, config.schedule.warmup, config.schedule, per_epoch)
    if not mult:
        return 1.0, 1.0, total
    return sum(mult) / len(mult), mult[0], total


def with_peak(result: LRFindResult, config: Config, train_size: int | None = None, mode: str = "scratch") -> LRFindResult:
    """Fill ``peak_lr``: the suggestion moved to the configured schedule, training mode (find/peak.py) and
    effective batch. The sweep steps on one micro-batch (``batch.size``) so it stays ~100 steps; training
    updates on ``size x accumulation x processes`` examples (``distributed.processes``: a batch split over N
    processes), so the LR moves by the scaling rule (optim/scaling.py), and each process's share of
    ``train_size`` sets the run's length.
    """
    from trainwell.find.peak import RunShape, peak
    from trainwell.optim.scaling import scale_lr

    if result.suggested_lr is None:
        result.peak_lr, result.peak_reason = None, "no suggestion, so no peak LR"
        return result
    processes = config.distributed.processes or 1
    mean, first, total = schedule_shape(config, -(-train_size // processes) if train_size else train_size)
    shape = RunShape(
        result.suggested_lr, _min_loss_lr(result), result.lrs[-1], config.schedule.name, mean, first, total, mode,
        config.early_stopping.patience is not None,
    )  # fmt: skip
    _, lr, reason = peak(shape)
    why = [reason]
    micro = config.batch.size
    effective = micro * config.batch.accumulation * processes
    scaled = scale_lr(lr, micro, effective, config.optimizer.name)
    if scaled.rule != "none":
        why.append(f"swept at batch {micro}, trains at effective batch {effective}: {scaled.reason}")
    result.peak_lr, result.peak_reason = scaled.lr, "; ".join(why)
    return result
