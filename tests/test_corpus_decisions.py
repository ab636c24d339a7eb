"""The calibration corpus's held-out decisions (benchmarks/corpus/decisions.py): a corpus-made rule is decided
again without the held-out dataset by one criterion (the other datasets' mean ablation change beyond the noise,
else the guides' side), and the held-out recommendation switches exactly the rules whose held-out side differs."""

from __future__ import annotations

import importlib
import math
from types import ModuleType
from typing import Any

import pytest

MLP = {"recommender_family": "mlp", "family": "mlp", "mode": "scratch", "epochs": 30, "imbalance": 1.6}


def _row(dataset: str, delta: float, facts: dict[str, Any] = MLP) -> dict[str, Any]:
    return {"setting": f"{dataset}-x", "dataset": dataset, "facts": facts, "deltas": {"dropout": delta}}


def test_a_rule_is_decided_without_the_held_out_dataset(corpus: dict[str, ModuleType]) -> None:
    decisions = corpus["decisions"]
    fc = next(d for d in decisions.DECISIONS if d.rule == "dropout.fc")  # guides: on (0.3); shipped: off
    rows = [_row("a", 1.0), _row("a", 0.8), _row("b", 0.1), _row("c", -0.2)]
    assert decisions.decide(fc, rows)["side"] == "off"  # mean +0.425: beyond the noise, dropout cost accuracy
    held = decisions.decide(fc, rows, exclude="a")
    assert (held["side"], held["settings"], held["mean_off_minus_on"]) == ("on", 2, -0.05)  # within noise: the guide
    assert decisions.decide(fc, [_row("b", -1.0)])["side"] == "on"  # beyond the noise the other way: measured on
    assert decisions.decide(fc, [_row("a", 2.0)], exclude="a") == {"side": "on", "settings": 0, "why": "no evidence: the guides' side"}
    cnn = {**MLP, "recommender_family": "cnn", "family": "cnn"}
    assert decisions.decide(fc, [_row("b", 2.0, cnn)])["settings"] == 0  # the rule's context only


def test_the_held_out_config_switches_only_rules_that_differ(corpus: dict[str, ModuleType]) -> None:
    decisions = corpus["decisions"]
    s = corpus["settings"].BY_NAME["digits-mlp128x1"]
    config = {"optimizer": {"lr": "find"}, "lr_find": {"fallback": 0.004}, "model": {"dropout": 0.0}, "schedule": {"warmup": 0.1}}
    shipped = {d.rule: {"side": d.shipped} for d in decisions.DECISIONS}
    same = {"held_out": {"digits": {"rules": shipped, "measure": [], "picks": {}}}}
    seeds = decisions.configs(s, MLP, config, same)
    # nothing differs: the shipped config, its "find" resolved to the law's fallback (no held-out evidence to measure)
    assert len(seeds) == 3 and all(c == {**config, "optimizer": {"lr": 0.004}} for c in seeds)
    differ = {**shipped, "dropout.fc": {"side": "on"}, "schedule.adam-scratch-warmup": {"side": "off"}}
    picks = {"digits-mlp128x1": {"0": 0.01, "1": 0.02, "2": 0.03}, "wine-mlp32x1": {"0": 0.01, "1": 0.02, "2": 0.03}}
    held = {"held_out": {d: {"rules": differ, "measure": ["mlp"], "picks": picks} for d in ("digits", "wine")}}
    seeds = decisions.configs(s, MLP, config, held)
    assert [c["optimizer"]["lr"] for c in seeds] == [0.01, 0.02, 0.03]  # each seed trains at its range test's pick
    assert all(c["model"]["dropout"] == 0.3 and c["schedule"]["warmup"] == 0.0 for c in seeds)
    assert config["model"]["dropout"] == 0.0  # the recommendation itself is left as it was
    # a small test set's extra seeds (methods.seeds) have no range test of their own: the law's value
    wine = decisions.configs(corpus["settings"].BY_NAME["wine-mlp32x1"], MLP, config, held)
    assert [c["optimizer"]["lr"] for c in wine] == [0.01, 0.02, 0.03, 0.004, 0.004]


def test_a_settings_evidence_is_its_current_ablation_else_the_mean_of_earlier_ones(corpus: dict[str, ModuleType]) -> None:
    delta = corpus["analysis"].ablation_delta

    def row(value: float, current: bool, seeds: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
        return {"rule": "dropout", "seeds": list(seeds), "test_delta_mean": value, "current": current}

    assert delta([row(3.6, False), row(-3.3, False)], "dropout") == pytest.approx(0.15)
    assert delta([row(3.6, False), row(0.5, True)], "dropout") == 0.5
    assert delta([row(0.5, True, seeds=(0,))], "dropout") is None  # one seed in: no evidence yet
    assert delta([row(0.5, True)], "warmup") is None


def test_the_frozen_decisions_are_named_by_the_corpus_and_wait_for_its_ablations(
    corpus: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions, settings = corpus["decisions"], corpus["settings"]
    before = decisions.key("f")
    monkeypatch.setattr(decisions, "SETTINGS", settings.SETTINGS[:-1])
    assert decisions.key("f") != before  # a setting added to (or taken from) the corpus decides anew
    two = settings.SETTINGS[:2]
    monkeypatch.setattr(decisions, "SETTINGS", two)
    item = decisions.plan.Item("x", "ablate", "ablate:dropout", 0, {"ablation": "dropout"}, "k1")
    monkeypatch.setattr(decisions.plan, "ablation_items", lambda s, facts, finder_hash: [item])

    def ablated(seeds: list[int], current: bool) -> list[dict[str, Any]]:
        return [{"rule": "dropout", "seeds": seeds, "test_delta_mean": 0.4, "current": current}]

    found = {"rows": ablated([0, 1], True)}
    monkeypatch.setattr(decisions.analysis, "ablations", lambda s, book, finder_hash: found["rows"])
    book: dict[str, Any] = {"settings": {s.name: {"key": s.key(), "facts": {}} for s in two}, "runs": {}}
    assert decisions.ablations_complete(book, "f")
    found["rows"] = ablated([0, 1], False)
    assert decisions.ablations_complete(book, "f")  # an earlier recommender's ablation is evidence about the rule
    found["rows"] = ablated([0], True)
    assert not decisions.ablations_complete(book, "f")  # an ablation still training (one seed in): not final
    found["rows"] = ablated([0, 1], True)
    del book["settings"][two[1].name]
    assert not decisions.ablations_complete(book, "f")  # a setting not yet measured: not final


def test_the_held_out_law_tables_are_named_by_the_corpus_and_its_model_facts(corpus: dict[str, ModuleType]) -> None:
    """Tables frozen before settings were added (or before a fact was read right) are not reused: the 6 settings
    added in session 6 and the 1-conv CNNs' widths (128 read for 8) reached the held-out law only through a new key."""
    fit = importlib.import_module("fit")
    names = [s.name for s in corpus["settings"].SETTINGS]
    book: dict[str, Any] = {"settings": {n: {"facts": {"width": 8}} for n in names}}
    before = fit.loo_key(book)
    assert fit.loo_key(book) == before  # the same corpus: the same tables
    book["settings"][names[0]]["facts"]["width"] = 128
    assert fit.loo_key(book) != before
    book["settings"][names[0]]["facts"]["width"] = 8
    del book["settings"][names[-1]]
    assert fit.loo_key(book) != before


def test_class_weights_and_transformer_dropout_are_switched_on_where_their_rules_apply(corpus: dict[str, ModuleType]) -> None:
    methods = importlib.import_module("methods")
    config = {"loss": {"name": "cross_entropy", "class_weights": "none"}, "model": {"dropout": 0.0}}
    how, changed = methods.ablated_configs(config, imbalance=7.0)["class_weights"]
    assert (how, changed["loss"]["class_weights"]) == ("on", "auto")
    assert "class_weights" not in methods.ablated_configs(config, imbalance=4.9)
    assert config["loss"]["class_weights"] == "none"
    # 001's transformer dropout is switched on where a short transformer's recommendation leaves it off, nowhere else
    how, changed = methods.ablated_configs(config, family="transformer")["dropout"]
    assert (how, changed["model"]["dropout"]) == ("on", 0.1)
    assert "dropout" not in methods.ablated_configs(config, family="mlp")


def test_the_new_settings_read_their_data_as_their_family_does(corpus: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    data = importlib.import_module("data")
    skew = data.teacher_skew()
    counts = np.bincount(skew.y_train[:3000])
    assert counts.max() / counts.min() >= 5  # imbalanced enough for the class-weight rule (1:5)
    x = np.arange(4 * 64, dtype=np.float32).reshape(4, 64)  # digits' 64 pixels, as sklearn's loader gives them
    y = np.zeros(4, dtype=np.int64)
    monkeypatch.setattr(data, "vectors_or_images", lambda name: data.Split(x, y, x, y, x, y, 10, "vector"))
    split = corpus["settings"].BY_NAME["digits-cnn16x1"].split()
    assert split.x_train.shape == (4, 1, 8, 8) and split.x_test.shape == (4, 1, 8, 8)
    assert np.array_equal(split.x_val[1, 0, 2], x[1, 16:24])  # row-major: the image's third row


def test_what_is_frozen_from_the_sweeps_waits_for_every_settings_sweep(
    corpus: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A setting added to the corpus is evidence for every other dataset's fold: the held-out law tables and the
    finder's held-out constants (and the decisions read from them) are not made while its sweep still trains, and the
    trainwell_loo runs are not named while the decisions can still change (they would be trained again)."""
    fit, plan, settings, finder, decisions = (
        importlib.import_module("fit"),
        corpus["plan"],
        corpus["settings"],
        corpus["finder"],
        corpus["decisions"],
    )
    two = [settings.BY_NAME["wine-mlp32x1"], settings.BY_NAME["digits-mlp128x1"]]
    monkeypatch.setattr(fit, "SETTINGS", two)
    monkeypatch.setattr(fit, "READY", 1)
    facts = {"recommender_family": "mlp", "family": "mlp", "mode": "scratch", "width": 32, "depth": 1, "steps": 210, "batch": 16}
    book: dict[str, Any] = {"settings": {s.name: {"key": s.key(), "facts": facts} for s in two}, "runs": {}}

    def sweep(s: Any) -> None:
        for i in plan.sweep_items(s, {})[0]:
            lr = i.spec["overrides"]["optimizer.lr"]
            acc = 0.9 - 0.1 * (math.log10(lr) + 2) ** 2  # a bowl with its top at 1e-2, inside the grid
            book["runs"][i.key] = {"setting": s.name, "kind": "train", "seed": i.seed, "val_acc": acc, "test_acc": acc, "spec": {}}

    sweep(two[0])
    assert not fit.sweeps_complete(book) and fit.loo_table_for(book, "digits") is None
    assert not finder.complete(book, "f")  # wine's range tests would be all there are, but digits is not swept
    sweep(two[1])
    assert fit.sweeps_complete(book) and fit.loo_table_for(book, "digits")["fitted_on"] == ["wine-mlp32x1"]
    # decisions not final (no range tests, no ablations) and not frozen: the tables freeze, no run is named yet
    assert not decisions.final(book, "f")
    items, new = fit.loo_items(book, two, "f")
    assert items == [] and set(new[fit.loo_key(book)]) == {"wine", "digits"}
