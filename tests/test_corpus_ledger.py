"""The calibration corpus's ledger (benchmarks/corpus/ledger.py): entries written by older workers (the whole
spec, the config diff, the finder's record and curve) are read in the slim form, the writer writes only that
form, and a ledger in either form resumes without re-running a finished run."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FACTS = {  # wine-mlp32x1's stored facts (what the plan and the recommender read)
    "batch": 16,
    "budget": "standard",
    "dataset": "wine",
    "depth": 2,
    "epochs": 30,
    "family": "mlp",
    "imbalance": 1.615,
    "mode": "scratch",
    "n_train": 106,
    "nominal_depth": 1,
    "nominal_width": 32,
    "num_classes": 3,
    "params": 547,
    "recommender_family": "mlp",
    "steps": 210,
    "steps_per_epoch": 7,
    "trainable_params": 547,
    "width": 32,
}
FINDER = "0123456789"


def _fat(spec: dict[str, Any], **measured: Any) -> dict[str, Any]:
    """An entry as workers before the slim ledger wrote it: the full spec and the derivable extras."""
    return {
        "setting": spec["setting"],
        "kind": spec["kind"],
        "seed": spec["seed"],
        "rev": "98890a2da8",
        "batch": 16,
        "config": {"optimizer": {"lr": 0.01}, "training": {"epochs": 30, "threads": 1}},
        "spec": spec,
        "wall_s": 1.5,
        **measured,
    }


def _train(val: float, test: float, **extra: Any) -> dict[str, Any]:
    return {
        "status": "ok",
        "message": "",
        "lr": 0.01,
        "steps": 210,
        "stop_reason": "finished training.epochs (30)",
        "val_acc": val,
        "test_acc": test,
        **extra,
    }


def _book(corpus: dict[str, ModuleType]) -> tuple[Any, dict[str, Any]]:
    """wine-mlp32x1's complete sweep (best at 1e-2, inside the grid: nothing to extend), a range test and a
    recommended config with one ablation, all in the old form."""
    plan, s = corpus["plan"], corpus["settings"].BY_NAME["wine-mlp32x1"]
    runs: dict[str, Any] = {}
    sweep, _ = plan.sweep_items(s, {})
    for i in sweep:
        lr = i.spec["overrides"]["optimizer.lr"]
        score = 0.9 - abs(lr - 0.01)
        runs[i.key] = _fat(i.spec, **_train(score, score - 0.01 * i.seed))
    find = plan._item(s, "find", "finder", 0, "find", {"optimizer.lr": "find"}, finder=FINDER)
    curve = {"lr": [1e-7, 1e-3, 3.27], "loss": [1.1, 0.4, 9.0]}
    runs[find.key] = _fat(
        find.spec,
        finder=FINDER,
        peak_lr=0.047,
        suggested_lr=0.0118,
        lr_min=0.118,
        reliable=True,
        shape={"first": 0.04, "mean": 0.5, "mode": "scratch", "schedule": "cosine", "total": 210},
        find={"reasons": ["the finder's whole record"], "rules": {}},
        curve=curve,
    )
    config = {"optimizer": {"lr": 0.003, "weight_decay": 0.01}, "model": {"dropout": 0.1}}
    base = plan._item(s, "trainwell", "trainwell", 0, "train", config=config)
    runs[base.key] = _fat(base.spec, **_train(0.95, 0.93))
    off = {**config, "model": {"dropout": 0.0}}
    ablation = plan._item(s, "ablate", "ablate:dropout", 0, "train", config=off, ablation="dropout", base=corpus["ledger"].spec_key(config))
    runs[ablation.key] = _fat(ablation.spec, **_train(0.94, 0.90))
    return s, {"about": "", "settings": {s.name: {"key": s.key(), "facts": FACTS}}, "runs": runs}


def test_an_old_entry_is_read_slim_keeping_what_the_analysis_reads(corpus: dict[str, ModuleType]) -> None:
    ledger = corpus["ledger"]
    _, book = _book(corpus)
    fat = next(e for e in book["runs"].values() if "config" in e["spec"] and "ablation" not in e["spec"])
    slim = ledger.slim(fat)
    assert slim == {
        "setting": "wine-mlp32x1",
        "kind": "train",
        "seed": 0,
        "rev": "98890a2da8",
        "wall_s": 1.5,
        "val_acc": 0.95,
        "test_acc": 0.93,
        "lr": 0.01,
        "steps": 210,
        # the recommended config by its key (what its ablations name as ``base``), not the 2 KB config itself
        "spec": {"setting_key": fat["spec"]["setting_key"], "config_key": ledger.spec_key(fat["spec"]["config"])},
    }
    assert ledger.slim(slim) == slim  # idempotent: a slim entry reads as itself
    failed = ledger.slim({**fat, "status": "failed", "message": "diverged", "stop_reason": "doctor: loss is NaN"})
    assert (failed["status"], failed["message"], failed["stop_reason"]) == ("failed", "diverged", "doctor: loss is NaN")
    find = ledger.slim(next(e for e in book["runs"].values() if e["kind"] == "find"))
    assert find["stop_lr"] == 3.27 and "curve" not in find and "find" not in find and find["shape"]["mean"] == 0.5


def test_the_writer_writes_one_slim_row_per_run_and_compact_rewrites_in_place(corpus: dict[str, ModuleType], tmp_path: Path) -> None:
    ledger = corpus["ledger"]
    _, book = _book(corpus)
    path = tmp_path / "corpus_ledger.json"
    path.write_text(json.dumps(book, indent=1))  # an old ledger, fat entries
    before, after = ledger.compact(path)
    assert after < before / 2
    lines = path.read_text().splitlines()
    assert len(lines) == 2 + len(book["runs"])  # the head, one line per run, the closing braces
    assert json.loads(path.read_text())["runs"].keys() == book["runs"].keys()  # the keys runs are found by stay
    assert all(json.loads(line.rstrip(",").split(":", 1)[1]) == ledger.slim(book["runs"][line.split('"')[1]]) for line in lines[1:-1])
    assert ledger.compact(path) == (after, after)  # a slim ledger is already compact
    mixed = {**book, "runs": {**json.loads(path.read_text())["runs"], "extra": book["runs"][next(iter(book["runs"]))]}}
    ledger.save(mixed, path)  # a fat entry a worker of the old code added is written slim with the rest
    assert "spec" in ledger.load(path)["runs"]["extra"] and "config" not in json.loads(path.read_text())["runs"]["extra"]


def test_a_ledger_old_or_slim_resumes_without_rerunning_and_reads_the_same(corpus: dict[str, ModuleType], tmp_path: Path) -> None:
    ledger, plan, finder, analysis = corpus["ledger"], corpus["plan"], corpus["finder"], corpus["analysis"]
    s, book = _book(corpus)
    path = tmp_path / "corpus_ledger.json"
    path.write_text(json.dumps(book))
    old = ledger.load(path)
    ledger.compact(path)
    for read in (old, ledger.load(path)):
        sweep, complete = plan.sweep_items(s, read["runs"])
        assert complete and all(i.key in read["runs"] for i in sweep)  # nothing of the sweep is named again
        assert plan.sweep_best(plan.sweep_means(sweep, read["runs"]))[0] == 0.01
        tests = finder.range_tests(read, FINDER)  # the finder's fit reads the stop LR, the last of the old curve
        assert [(t["seed"], t["stop_lr"], t["mean"]) for t in tests] == [(0, 3.27, 0.5)]
        (row,) = analysis.ablations(s, read, FINDER)  # the ablation finds its recommended config by the config's key
        assert (row["rule"], row["test_delta"]) == ("dropout", [pytest.approx(-3.0)])


def test_a_config_that_measures_its_lr_is_keyed_by_the_finder_sources_too(corpus: dict[str, ModuleType]) -> None:
    """A recommendation with ``optimizer.lr: find`` runs the range test inside ``train``: a changed finder must train
    it (and its ablations) again, never reuse the run the old finder picked the LR for; a fixed LR keeps its key."""
    ledger, plan, analysis = corpus["ledger"], corpus["plan"], corpus["analysis"]
    s, book = _book(corpus)
    measured = {"optimizer": {"lr": "find", "weight_decay": 0.01}, "model": {"dropout": 0.1}}
    fixed = {"optimizer": {"lr": 0.003, "weight_decay": 0.01}, "model": {"dropout": 0.1}}
    keys = {h: plan.config_item(s, "trainwell", "trainwell", 0, measured, h).key for h in (FINDER, "9876543210")}
    assert keys[FINDER] != keys["9876543210"]
    assert (
        plan.config_item(s, "trainwell", "trainwell", 0, fixed, FINDER).key
        == plan._item(s, "trainwell", "trainwell", 0, "train", config=fixed).key
    )
    assert (
        plan.config_item(s, "trainwell", "trainwell", 0, fixed, FINDER).key
        == plan.config_item(s, "trainwell", "trainwell", 0, fixed, "x").key
    )
    # the ablation pairs with the recommended run of its own finder sources, and only the current ones' is current
    off = {**measured, "model": {"dropout": 0.0}}
    for finder_hash, on_acc, off_acc in ((FINDER, 0.95, 0.90), ("9876543210", 0.80, 0.84)):
        base = plan.config_item(s, "trainwell", "trainwell", 0, measured, finder_hash)
        book["runs"][base.key] = ledger.slim(_fat(base.spec, **_train(on_acc, on_acc)))
        abl = plan.config_item(s, "ablate", "ablate:dropout", 0, off, finder_hash, ablation="dropout", base=ledger.spec_key(measured))
        book["runs"][abl.key] = ledger.slim(_fat(abl.spec, **_train(off_acc, off_acc)))
    read = {**book, "runs": {k: ledger.slim(e) for k, e in book["runs"].items()}}
    rows = {r.get("finder"): r for r in analysis.ablations(s, read, FINDER) if r["base"] == ledger.spec_key(measured)}
    assert rows[FINDER]["test_delta"] == [pytest.approx(-5.0)] and rows["9876543210"]["test_delta"] == [pytest.approx(4.0)]
    assert not rows[FINDER]["current"]  # the recommender's current config for wine is not this one


def test_a_dead_workers_claim_is_free_at_once_and_run_keys_stay_as_recorded(
    corpus: dict[str, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corpus worker that crashed held its claims for CLAIM_TTL_S (30 minutes), so no other worker trained
    those runs meanwhile. A claim made on this host whose process is gone is now free at once; a live worker's,
    another host's and an old claim without a host keep the TTL. The run keys are not touched: a sweep run of
    wine-mlp32x1 keeps the key it has in the shared ledger."""
    import os
    import socket
    import subprocess
    import sys
    import time

    ledger, plan = corpus["ledger"], corpus["plan"]
    monkeypatch.setattr(ledger, "CLAIMS", tmp_path / "corpus_ledger.json.claims")
    monkeypatch.setattr(ledger, "LOCK", tmp_path / "corpus_ledger.json.lock")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)  # reaped: its pid names no process
    here, now = socket.gethostname(), time.time()
    claims = {
        "alive": {"t": now, "pid": os.getpid(), "host": here},
        "crashed": {"t": now, "pid": dead.pid, "host": here},
        "elsewhere": {"t": now, "pid": dead.pid, "host": here + "-other"},
        "old-form": {"t": now, "pid": dead.pid},
        "expired": {"t": now - ledger.CLAIM_TTL_S - 1, "pid": os.getpid(), "host": here},
    }
    ledger.CLAIMS.write_text(json.dumps(claims))
    with ledger.locked():
        assert ledger.claim(["alive", "elsewhere", "old-form", "crashed"]) == "crashed"
        assert ledger.claim(["alive", "elsewhere", "old-form", "crashed", "expired"]) == "expired"
        assert ledger.claim(["alive", "elsewhere", "old-form", "crashed", "expired"]) is None
    held = json.loads(ledger.CLAIMS.read_text())
    assert held["crashed"]["pid"] == held["expired"]["pid"] == os.getpid() and held["crashed"]["host"] == here
    assert held["elsewhere"] == claims["elsewhere"] and held["old-form"] == claims["old-form"]
    sweep, _ = plan.sweep_items(corpus["settings"].BY_NAME["wine-mlp32x1"], {})
    assert (sweep[0].key, sweep[0].spec["overrides"], sweep[0].seed) == ("04d78e9a2fb7b844", {"optimizer.lr": 0.0001}, 0)
