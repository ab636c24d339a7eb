"""Train the calibration corpus: every run the plan names that the ledger does not hold yet.

    python benchmarks/corpus/run.py [--quick] [--settings a,b] [--minutes M] [--plan] [--stages S,..] [--curves HASH]

Each run trains through trainwell's public API (``trainwell.train(config, model=..., train_data=...,
val_data=...)``; the finder runs are ``trainwell.find.lr_finder.lr_find`` on the same model and data) on
one CPU thread, and its result lands in benchmarks/results/corpus_ledger.json as soon as it finishes.
Start several workers (separate processes) to share the work: they claim runs through a lock file.
``--quick`` restricts the plan to the settings marked quick (about 10 minutes on 2 cores). ``--plan`` trains
nothing: it prints, per setting, how many runs a worker would train now (0 for a finished setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import finder
import fit
import ledger
import methods
import plan
from settings import BY_NAME, SETTINGS, Setting
from trainwell.config.paths import set_path

STAGE_ORDER = {"peers": 0, "trainwell": 0, "trainwell_loo": 0, "find": 1, "find_train": 1, "find_loo": 1, "random": 2, "oracle": 3}
REVISION = ledger.trainwell_revision()  # the sources this worker imported, not whatever HEAD is when a run ends
TIER = {"mlp": 0, "lstm": 1, "transformer": 1, "head": 2, "cnn": 2, "minilm": 3}


def ordered(settings: list[Setting]) -> list[Setting]:
    """Cheap settings first, so a partial corpus is the cheap end complete rather than everything half-done."""
    return sorted(settings, key=lambda s: (TIER[s.family], s.epochs * s.n_train * s.width * s.depth))


def priority(s: Setting, item: plan.Item, order: dict[str, int]) -> tuple[int, int, int]:
    """Setting by setting, cheapest first (MLPs before the other families), each from its sweep to its
    oracle, so that a corpus cut short has whole settings. A family's ablations come after all its
    settings' other stages: the MLPs' (about 10 minutes on 2 cores) before the other families' corpus, so
    their evidence arrives while the rest trains; every other family's at the very end."""
    group = 2 * (0 if TIER[s.family] == 0 else 1) + (item.stage == "ablate")
    return (group, order[s.name], -1 if item.stage == "sweep" else STAGE_ORDER.get(item.stage, 4))


def config_dict(s: Setting, spec: dict[str, Any]) -> dict[str, Any]:
    harness = methods.base(s, spec["seed"])
    if "config" in spec:  # trainwell's recommendation: its whole config, with the harness's plumbing on top
        cfg = json.loads(json.dumps(spec["config"]))
        for key in ("seed", "report", "doctor", "logging"):
            cfg[key] = harness[key]
        cfg.setdefault("training", {}).update(threads=1, device="cpu")
        cfg["output_dir"] = "runs"
        model = cfg.setdefault("model", {})
        model["dropout"] = float(model.get("dropout", s.dropout))
        cfg["model"] = {"dropout": model["dropout"]}
        return cfg
    cfg = harness
    for path, value in spec["overrides"].items():
        set_path(cfg, path, value)
    return cfg


def evaluate(model: torch.nn.Module, dataset: Any, collate: Any) -> float:
    from trainwell.engine.batches import forward_logits

    model.eval()
    correct = total = 0
    loader = torch.utils.data.DataLoader(dataset, batch_size=256, collate_fn=collate)
    with torch.no_grad():
        for x, y in loader:
            logits = forward_logits(model, x)
            correct += int((logits.argmax(-1) == y).sum())
            total += int(y.numel())
    return correct / max(1, total)


def execute(s: Setting, spec: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    from trainwell.config import load_config
    from trainwell.errors import TrainwellError

    cfg = load_config(config_dict(s, spec))
    started = time.perf_counter()
    torch.manual_seed(spec["seed"])  # the model's initialisation is part of the run
    model, train_ds, val_ds, test_ds, collate = s.build(float(cfg.model.get("dropout", s.dropout)))
    # what the run measured; the config it trained is the spec's (the plan names it again, ledger.slim)
    entry: dict[str, Any] = {"setting": s.name, "kind": spec["kind"], "seed": spec["seed"], "rev": REVISION}
    if spec["kind"] == "find":
        from trainwell.find.lr_finder import lr_find
        from trainwell.tasks.base import Task, TaskFacts, classification_metrics

        task = Task(
            s.name,
            model,
            train_ds,
            val_ds,
            num_classes=facts["num_classes"],
            metrics=classification_metrics,
            collate_fn=collate,
            facts=TaskFacts(facts["recommender_family"], facts["mode"], facts["n_train"], facts["num_classes"], facts["imbalance"]),
        )
        from trainwell.find.result import _min_loss_lr, schedule_shape

        result = lr_find(cfg, task, "cpu")
        mean, first, total = schedule_shape(cfg, len(train_ds))
        entry.update(
            # what find/peak.py's rules read, so benchmarks/corpus/fit.py can re-derive the peak under other constants
            lr_min=_min_loss_lr(result) if result.suggested_lr is not None else None,
            shape={"mean": mean, "first": first, "total": total, "schedule": cfg.schedule.name, "mode": facts["mode"]},
            peak_lr=result.peak_lr,
            suggested_lr=result.suggested_lr,
            reliable=result.reliable,
            stop_lr=float(f"{result.lrs[-1]:.4g}") if result.lrs else None,  # where the range test stopped (finder.py's input)
            finder=spec.get("finder"),
            wall_s=round(time.perf_counter() - started, 2),
        )
        return entry
    from trainwell import train

    status, message = "ok", ""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = train(cfg, model=model, train_data=train_ds, val_data=val_ds, run_dir=Path(tmp) / "run")
            model, steps = result.model, int(result.summary["steps"])
            entry["stop_reason"] = result.summary.get("stop_reason")
            if isinstance(cfg.optimizer.lr, str):
                found = Path(tmp) / "run" / "lr_find.json"
                if found.is_file():
                    entry["found_lr"] = json.loads(found.read_text()).get("peak_lr")
        except TrainwellError as exc:  # a diverged run is a result: score the model as training left it
            status, message, steps = "failed", str(exc)[:300], -1
    entry.update(
        status=status,
        message=message,
        lr=cfg.optimizer.lr if not isinstance(cfg.optimizer.lr, str) else entry.get("found_lr"),
        steps=steps,
        val_acc=round(evaluate(model, val_ds, collate), 5),
        test_acc=round(evaluate(model, test_ds, collate), 5),
        wall_s=round(time.perf_counter() - started, 2),
    )
    return entry


def facts_revision() -> str:
    """A hash of the code that reads a model's facts (trainwell/advise/model_facts.py): when it changes, the
    stored facts are read again (and the recommendations made from them change with them)."""
    import trainwell.advise.model_facts as reader

    return hashlib.sha1(Path(reader.__file__).read_bytes()).hexdigest()[:10]


def setting_info(s: Setting) -> dict[str, Any]:
    return {"key": s.key(), "spec": dataclasses.asdict(s), "facts": s.facts(), "facts_revision": facts_revision()}


def prepare(settings: list[Setting]) -> None:
    """Measure every setting's facts once (builds each model; the frozen settings encode their texts) and
    store them in the ledger, under the lock so a second worker waits instead of doing it again."""
    with ledger.locked():
        book = ledger.load()
        for s in settings:
            info = book["settings"].get(s.name)
            if info is None or info["key"] != s.key() or info.get("facts_revision") != facts_revision():
                book["settings"][s.name] = setting_info(s)
                ledger.save(book)


@dataclasses.dataclass
class Pending:
    """What the ledger still lacks: the runs nameable now (cheapest first), whether more will be named once
    these are in, and the leave-one-dataset-out tables that must be frozen before the plan is final."""

    todo: list[tuple[str, plan.Item]]
    incomplete: bool
    to_freeze: dict[str, dict[str, Any]]  # ledger key -> entries to freeze there first (fit.loo_items)


def pending(book: dict[str, Any], settings: list[Setting], finder_hash: str, curves: str = "", truth: bool = False) -> Pending:
    """``curves``: the finder sources whose recorded range tests the finder's picks are trained from (finder.py --curves);
    ``truth``: also the sweep's extra seeds (plan.truth_items), named only when asked for."""
    runs = book["runs"]
    todo: list[tuple[str, plan.Item]] = []
    incomplete = False
    for s in settings:
        items, complete = plan.setting_items(s, book["settings"][s.name]["facts"], runs, finder_hash)
        incomplete |= not complete
        todo += [(s.name, i) for i in items if i.key not in runs]
    # trainwell with the law fitted, and the corpus-made decisions remade, without the setting's dataset (their
    # rule-or-measure decisions and range-test picks read the same recorded range tests as the finder's picks below)
    loo, to_freeze = fit.loo_items(book, settings, curves or finder_hash)
    if to_freeze:
        return Pending(todo, True, to_freeze)
    incomplete |= len({i.setting for i in loo}) < len(settings)
    todo += [(i.setting, i) for i in loo if i.key not in runs]
    # training at the finder's held-out picks (finder.py), named once every range test of these sources is in
    # (a range test still running keeps its setting's plan incomplete, so no worker leaves before they are named)
    found = finder.loo_items(book, settings, curves or finder_hash)
    todo += [(i.setting, i) for i in found if i.key not in runs]
    for s in settings:
        todo += [(s.name, i) for i in plan.ablation_items(s, book["settings"][s.name]["facts"], finder_hash) if i.key not in runs]
        todo += [(s.name, i) for i in plan.refine_items(s, runs) if i.key not in runs]
        todo += [(s.name, i) for i in (plan.truth_items(s, runs) if truth else []) if i.key not in runs]
    order = {s.name: k for k, s in enumerate(settings)}
    todo.sort(key=lambda t: priority(BY_NAME[t[0]], t[1], order))
    return Pending(todo, incomplete, {})


def show_plan(settings: list[Setting], curves: str = "") -> int:
    """The dry run (``--plan``): per setting, the runs the ledger holds and those a worker would train next,
    read from the ledger without training, measuring or writing anything."""
    book = ledger.load()
    measured = {name: (info["key"], info.get("facts_revision")) for name, info in book["settings"].items()}
    stale = [s.name for s in settings if measured.get(s.name) != (s.key(), facts_revision())]
    if stale:
        print(f"settings whose facts a worker would measure first (not in the ledger or changed): {', '.join(stale)}")
        settings = [s for s in settings if s.name not in stale]
    found = pending(book, settings, ledger.finder_sources_hash(), curves)
    if found.to_freeze:  # planned as a worker would after freezing them (in memory only)
        print(f"a worker would first freeze leave-one-dataset-out entries: {', '.join(sorted(found.to_freeze))}")
        for name, entries in found.to_freeze.items():
            book.setdefault(name, {}).update(entries)
        found = pending(book, settings, ledger.finder_sources_hash(), curves)
    per: dict[str, list[str]] = {}
    for name, item in found.todo:
        per.setdefault(name, []).append(item.stage)
    for s in settings:
        stages = per.get(s.name, [])
        summary = ", ".join(f"{stage} {stages.count(stage)}" for stage in dict.fromkeys(stages)) or "nothing"
        print(f"{s.name}: to do {len(stages)} ({summary})")
    print(f"runs in the ledger: {len(book['runs'])}; to do now: {len(found.todo)}; more to be named later: {found.incomplete}")
    return len(found.todo)


def worker(settings: list[Setting], deadline: float, stages: frozenset[str] = frozenset(), curves: str = "") -> int:
    """Train what the plan names until the deadline; with ``stages``, only runs of those stages, and leave once
    none is left to claim (the plan's other stages may still be incomplete: other workers train them). ``curves``:
    the finder sources whose recorded range tests the finder's picks are trained from (finder.py --curves)."""
    done = 0
    finder_hash = ledger.finder_sources_hash()
    prepare(settings)
    while time.time() < deadline:
        with ledger.locked():
            book = ledger.load()
        found = pending(book, settings, finder_hash, curves, "truth" in stages)
        if found.to_freeze:
            with ledger.locked():
                fresh = ledger.load()
                for name, entries in found.to_freeze.items():
                    frozen = fresh.setdefault(name, {})
                    frozen.update({k: v for k, v in entries.items() if k not in frozen})
                ledger.save(fresh)
            continue  # plan again from what is frozen
        todo, incomplete = found.todo, found.incomplete
        if stages:
            todo = [t for t in todo if t[1].stage in stages]
        if not todo:
            if not incomplete or stages:
                return done
            time.sleep(5)
            continue
        with ledger.locked():
            # re-read under the lock: a run another worker recorded since this plan was made is not claimed again
            recorded = ledger.load()["runs"]
            key = ledger.claim([i.key for _, i in todo if i.key not in recorded])
        if key is None:
            time.sleep(5)
            continue
        name, item = next((n, i) for n, i in todo if i.key == key)
        s = BY_NAME[name]
        try:
            entry = execute(s, item.spec, book["settings"][name]["facts"])
        except Exception:  # a harness bug, not a result: leave the run out of the ledger and the claim held
            logging.exception("run %s (%s %s seed %s) crashed", key, name, item.method, item.seed)
            continue
        entry["spec"] = item.spec
        entry.setdefault("rev", REVISION)
        ledger.record(key, entry)
        done += 1
        shown = entry.get("test_acc", entry.get("peak_lr"))
        print(
            f"{time.strftime('%H:%M:%S')} {name} {item.stage} {item.method} seed {item.seed}: {shown} in {entry.get('wall_s')} s",
            flush=True,
        )
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the settings marked quick")
    parser.add_argument("--settings", default="", help="comma-separated setting names (default: all)")
    parser.add_argument("--minutes", type=float, default=24 * 60.0, help="stop claiming new runs after this long")
    parser.add_argument("--plan", action="store_true", help="dry run: print what a worker would train, train nothing")
    parser.add_argument("--stages", default="", help="comma-separated stages to train (default: every stage but truth), e.g. refine")
    parser.add_argument(
        "--curves", default="", help="train the finder's picks on the range tests of these finder sources (finder.py --curves)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    chosen = [BY_NAME[n] for n in args.settings.split(",") if n] or [s for s in SETTINGS if s.quick or not args.quick]
    if args.plan:
        show_plan(ordered(chosen), args.curves)
        return
    n = worker(ordered(chosen), time.time() + args.minutes * 60, frozenset(x for x in args.stages.split(",") if x), args.curves)
    print(f"worker {os.getpid()}: {n} runs")


if __name__ == "__main__":
    main()
