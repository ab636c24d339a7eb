"""LR schedules as pure functions of the step: ``f(step, total_steps, warmup_steps, **kw) -> multiplier``.

The engine applies them through ``torch.optim.lr_scheduler.LambdaLR``, so the multiplier scales each
group's own LR. Decay formulas match Hugging Face's ``get_*_schedule_with_warmup``; warmup differs on
purpose: HF's first update runs at lr = 0 (transformers#34754), ours at peak / (warmup + 1), rising
linearly to the peak. ``step``, ``multistep`` and ``exponential`` count in epochs, like the guides'
recipes (ResNet-50: milestones [30, 60, 90] epochs), using ``steps_per_epoch``.

Each warmed schedule is a decay composed with one linear warmup (``with_warmup``), as fastai composes
its schedules, instead of each carrying its own warmup branch.

``reduce_on_plateau`` is the one metric-driven schedule: its multiplier is constant 1 and the engine
drives torch's ReduceLROnPlateau from the evaluation metric.

Importing this module does not import torch.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from trainwell.config.schema import resolve_warmup  # the config's rules need it too; re-exported here
from trainwell.registry import Registry

Schedule = Callable[..., float]
SCHEDULES: Registry[Schedule] = Registry("schedule")
METRIC_DRIVEN = frozenset({"reduce_on_plateau"})
# trainwell schedule <-> HF lr_scheduler_type where the curves are the same (the decay formulas above match HF's).
SCHEDULE_TO_HF = {
    "constant": "constant", "constant_with_warmup": "constant_with_warmup", "linear": "linear", "cosine": "cosine",
    "cosine_with_restarts": "cosine_with_restarts", "polynomial": "polynomial", "inverse_sqrt": "inverse_sqrt",
    "reduce_on_plateau": "reduce_lr_on_plateau", "warmup_stable_decay": "warmup_stable_decay",
}  # fmt: skip
SCHEDULE_FROM_HF = {hf: ours for ours, hf in SCHEDULE_TO_HF.items()} | {
    "cosine_with_min_lr": "cosine",
    "cosine_warmup_with_min_lr": "cosine",
}


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear warmup that starts above zero: 1/(w+1), 2/(w+1), ..., w/(w+1), then 1."""
    return (step + 1) / (warmup_steps + 1)


def _progress(step: int, total: int, warmup: int) -> float:
    return (step - warmup) / max(1, total - warmup)


def _floor(value: float, min_lr_ratio: float) -> float:
    return min_lr_ratio + (1.0 - min_lr_ratio) * value


def with_warmup(decay: Callable[..., float]) -> Callable[..., float]:
    """A schedule in two phases, composed the way fastai combines schedules: the linear warmup
    (``warmup_factor``) for steps < warmup_steps, then ``decay``, a pure function of the step that owns the
    rest of the run (it gets ``warmup_steps`` too: most decays measure their progress from the warmup's end).
    Every warmed schedule below is ``with_warmup(<its decay>)``, so the warmup is written once."""

    def composed(step: int, total_steps: int, warmup_steps: int, **kw: Any) -> float:
        if step < warmup_steps:
            return warmup_factor(step, warmup_steps)
        return decay(step, total_steps, warmup_steps, **kw)

    return functools.wraps(decay)(composed)  # keeps the decay's doc and, via __wrapped__, its signature


@SCHEDULES.decorator("constant")
def constant(step: int, total_steps: int, warmup_steps: int, **kw: Any) -> float:
    """Fixed LR; no warmup."""
    return 1.0


@SCHEDULES.decorator("constant_with_warmup")
@with_warmup
def constant_with_warmup(step: int, total_steps: int, warmup_steps: int, **kw: Any) -> float:
    """Linear warmup, then the peak LR."""
    return 1.0


@SCHEDULES.decorator("linear")
@with_warmup
def linear(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.0, **kw: Any) -> float:
    """Warmup, then linear decay to min_lr_ratio x peak at the last step (HF 'linear')."""
    return _floor(max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps)), min_lr_ratio)


@SCHEDULES.decorator("cosine")
@with_warmup
def cosine(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.0, cycles: float | None = None, **kw: Any) -> float:
    """Warmup, then half a cosine down to min_lr_ratio x peak (HF 'cosine' / 'cosine_with_min_lr')."""
    waves = 0.5 if cycles is None else cycles
    p = _progress(step, total_steps, warmup_steps)
    return _floor(max(0.0, 0.5 * (1.0 + math.cos(math.pi * 2.0 * waves * p))), min_lr_ratio)


@SCHEDULES.decorator("cosine_with_restarts")
@with_warmup
def cosine_with_restarts(
    step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.0, cycles: float | None = None, **kw: Any
) -> float:
    """Warmup, then `cycles` cosine decays with hard restarts (HF 'cosine_with_restarts')."""
    n = 1.0 if cycles is None else cycles
    p = _progress(step, total_steps, warmup_steps)
    if p >= 1.0:
        return min_lr_ratio
    return _floor(max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((n * p) % 1.0)))), min_lr_ratio)


@SCHEDULES.decorator("polynomial")
@with_warmup
def polynomial(
    step: int, total_steps: int, warmup_steps: int, power: float = 1.0, lr_end: float = 1e-7, base_lr: float | None = None, **kw: Any
) -> float:
    """Warmup, then (peak - lr_end) x remaining^power + lr_end (HF 'polynomial'). ``lr_end`` is an LR, so the
    multiplier needs the peak (``base_lr``); without one (``optimizer.lr: find``, the peak not yet known) it
    is the schedule's shape, decaying to 0 of the peak."""
    remaining = 1.0 - (min(step, total_steps) - warmup_steps) / max(1, total_steps - warmup_steps)
    if base_lr is None:
        return float(remaining**power) if step <= total_steps else 0.0
    end = min(lr_end, base_lr)  # HF raises when lr_end > lr; validation prevents it, this keeps the function total
    if step > total_steps:
        return end / base_lr
    return ((base_lr - end) * remaining**power + end) / base_lr


@SCHEDULES.decorator("inverse_sqrt")
@with_warmup
def inverse_sqrt(step: int, total_steps: int, warmup_steps: int, **kw: Any) -> float:
    """Warmup, then 1/sqrt(step) decay with timescale = warmup (HF 'inverse_sqrt'; 10k when no warmup)."""
    timescale = warmup_steps or 10_000
    shift = timescale - warmup_steps
    return 1.0 / math.sqrt((step + shift) / timescale)


@SCHEDULES.decorator("warmup_stable_decay")
@with_warmup
def warmup_stable_decay(
    step: int,
    total_steps: int,
    warmup_steps: int,
    decay_ratio: float = 0.1,
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    **kw: Any,
) -> float:
    """Warmup, a flat stable phase, then a decay over the last decay_ratio of steps (HF 'warmup_stable_decay')."""
    decay_steps = max(1, round(decay_ratio * total_steps))
    stable_end = max(warmup_steps, total_steps - decay_steps)
    if step < stable_end:
        return 1.0
    p = min(1.0, (step - stable_end) / decay_steps)
    shapes = {"cosine": 0.5 * (1.0 + math.cos(math.pi * p)), "linear": 1.0 - p, "1-sqrt": 1.0 - math.sqrt(p)}
    return _floor(max(0.0, shapes[decay_type]), min_lr_ratio)


def _epoch(step: int, steps_per_epoch: int) -> int:
    return step // max(1, steps_per_epoch)


@SCHEDULES.decorator("step")
@with_warmup
def step_decay(
    step: int, total_steps: int, warmup_steps: int, step_size: int = 30, gamma: float = 0.1, steps_per_epoch: int = 1, **kw: Any
) -> float:
    """Multiply by gamma every step_size epochs (torch StepLR)."""
    return float(gamma ** (_epoch(step, steps_per_epoch) // step_size))


@SCHEDULES.decorator("multistep")
@with_warmup
def multistep(
    step: int,
    total_steps: int,
    warmup_steps: int,
    milestones: tuple[int, ...] = (30, 60, 90),
    gamma: float = 0.1,
    steps_per_epoch: int = 1,
    **kw: Any,
) -> float:
    """Multiply by gamma at each milestone epoch (torch MultiStepLR)."""
    return float(gamma ** bisect.bisect_right(list(milestones), _epoch(step, steps_per_epoch)))


@SCHEDULES.decorator("exponential")
@with_warmup
def exponential(step: int, total_steps: int, warmup_steps: int, gamma: float = 0.95, steps_per_epoch: int = 1, **kw: Any) -> float:
    """Multiply by gamma every epoch (torch ExponentialLR; 004 uses gamma 0.95)."""
    return float(gamma ** _epoch(step, steps_per_epoch))


@SCHEDULES.decorator("one_cycle")
def one_cycle(step: int, total_steps: int, warmup_steps: int, div_factor: float = 25.0, final_div_factor: float = 1e4, **kw: Any) -> float:
    """Cosine up from peak/div_factor over the warmup, then cosine down to that / final_div_factor (torch OneCycleLR)."""
    start = 1.0 / div_factor
    end = start / final_div_factor
    up_end = max(1.0, float(warmup_steps) - 1.0)
    last = max(up_end + 1.0, float(total_steps) - 1.0)

    def anneal(a: float, b: float, pct: float) -> float:
        return b + (a - b) / 2.0 * (math.cos(math.pi * min(1.0, pct)) + 1.0)

    if step <= up_end:
        return anneal(start, 1.0, step / up_end)
    return anneal(1.0, end, (step - up_end) / (last - up_end))


@SCHEDULES.decorator("reduce_on_plateau")
def reduce_on_plateau(step: int, total_steps: int, warmup_steps: int, **kw: Any) -> float:
    """Metric-driven: the engine lowers the LR by plateau_factor after plateau_patience flat evaluations."""
    return 1.0


def schedule_kwargs(schedule_cfg: Any, steps_per_epoch: int, base_lr: float | None) -> dict[str, Any]:
    """The keyword arguments every schedule function receives, from a ScheduleConfig; ``base_lr`` is the
    peak LR, or None where it is not known yet (the multipliers are then the schedule's shape)."""
    from trainwell.config.structure import to_dict

    kw = to_dict(schedule_cfg)
    kw.pop("name")
    kw.pop("warmup")
    kw["milestones"] = tuple(kw["milestones"])
    kw.update(steps_per_epoch=steps_per_epoch, base_lr=base_lr)
    return kw


def multipliers(
    name: str,
    total_steps: int,
    warmup: float,
    schedule_cfg: Any = None,
    steps_per_epoch: int = 1,
    base_lr: float | None = None,
    at: Sequence[int] | None = None,
) -> list[float]:
    """The multiplier of the peak LR at every step 0..total_steps-1, or only at the steps ``at`` (a schedule
    is a pure function of the step, so `trainwell schedule` of a billion-step run costs what its printed rows
    cost). ``base_lr`` is the peak LR where one is known; without it, a schedule whose end is an LR
    (polynomial's lr_end) gives its shape (see ``polynomial``)."""
    from trainwell.config.schema import ScheduleConfig

    fn = SCHEDULES.get(name, "schedule.name")
    kw = schedule_kwargs(schedule_cfg or ScheduleConfig(name=name), steps_per_epoch, base_lr)
    w = resolve_warmup(warmup, total_steps)
    return [fn(s, total_steps, w, **kw) for s in (range(total_steps) if at is None else at)]
