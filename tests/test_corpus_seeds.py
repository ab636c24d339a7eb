"""The calibration corpus's extra seeds on small test sets (benchmarks/corpus/methods.seeds): where a setting's test
split has under 300 rows every recipe and every oracle candidate trains seeds 3 and 4 too, the oracle is chosen on
the 5-seed means, and the 3-seed protocol (every setting on seeds 0, 1, 2) can still be read from the same ledger."""

from __future__ import annotations

from types import ModuleType
from typing import Any

FINDER = "0123456789"


def _fill(corpus: dict[str, ModuleType], name: str, score: Any) -> tuple[Any, dict[str, Any]]:
    """A ledger in which every run the plan names for ``name`` (sweep, peers, trainwell, range tests, random search,
    oracle) is in, each scored ``score(item)`` (validation = test accuracy)."""
    plan, s = corpus["plan"], corpus["settings"].BY_NAME[name]
    facts = {"recommender_family": "mlp", "family": "mlp", "mode": "scratch", "imbalance": 1.0}
    plan._RECOMMENDED[s.name] = ({"optimizer": {"lr": 0.003}, "model": {"dropout": 0.0}}, "")  # no recommender run
    book: dict[str, Any] = {"settings": {s.name: {"key": s.key(), "facts": facts}}, "runs": {}}
    for _ in range(6):  # the plan names its later stages once the earlier ones are in
        items, _ = plan.setting_items(s, facts, book["runs"], FINDER)
        for i in items:
            if i.key not in book["runs"]:
                kind = i.spec["kind"]
                acc = score(i)
                book["runs"][i.key] = {"kind": kind, "seed": i.seed, "spec": i.spec, "val_acc": acc, "test_acc": acc, "peak_lr": 0.01}
    del plan._RECOMMENDED[s.name]
    return s, book


def test_small_test_sets_get_two_more_seeds_for_every_recipe_and_oracle_candidate(corpus: dict[str, ModuleType]) -> None:
    methods = corpus["analysis"].methods
    by_name = corpus["settings"].BY_NAME
    assert methods.seeds(by_name["wine-mlp32x1"]) == (0, 1, 2, 3, 4)
    assert methods.seeds(by_name["digits-mlp128x1"]) == (0, 1, 2)  # 300 test rows: not under the line
    _, book = _fill(corpus, "wine-mlp32x1", lambda i: 0.9)
    named = list(book["runs"].values())
    peers = {e["seed"] for e in named if e["spec"]["overrides"] == methods.PEERS["keras"]}
    assert peers == {0, 1, 2, 3, 4}
    # each oracle candidate from the sweep (seeds 0, 1) or the random search (seed 0) is completed to the 5 seeds
    oracle = [e for e in named if e["spec"]["kind"] == "train" and e["seed"] in (3, 4)]
    assert len(oracle) == 2 * (5 + 1 + 2 + 3)  # peers, trainwell, two sweep LRs, three random configs
    # the sweep, the random search and the range tests keep their seeds
    assert {e["seed"] for e in named if e["spec"]["kind"] == "find"} == {0, 1, 2}


def test_the_oracle_is_chosen_on_every_seed_and_the_3_seed_view_reads_the_old_protocol(corpus: dict[str, ModuleType]) -> None:
    analysis, methods = corpus["analysis"], corpus["analysis"].methods

    def score(i: Any) -> float:
        # keras wins on seeds 0-2, loses on seeds 3-4; everything else scores 0.80
        if i.spec["overrides"] == methods.PEERS["keras"]:
            return 0.95 if i.seed < 3 else 0.50
        return 0.80

    s, book = _fill(corpus, "wine-mlp32x1", score)
    five = analysis.setting_report(s, book, FINDER)
    three = analysis.setting_report(s, book, FINDER, seeds=methods.SEEDS)
    assert five["complete"] and three["complete"]
    assert "keras" in three["oracle"]["found_by"] and abs(three["oracle"]["test_mean"] - 95.0) < 1e-6
    assert "keras" not in five["oracle"]["found_by"] and abs(five["oracle"]["test_mean"] - 80.0) < 1e-6
    assert five["methods"]["keras"]["seeds"] == 5 and three["methods"]["keras"]["seeds"] == 3
    assert abs(five["methods"]["keras"]["regret"] - (80.0 - 77.0)) < 1e-6  # (3 x 95 + 2 x 50) / 5 = 77
    # a setting with a large test set reads the same either way
    d, book = _fill(corpus, "digits-mlp128x1", score)
    assert analysis.setting_report(d, book, FINDER)["oracle"] == analysis.setting_report(d, book, FINDER, seeds=methods.SEEDS)["oracle"]


def test_the_small_test_sets_are_the_settings_under_300_test_rows(corpus: dict[str, ModuleType]) -> None:
    """The row counts methods.TEST_ROWS records are the splits' (the scikit-learn sets; the MiniLM fine-tunes take
    256 test texts: settings.py), and digits, at 300, is not among them."""
    methods, by_name = corpus["analysis"].methods, corpus["settings"].BY_NAME
    for name, rows in methods.TEST_ROWS.items():
        s = by_name[name]
        if s.family == "mlp":
            assert len(s.split().y_test) == rows, name
    assert len(by_name["digits-mlp128x1"].split().y_test) == methods.SMALL_TEST
