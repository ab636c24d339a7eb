"""The finder's corpus scoring (benchmarks/corpus/finder.py, plan.refine_items): the rule finder.py fits is the
rule find/peak.py ships, the refine stage names the quarter-decade LRs around the sweep's best, and the ground
truth's companions (refined vertex, flatness, seed noise, near-best band) read the ledger as documented."""

from __future__ import annotations

import math
import statistics
from types import ModuleType
from typing import Any

import pytest

from trainwell.find.peak import AT_UNIT, WEIGHT, RunShape, peak

FACTS = {"batch": 16, "width": 32, "family": "mlp", "mode": "scratch", "steps": 210}


def _accuracy(lr: float, seed: int) -> float:
    """A bowl in log10 LR with its top at 1e-2 (0.9), seed 0 always 0.004 above seed 1."""
    return 0.9 - 0.1 * (math.log10(lr) + 2) ** 2 + (0.004 if seed == 0 else -0.004)


def _book(corpus: dict[str, ModuleType], refine: bool) -> tuple[Any, dict[str, Any]]:
    """wine-mlp32x1's complete sweep (and, with ``refine``, its refine stage) on ``_accuracy``."""
    plan, s = corpus["plan"], corpus["settings"].BY_NAME["wine-mlp32x1"]
    runs: dict[str, Any] = {}
    sweep, _ = plan.sweep_items(s, {})
    for stage in ("sweep", "refine"):
        items = sweep if stage == "sweep" else plan.refine_items(s, runs) if refine else []  # refine reads the sweep
        for i in items:
            acc = _accuracy(i.spec["overrides"]["optimizer.lr"], i.seed)
            runs[i.key] = {"setting": s.name, "kind": "train", "seed": i.seed, "val_acc": acc, "test_acc": acc, "spec": {}}
    return s, {"about": "", "settings": {s.name: {"key": s.key(), "facts": FACTS}}, "runs": runs}


def test_refine_names_the_quarter_decades_either_side_of_the_best_once_the_sweep_is_complete(corpus: dict[str, ModuleType]) -> None:
    plan = corpus["plan"]
    s, book = _book(corpus, refine=False)
    assert plan.refine_items(s, {}) == []  # no sweep yet: nothing to refine around
    items = plan.refine_items(s, book["runs"])
    assert sorted((i.spec["overrides"]["optimizer.lr"], i.seed) for i in items) == [
        (0.005623, 0),
        (0.005623, 1),
        (0.01778, 0),
        (0.01778, 1),
    ]
    # the same spec as a sweep run at that LR (only the LR differs), so a run already trained there is reused
    assert {i.stage for i in items} == {"refine"} and all(set(i.spec["overrides"]) == {"optimizer.lr"} for i in items)
    assert plan.refined_curve(s, book["runs"]) is None  # until the refine runs are in
    _, refined = _book(corpus, refine=True)
    curve = plan.refined_curve(s, refined["runs"])
    assert curve is not None and len(curve) == 9 and 0.005623 in curve


def test_truth_reads_flatness_noise_and_the_near_best_band(corpus: dict[str, ModuleType]) -> None:
    finder = corpus["finder"]
    _, book = _book(corpus, refine=True)
    row = finder.fit.rows(book)[0]
    t = finder.truth(book, row)
    assert t["refined"] and t["refined_vertex_lr"] == pytest.approx(0.01)
    assert t["seed_se"] == pytest.approx(0.4)  # seeds 0.008 apart: a 2-seed mean's standard error is 0.004
    # the half-decade curve, 2x above the vertex: 0.602 of the way from 0.9 (1e-2) to 0.875 (3.2e-2)
    assert t["sweep_regret_double"] == pytest.approx(100 * 0.025 * math.log10(2) / 0.5, abs=1e-3)
    # within 2 SE (0.8 points) of the top: 0.0233 decade past the quarter-decade points on either side
    lo, hi = t["band"]
    assert math.log10(lo) == pytest.approx(-2.2733, abs=0.011) and math.log10(hi) == pytest.approx(-1.7267, abs=0.011)
    assert finder.judged(t, 0.015, "x") == {"x_in_band": True, "x_within_2x_of_band": True, "x_refined_ratio": 1.5}
    assert finder.judged(t, 0.03, "x")["x_within_2x_of_band"] and not finder.judged(t, 0.03, "x")["x_in_band"]
    assert not finder.judged(t, 0.04, "x")["x_within_2x_of_band"]


def test_the_fitted_rule_is_the_shipped_rule(corpus: dict[str, ModuleType]) -> None:
    finder = corpus["finder"]
    tests = []
    for stop, lr_min in ((0.1, 0.01), (1.0, 0.02), (0.3, 0.003), (3.0, 0.3), (0.05, 0.001)):
        average = AT_UNIT * stop**WEIGHT  # the sweep-best each curve would have under the shipped rule
        shape = {"schedule": "cosine", "mean": 0.5, "first": 0.1, "total": 1000, "mode": "scratch"}
        tests.append(
            {**shape, "stop_lr": stop, "lr_min": lr_min, "suggested_lr": lr_min / 5, "family": "mlp", "row": {"vertex": average / 0.5}}
        )
    rule = finder.fit_rule(tests)
    assert rule == pytest.approx({"at_unit": AT_UNIT, "stop_lr": WEIGHT}, rel=1e-9)
    for t in tests:
        shipped = peak(RunShape(t["suggested_lr"], t["lr_min"], t["stop_lr"], "cosine", 0.5, 0.1, 1000, "scratch", False))
        assert shipped[0] == "warmup-and-decay"
        assert finder.rule_peak(t, rule) == pytest.approx(shipped[1]) == pytest.approx(finder.shipped_peak(t))


def test_paired_compares_an_alternative_with_the_rule_setting_by_setting(corpus: dict[str, ModuleType]) -> None:
    finder = corpus["finder"]
    rule = {"a": {"regret": 0.5}, "b": {"regret": 1.0}, "c": {"regret": 0.0}}
    alt = {"a": {"regret": 1.5}, "b": {"regret": 0.0}, "c": {"regret": 0.5}, "d": {"regret": 9.0}}  # d: the rule has no run
    out = finder.paired(alt, rule)
    diffs = [1.0, -1.0, 0.5]
    assert out == {
        "settings": 3,
        "mean_difference": round(sum(diffs) / 3, 3),
        "standard_error": round(statistics.stdev(diffs) / math.sqrt(3), 3),
        "better": 1,
        "worse": 2,
    }


def test_the_builtin_check_reads_the_peak_reason_the_shipped_rule_writes(corpus: dict[str, ModuleType]) -> None:
    # finder.builtin reads the stop LR and the schedule's mean back from lr_find.json's recorded peak_reason: the
    # pattern must keep matching what find/peak.py writes, or the check would silently score no picks
    _, _, reason = peak(RunShape(0.003, 0.03, 0.167, "cosine", 0.5, 0.1, 225, "scratch", False))
    found = corpus["finder"]._RECORDED.search(reason)
    assert found is not None and (float(found[1]), float(found[2])) == (0.5, 0.167)


def test_truth_names_two_more_seeds_at_every_sweep_lr_and_reuses_the_oracle_runs(corpus: dict[str, ModuleType]) -> None:
    plan = corpus["plan"]
    s, book = _book(corpus, refine=False)
    assert plan.truth_items(s, {}) == []  # no sweep yet
    items = plan.truth_items(s, book["runs"])
    sweep_lrs = sorted({i.spec["overrides"]["optimizer.lr"] for i in plan.sweep_items(s, book["runs"])[0]})
    assert sorted((i.spec["overrides"]["optimizer.lr"], i.seed) for i in items) == [(lr, k) for lr in sweep_lrs for k in (2, 3)]
    # the oracle stage's seed-2 run at a sweep LR has the same spec, hence the same key: it is not trained twice
    oracle = plan._item(s, "oracle", "lr=0.01", 2, "train", {"optimizer.lr": 0.01})
    assert oracle.key in {i.key for i in items}
    assert plan.truth_curve(s, book["runs"]) is None  # until the extra seeds are in
    for i in items:
        acc = _accuracy(i.spec["overrides"]["optimizer.lr"], 0) + (0.02 if i.seed == 3 else 0.0)
        book["runs"][i.key] = {"setting": s.name, "kind": "train", "seed": i.seed, "val_acc": acc, "test_acc": acc, "spec": {}}
    curve = plan.truth_curve(s, book["runs"])
    assert curve is not None and set(curve) == set(sweep_lrs)
    # the 4-seed mean: seeds 0 (+0.004), 1 (-0.004), 2 (+0.004) and 3 (+0.024) around the bowl
    assert curve[0.01] == pytest.approx(0.9 + 0.007)


def test_decompose_splits_the_miss_from_the_reference_noise(corpus: dict[str, ModuleType]) -> None:
    finder = corpus["finder"]
    # a pick 0.3 decade off the optimum; single-seed references +-0.2 decade around it, the 2-seed one on it
    one_seed = [0.3 + 0.2, 0.3 - 0.2, -0.3 + 0.2, -0.3 - 0.2]
    two_seed = [0.3, -0.3]
    s2, miss = finder.decompose(one_seed, two_seed)
    assert s2 == pytest.approx(2 * 0.2**2) and miss == pytest.approx(0.3**2 - 0.2**2)
    # a share can never come out negative, whatever the sample
    assert finder.decompose([0.0], [1.0]) == (0.0, 1.0)
    assert finder._share_normal(0.0) == 1.0 and finder._share_normal(math.log10(2) / 1.96) == pytest.approx(0.95, abs=1e-3)


def test_the_law_feature_reads_the_law_fitted_without_the_fold(corpus: dict[str, ModuleType]) -> None:
    finder = corpus["finder"]
    t = {"mean": 0.5, "law": {"": 0.02, "wine": 0.04}}
    assert finder.value(t, "law") == pytest.approx(math.log10(0.01))
    assert finder.value(t, "law", "wine") == pytest.approx(math.log10(0.02))
    # stop LR and law together: the fit recovers the weights the sweep-best was made with
    tests = []
    for k, (stop, law) in enumerate(((0.1, 0.01), (1.0, 0.002), (0.3, 0.003), (3.0, 0.03), (0.05, 0.001))):
        average = 0.01 * stop**0.3 * (law * 0.5) ** 0.6
        folds = {"": law, "x": law, **{f"d{j}": law for j in range(5)}}
        tests.append({"mode": "scratch", "mean": 0.5, "stop_lr": stop, "law": folds, "dataset": f"d{k}", "row": {"vertex": average / 0.5}})
    rule = finder.fit_rule(tests, ("stop_lr", "law"), fold="x")
    assert rule == pytest.approx({"at_unit": 0.01, "stop_lr": 0.3, "law": 0.6}, rel=1e-6)
    assert finder._within_2x_held_out(tests, ("stop_lr", "law")) == 5
