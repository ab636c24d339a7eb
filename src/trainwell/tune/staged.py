"""The staged strategy as a pure planner: given what has been tried, what to try next.

Guide 001's practical strategy (§Practical Tuning Strategy): start from sensible defaults, find the LR,
tune weight decay with a few short runs, then adjust the schedule and regularisation, then re-check the
LR. Each stage is a set of one-dimensional line searches, one per parameter, in priority order, around
the best configuration so far (the *incumbent*):

* an ordered parameter (LR, weight decay, warmup, clipping, dropout) probes both neighbours of the current
  value on its grid, then keeps stepping in the direction that improved and stops at the first step that
  does not: a stage stops as soon as it stops paying;
* an unordered one (the schedule's name) tries each choice once.

Each stage may spend a share of the budget left when it starts; what it does not spend flows to later
stages. When a pass over all stages ends with budget left, another pass starts from the new incumbent;
a pass that finds nothing new to try ends the plan (the caller then falls back to TPE).

``plan_next`` is a pure function of the observations, so every worker process computes the same plan
from the shared study, and a resumed study continues where it stopped. It needs to wait only when the
next decision depends on a trial that is still running.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trainwell.tune.spec import ParamSpec, SearchSpace

State = Literal["complete", "pruned", "running", "failed"]
WAIT: Literal["wait"] = "wait"
MAX_PASSES = 6


@dataclass(frozen=True)
class Stage:
    name: str
    categories: tuple[str, ...]  # PRIORITY entries whose parameters this stage searches
    share: float  # share of the budget left when the stage starts
    fine: bool = False  # use the finer grid (half the log step)
    why: str = ""


STAGES: tuple[Stage, ...] = (
    Stage("lr", ("lr",), 0.30, why="001 §Practical Tuning Strategy step 2: find the LR (range test, then a short log-spaced sweep)"),
    Stage("batch_size", ("batch_size",), 0.10, why="001 §Batch Size: second in priority, coupled with the LR"),
    Stage("weight_decay", ("weight_decay",), 0.15, why="001 §Practical Tuning Strategy step 3: tune weight decay with 2–3 short runs"),
    Stage("warmup_schedule", ("warmup", "schedule"), 0.20, why="001 §Warmup Steps and §Scheduler Choice: the LR trajectory"),
    Stage("clip_dropout", ("max_grad_norm", "dropout"), 0.15, why="001 step 4: adjust regularisation; clipping is for stability"),
    Stage("rest", ("epochs", "optimizer", "architecture"), 0.15, why="001 §The Priority Order: usually decided upfront, tuned last"),
    Stage("lr_recheck", ("lr",), 0.10, fine=True, why="the best LR moves once weight decay and schedule change; re-check on a finer grid"),
)


@dataclass(frozen=True)
class Observation:
    """One trial as the planner sees it. ``tag`` is 'start', 'P:stage:param' or '' (not planned)."""

    number: int
    params: dict[str, Any]
    value: float | None
    state: State
    tag: str = ""


@dataclass(frozen=True)
class Proposal:
    params: dict[str, Any]
    tag: str
    stage: str
    why: str


def plan_next(
    space: SearchSpace,
    start: dict[str, Any],
    observations: Sequence[Observation],
    budget: int,
    maximize: bool,
    anchor_lr: float | None = None,
) -> Proposal | Literal["wait"] | None:
    """The next trial to run, WAIT for a running trial's result, or None when the plan is finished."""
    planner = _Planner(space, start, sorted(observations, key=lambda o: o.number), budget, maximize, anchor_lr)
    return planner.next()


def stage_of(tag: str) -> str:
    """'2:weight_decay:weight_decay' -> 'weight_decay'; 'start' -> 'start'; '' -> 'sampler'."""
    if not tag:
        return "sampler"
    parts = tag.split(":")
    return parts[1] if len(parts) == 3 else tag


class _Planner:
    def __init__(
        self, space: SearchSpace, start: dict[str, Any], obs: list[Observation], budget: int, maximize: bool, anchor_lr: float | None
    ) -> None:
        self.space, self.start, self.obs, self.budget, self.maximize = space, start, obs, budget, maximize
        self.anchor_lr = anchor_lr
        self.counted = [o for o in obs if o.state != "failed"]
        self.index: dict[tuple[Any, ...], list[Observation]] = {}
        for o in obs:
            self.index.setdefault(self.key(o.params), []).append(o)
        self.stages = [s for s in STAGES if any(space.in_category(c) for c in s.categories)]

    def key(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(_canonical(params.get(n)) for n in self.space.names)

    def lookup(self, params: dict[str, Any]) -> float | Literal["wait", "missing"] | None:
        """The value seen for these params: a number, None (pruned/failed: worst), WAIT or 'missing'."""
        found = self.index.get(self.key(params), [])
        done = [o.value for o in found if o.state == "complete" and o.value is not None]
        if done:
            return done[0]
        if any(o.state == "running" for o in found):
            return WAIT
        return None if found else "missing"

    def better(self, a: float | None, b: float | None) -> bool:
        if a is None or (isinstance(a, float) and math.isnan(a)):
            return False
        if b is None or (isinstance(b, float) and math.isnan(b)):
            return True
        return a > b if self.maximize else a < b

    def incumbent(self, before: int | None) -> dict[str, Any]:
        best: Observation | None = None
        for o in self.obs:
            if before is not None and o.number >= before:
                break
            if o.state == "complete" and (best is None or self.better(o.value, best.value)):
                best = o
        return dict(best.params) if best else dict(self.start)

    def next(self) -> Proposal | Literal["wait"] | None:
        if len(self.counted) >= self.budget:
            return None
        first = self.lookup(self.start)
        if first == "missing":
            return Proposal(dict(self.start), "start", "start", "the starting config, as given or recommended")
        if first == WAIT:
            return WAIT
        for pass_no in range(1, MAX_PASSES + 1):
            before = len(self.counted)
            step = self._run_pass(pass_no)
            if step is not None:
                return step
            if not any(o.tag.startswith(f"{pass_no}:") for o in self.obs) and len(self.counted) == before:
                return None  # a whole pass found nothing new to try: converged
        return None

    def _run_pass(self, pass_no: int) -> Proposal | Literal["wait"] | None:
        for i, stage in enumerate(self.stages):
            share = stage.share / sum(s.share for s in self.stages[i:])
            tagged = [o for o in self.counted if o.tag.startswith(f"{pass_no}:{stage.name}:")]
            start_at = tagged[0].number if tagged else None
            left = self.budget - (sum(1 for o in self.counted if o.number < start_at) if start_at is not None else len(self.counted))
            cap = max(1, round(left * share))
            params = [p for c in stage.categories for p in self.space.in_category(c)]
            used = len(tagged)
            for j, spec in enumerate(params):
                own = sum(1 for o in tagged if o.tag == f"{pass_no}:{stage.name}:{spec.name}")
                earlier = sum(1 for o in tagged if o.tag.split(":")[2] in {p.name for p in params[:j]})
                param_cap = math.ceil((cap - earlier) / (len(params) - j))
                step = self._search(pass_no, stage, spec, own < param_cap and used < cap)
                if step is not None:
                    return step
        return None

    def _search(self, pass_no: int, stage: Stage, spec: ParamSpec, may_spend: bool) -> Proposal | Literal["wait"] | None:
        """One line search: a proposal, WAIT, or None when it is finished (or out of budget)."""
        tag = f"{pass_no}:{stage.name}:{spec.name}"
        mine = [o for o in self.obs if o.tag == tag]
        if not mine and any(o.state == "running" for o in self.obs):
            return WAIT if may_spend else None  # the incumbent is not known yet
        base = self.incumbent(mine[0].number if mine else None)
        center = base[spec.name]
        if pass_no == 1 and stage.name == "lr" and self.anchor_lr is not None:
            center = spec.clip(self.anchor_lr)
        grid = spec.grid(center, fine=stage.fine)
        points = [{**base, spec.name: v} for v in grid]
        values = [self.lookup(p) for p in points]
        order = _probe_order(spec, grid, grid.index(center), values, self.better)
        for i in order:  # run what is missing first (in parallel with pending points), then wait
            if values[i] == "missing":
                if not may_spend:
                    return None
                why = f"{stage.why}; {spec.name}={_fmt(grid[i])} around the incumbent"
                return Proposal(points[i], tag, stage.name, why)
        return WAIT if any(values[i] == WAIT for i in order) else None


def _probe_order(spec: ParamSpec, grid: list[Any], c: int, values: list[Any], better: Any) -> list[int]:
    """Grid indices the search needs, in order: the centre, its neighbours, then onward while improving."""
    if spec.kind == "categorical" and not spec.ordered:
        return [c, *(i for i in range(len(grid)) if i != c)]
    need = [c, *(i for i in (c - 1, c + 1) if 0 <= i < len(grid))]
    if any(not _known(values[i]) for i in need):
        return need
    best = c
    for i in need[1:]:
        if better(values[i], values[best]):
            best = i
    while best != c:
        d = 1 if best > c else -1
        nxt = best + d
        if not 0 <= nxt < len(grid):
            break
        need.append(nxt)
        if not _known(values[nxt]) or not better(values[nxt], values[best]):
            break
        best = nxt
    return need


def _known(value: Any) -> bool:
    return value not in ("missing", WAIT)


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
