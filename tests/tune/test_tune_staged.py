"""The staged planner as a pure function: priority order, early stop of a stage, budget, waiting, determinism."""

from __future__ import annotations

from typing import Any

from trainwell.tune import testing
from trainwell.tune.space import default_params
from trainwell.tune.spec import SearchSpace
from trainwell.tune.staged import STAGES, WAIT, Observation, Proposal, plan_next, stage_of

SPACE = SearchSpace(tuple(default_params("adam", "scratch", "adamw", has_dropout=True)))


def drive(budget: int, anchor: float | None = None, fn: Any = testing.loss) -> list[Observation]:
    """Run the plan to the end against a pure function, one trial at a time."""
    obs: list[Observation] = []
    while True:
        step = plan_next(SPACE, testing.START, obs, budget, maximize=False, anchor_lr=anchor)
        if step is None:
            return obs
        assert isinstance(step, Proposal), step
        obs.append(Observation(len(obs), step.params, fn(step.params), "complete", step.tag))


def test_stages_run_in_priority_order_lr_first() -> None:
    obs = drive(20)
    stages = [stage_of(o.tag) for o in obs]
    assert stages[0] == "start" and stages[1] == "lr"
    order = [s.name for s in STAGES]
    first_pass = [s for o, s in zip(obs, stages) if o.tag.startswith("1:")]
    seen = list(dict.fromkeys(first_pass))
    assert seen == sorted(seen, key=order.index)
    assert seen[-1] == "lr_recheck" and {"weight_decay", "warmup_schedule", "clip_dropout"} <= set(seen)
    assert len(obs) == 20


def test_lr_stage_starts_at_the_finder_anchor_and_walks_while_improving() -> None:
    obs = drive(12, anchor=1e-3)
    lr_trials = [o for o in obs if o.tag == "1:lr:lr"]
    assert lr_trials[0].params["lr"] == 1e-3
    lrs = [o.params["lr"] for o in lr_trials]
    assert max(lrs) > 2e-3  # walked up towards the synthetic optimum at 3e-3
    best = min(obs, key=lambda o: o.value or 9)
    assert abs(best.params["lr"] - 3e-3) / 3e-3 < 0.1


def test_a_stage_that_stops_paying_ends_after_its_two_neighbours() -> None:
    # Weight decay has no effect here: both neighbours tie with the centre, so the stage stops at two probes.
    flat = lambda p: testing.loss({**p, "weight_decay": 1e-3})  # noqa: E731
    obs = drive(30, fn=flat)
    wd = [o for o in obs if o.tag == "1:weight_decay:weight_decay"]
    assert len(wd) == 2


def test_budget_is_never_exceeded_and_a_plan_converges() -> None:
    for budget in (1, 3, 7):
        assert len(drive(budget)) == budget
    long = drive(200)
    assert len(long) < 200  # the plan ends (then TPE continues) instead of repeating itself
    keys = [tuple(sorted(o.params.items())) for o in long]
    assert len(keys) == len(set(keys))  # no configuration is trained twice


def test_waits_for_a_running_trial_it_depends_on() -> None:
    start = Observation(0, dict(testing.START), None, "running", "start")
    assert plan_next(SPACE, testing.START, [start], 10, False) == WAIT
    done = Observation(0, dict(testing.START), 1.0, "complete", "start")
    first = plan_next(SPACE, testing.START, [done], 10, False)
    assert isinstance(first, Proposal) and first.stage == "lr"
    running = Observation(1, first.params, None, "running", first.tag)
    second = plan_next(SPACE, testing.START, [done, running], 10, False)
    assert isinstance(second, Proposal) and second.params != first.params  # the other neighbour runs in parallel
    pending = Observation(2, second.params, None, "running", second.tag)
    assert plan_next(SPACE, testing.START, [done, running, pending], 10, False) == WAIT


def test_pruned_and_failed_trials_count_as_worst_and_are_not_retried_by_the_plan() -> None:
    done = Observation(0, dict(testing.START), 1.0, "complete", "start")
    first = plan_next(SPACE, testing.START, [done], 10, False)
    assert isinstance(first, Proposal)
    failed = Observation(1, first.params, None, "failed", first.tag)
    nxt = plan_next(SPACE, testing.START, [done, failed], 10, False)
    assert isinstance(nxt, Proposal) and nxt.params != first.params


def test_plan_is_deterministic() -> None:
    assert [o.params for o in drive(15)] == [o.params for o in drive(15)]
