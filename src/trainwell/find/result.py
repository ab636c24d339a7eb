"""The range test's result as data, and the pure analysis that turns a recorded curve into it.

``analyze`` needs no torch: it smooths the recorded losses, runs every registered rule, picks the
configured one, judges reliability and derives the peak LR for the configured schedule and batch.
The finder records the curve; the CLI, the engine and the report only read this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainwell.find.curve import rule_beta, zero_lag
from trainwell.find.rules import BAND, RULES, Pick, bottom_lr, finite_prefix
from trainwell.find.verdict import Curve, verdict

if TYPE_CHECKING:
    from trainwell.config.schema import Config

FLAT = 0.9  # a schedule averaging >= 90 % of its peak trains like a constant LR
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


def schedule_mean(config: Config, train_size: int | None) -> tuple[float, int]:
    """(mean LR multiplier of the configured schedule over the run, total steps); (1, 0) when unknown."""
    from trainwell.engine.setup import run_length
    from trainwell.optim.schedules import multipliers

    if config.training.max_steps is None and not train_size:
        return 1.0, 0
    # Without a training-set size only max_steps counts; one effective batch stands in for an epoch.
    _, per_epoch, total = run_length(config, train_size or config.batch.size * config.batch.accumulation)
    mult = multipliers(config.schedule.name, total, config.schedule.warmup, config.schedule, per_epoch)
    return (sum(mult) / len(mult) if mult else 1.0), total


def with_peak(result: LRFindResult, config: Config, train_size: int | None = None, mode: str = "scratch") -> LRFindResult:
    """Fill ``peak_lr``: the suggestion moved to the configured schedule, training mode and effective batch.

    Schedule: the suggestion is a good *constant* LR, and a schedule that stays near its peak (mean
    multiplier >= FLAT: constant, warmup_stable_decay, a step schedule that never drops in this run)
    trains with it as is. A schedule that warms up and then decays (cosine, linear, one_cycle: mean
    multiplier m about 0.5) spends most steps well below its peak, and Smith (2018, "A disciplined
    approach to neural network hyper-parameters", 1cycle) takes such a peak from the top of the
    range test's descent: we take 001's upper bound LR_min / 3 divided by m, so the run's average LR
    is that bound, and never above LR_min, past which the sweep itself showed the loss rising.
    Fine-tuning (``mode`` "finetune", from the task's facts): the run's average LR is 001's *lower*
    bound LR_min / 10, and the peak never passes the upper bound LR_min / 3. 004's transfer rule wants a
    10x lower LR for pretrained weights "to avoid destroying pre-learned features", and the benchmark
    showed why: fully fine-tuning MiniLM on SST-2 at 1.3 x LR_min fell to chance on both seeds, while the
    from-scratch tasks lose under 1 % of accuracy at 3x their best LR.
    Batch: the sweep steps on one micro-batch (``batch.size``) so it stays ~100 steps; training updates
    on ``size x accumulation`` examples, so the LR moves by the scaling rule (optim/scaling.py).
    """
    from trainwell.optim.scaling import scale_lr

    if result.suggested_lr is None:
        result.peak_lr, result.peak_reason = None, "no suggestion, so no peak LR"
        return result
    mean, total = schedule_mean(config, train_size)
    name = config.schedule.name
    lr_min = _min_loss_lr(result)
    shape = f"{name} averages {mean:.2f} x its peak over {total} steps"
    if mode == "finetune":
        lr = min(lr_min / BAND[0] / min(mean, 1.0), lr_min / BAND[1])
        why = [
            f"fine-tuning pretrained weights: average LR at 001's cautious end LR_min / {BAND[0]:g} (004: 10x lower "
            f"for transfer learning); {shape}: LR_min {lr_min:.3g} / {BAND[0]:g} / {mean:.2f} = {lr:.3g}, at most LR_min / {BAND[1]:g}"
        ]
    elif mean >= FLAT:
        lr = result.suggested_lr
        why = [f"{shape}, close to a constant LR: the suggestion"]
    else:
        lr = min(lr_min, max(result.suggested_lr, lr_min / BAND[1]) / mean)
        why = [
            f"{name} warms up and decays, averaging {mean:.2f} x its peak over {total} steps: peak from the top of the "
            f"descent (Smith 2018), LR_min / {BAND[1]:g} / {mean:.2f} = {lr:.3g}, at most LR_min {lr_min:.3g}"
        ]
    micro = config.batch.size
    effective = micro * config.batch.accumulation
    scaled = scale_lr(lr, micro, effective, config.optimizer.name)
    if scaled.rule != "none":
        why.append(f"swept at batch {micro}, trains at effective batch {effective}: {scaled.reason}")
    result.peak_lr, result.peak_reason = scaled.lr, "; ".join(why)
    return result
