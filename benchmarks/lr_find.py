"""Does trainwell's LR finder pick a good LR? Compared with a full-training LR sweep and two anchors.

For each built-in task that runs on this machine's CPU (sizes cut down with data.limit, and said so):
  1. sweep a grid of LRs x several seeds with full training: the sweep-best LR is the grid point with the
     best mean final validation accuracy (a quadratic fit in log10(LR) around it is reported too, and the
     "near-best band": the grid LRs whose mean is within two standard errors of the best's);
  2. per seed, run trainwell's finder (the peak LR `optimizer.lr: find` trains with), torch-lr-finder's
     LRFinder + steepest-gradient suggestion, and Lightning's Tuner.lr_find suggestion, each from the same
     freshly initialised model, data, optimizer (AdamW + trainwell's parameter groups) and loss;
  3. train with each suggestion and report its ratio to the sweep-best LR and its accuracy regret
     (sweep-best mean accuracy minus the suggestion's mean accuracy).
It also times the finder against one training epoch.

The grid and seeds differ by task (PROTOCOL), because they cost differently. Digits, adult and the
Fashion-MNIST subset train in 2-10 s and are flat over a decade near their best, where 8 LRs x 2 seeds
put the "best" wherever the seed noise fell (adult's 2-seed best was 3.2e-3, its 6-seed best 1e-2), so
they get 15 quarter-decade LRs x 6 seeds. Fine-tuning MiniLM costs ~90 s a run on one CPU thread and
gets the issue's 8 half-decade LRs x 2 seeds.

    python benchmarks/lr_find.py [--tasks digits,tabular,fashion-mnist,text-classification] [--cache runs.json] [--reuse-sweep]

``--reuse-sweep`` keeps each task's sweep (grid means, best LR, band) from the results file and re-runs only the
finders and the trainings at their picks (the sweep trains fixed LRs and calls no finder, so a finder change leaves
it as it was); the sweep's own revision and command stay recorded beside the new ones, and the sweep-best LR is
trained again on every seed at this revision (``best_acc_rerun``) so a drift in training since the sweep shows.

Every run uses one CPU thread; training has a fixed length (no early stopping) and a cosine schedule
with 10 % warmup, max_grad_norm 1.0, batch as listed per task.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from _common import quiet
from trainwell.config import load_config
from trainwell.config.resolved import replace_paths
from trainwell.config.schema import Config
from trainwell.engine import rng
from trainwell.engine.batches import forward_logits
from trainwell.engine.run_folder import git_revision
from trainwell.find.lr_finder import lr_find
from trainwell.optim.losses import build_loss
from trainwell.optim.optimizers import build_optimizer
from trainwell.optim.param_groups import param_groups
from trainwell.run import train
from trainwell.tasks.catalog import build_task

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HALF = [10 ** (-4 + k / 2) for k in range(8)]  # 1e-4 .. 3.2e-1, half-decades: training from scratch
QUARTER = [10 ** (-4 + k / 4) for k in range(15)]  # the same span in quarter-decades
# Fine-tuning a pretrained transformer lives two decades lower (001 §Learning Rate: 1e-5..1e-4 for BERT-style models).
FINETUNE = [10 ** (-6 + k / 2) for k in range(8)]  # 1e-6 .. 3.2e-3
PROTOCOL: dict[str, dict[str, Any]] = {
    "digits": {"grid": QUARTER, "seeds": (42, 7, 1, 2, 3, 4)},
    "tabular": {"grid": QUARTER, "seeds": (42, 7, 1, 2, 3, 4)},
    "fashion-mnist": {"grid": QUARTER, "seeds": (42, 7, 1, 2, 3, 4)},
    "text-classification": {"grid": FINETUNE, "seeds": (42, 7)},
}
TASKS: dict[str, dict[str, Any]] = {
    "digits": {"task": "digits", "training": {"epochs": 5}, "batch": {"size": 32}},
    "tabular": {
        "task": "tabular",
        "training": {"epochs": 3},
        "batch": {"size": 64},
        "data": {"path": str(DATA / "adult" / "adult.data"), "limit": 8000, "options": {"val_path": str(DATA / "adult" / "adult.test")}},
    },
    "fashion-mnist": {
        "task": "fashion-mnist",
        "training": {"epochs": 2},
        "batch": {"size": 64},
        "model": {"channels": 16},
        "data": {"path": str(DATA / "fashion-mnist"), "limit": 4000},
    },
    "text-classification": {
        "task": "text-classification",
        "training": {"epochs": 2},
        "batch": {"size": 16},
        "data": {"path": str(DATA / "sst2-glue" / "train.tsv"), "limit": 800, "options": {"val_limit": 500, "max_length": 48}},
    },
}
NOTES = {
    "digits": "all 1437 training images, 5 epochs",
    "tabular": "adult: 8000 of 32561 training rows, 3 epochs, validated on adult.test",
    "fashion-mnist": "4000 of 60000 training images, 2 epochs, 16-channel CNN, validated on the 10k test images",
    "text-classification": "SST-2: pretrained MiniLM fine-tuned on 800 of 67349 sentences for 2 epochs, validated on 500 dev sentences",
}


def config_for(task: str, seed: int, lr: float | str) -> Config:
    spec = json.loads(json.dumps(TASKS[task]))
    # One evaluation, after the last epoch: the score is the final model's validation accuracy.
    evaluation = {"strategy": "epoch", "every": spec["training"]["epochs"], "metric": "val_accuracy", "mode": "max"}
    return load_config({**spec, **quiet(1000), "evaluation": evaluation, "seed": seed, "optimizer": {"name": "adamw", "lr": lr}})


CACHE: dict[str, list[float]] = {}  # (task, seed, lr) -> a training run's figures, reusable across runs with --cache


def train_accuracy(task: str, seed: int, lr: float, out: Path) -> tuple[float, float, int]:
    """(final val accuracy, wall seconds per epoch, steps per epoch) of one full training run."""
    key = f"{task}|{json.dumps(TASKS[task], sort_keys=True)}|{seed}|{lr:.6g}"
    if key not in CACHE:
        result = train(config_for(task, seed, lr), run_dir=out / f"{task}-{seed}-{lr:.3g}")
        s = result.summary
        CACHE[key] = [float(s["final"]["val_accuracy"]), s["wall_time_s"] / max(1.0, s["epochs"]), s["steps"] / max(1.0, s["epochs"])]
    acc, epoch_s, steps = CACHE[key]
    return acc, epoch_s, int(steps)


def fresh(task: str, seed: int) -> tuple[Config, Any]:
    cfg = config_for(task, seed, 1e-7)
    rng.seed_everything(seed)
    return cfg, build_task(cfg)


def loader(cfg: Config, task: Any) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(cfg.seed)
    return torch.utils.data.DataLoader(
        task.train_data, batch_size=cfg.batch.size, shuffle=True, generator=gen, collate_fn=task.collate_fn, drop_last=True
    )


def ours(task: str, seed: int) -> tuple[float, dict[str, Any]]:
    cfg, t = fresh(task, seed)
    cfg = replace_paths(cfg, {"optimizer.lr": "find"})
    result = lr_find(cfg, t, "cpu")
    assert result.peak_lr is not None, result.reason
    return result.peak_lr, result.to_json(with_curve=False)


class Logits(torch.nn.Module):
    """The task's model as the anchors call it, ``model(x) -> logits``: the text model takes a dict of
    tensors as keyword arguments and returns an object holding ``.logits``; the engine unpacks both."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Any) -> torch.Tensor:
        return forward_logits(self.net, x)


def torch_lr_finder(task: str, seed: int) -> tuple[float, dict[str, Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    cfg, t = fresh(task, seed)
    start = replace_paths(cfg, {"optimizer.lr": 1e-7}).optimizer  # torch-lr-finder's start_lr
    opt = build_optimizer(start, param_groups(t.model, start))
    finder = LRFinder(Logits(t.model), opt, build_loss(cfg.loss, t.class_counts), device="cpu")
    started = time.perf_counter()
    finder.range_test(loader(cfg, t), start_lr=1e-7, end_lr=10, num_iter=100)
    fig, ax = plt.subplots()
    _, lr = finder.plot(suggest_lr=True, ax=ax)  # steepest gradient, skip_start=10, skip_end=5 (its defaults)
    plt.close(fig)
    return float(lr), {"elapsed_s": time.perf_counter() - started}


def lightning_module(cfg: Config, t: Any) -> Any:
    """The task's model, loss and AdamW (with trainwell's parameter groups) as a LightningModule whose LR is ``self.lr``."""
    import lightning as L

    loss_fn = build_loss(cfg.loss, t.class_counts)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.lr = t.model, 1e-7

        def training_step(self, batch: Any, idx: int) -> torch.Tensor:
            x, y = batch
            return loss_fn(forward_logits(self.net, x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            at = replace_paths(cfg, {"optimizer.lr": self.lr}).optimizer  # the LR Lightning's tuner set
            return build_optimizer(at, param_groups(self.net, at))

    return Module()


def tuner_suggestion(module: Any, batches: Any, root: str) -> float | None:
    """Lightning's own ``Tuner.lr_find`` over 1e-7..10 in 100 steps (trainwell's range), clipping at 1.0 like the runs."""
    import lightning as L
    from lightning.pytorch.tuner import Tuner

    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=100,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        default_root_dir=root,
    )
    found = Tuner(trainer).lr_find(module, train_dataloaders=batches, min_lr=1e-7, max_lr=10, num_training=100)
    lr = found.suggestion() if found is not None else None
    return None if lr is None else float(lr)


def lightning_lr_find(task: str, seed: int) -> tuple[float, dict[str, Any]]:
    cfg, t = fresh(task, seed)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        lr = tuner_suggestion(lightning_module(cfg, t), loader(cfg, t), tmp)
    assert lr is not None, "Lightning gave no suggestion"
    return lr, {"elapsed_s": time.perf_counter() - started}


FINDERS = {"trainwell": ours, "torch-lr-finder": torch_lr_finder, "lightning": lightning_lr_find}


def sweep(task: str, out: Path) -> dict[str, Any]:
    grid, seeds = PROTOCOL[task]["grid"], PROTOCOL[task]["seeds"]
    acc = {lr: [train_accuracy(task, seed, lr, out) for seed in seeds] for lr in grid}
    mean = {lr: statistics.mean(a for a, _, _ in runs) for lr, runs in acc.items()}
    best = max(mean, key=lambda lr: mean[lr])
    # The near-best band: grid LRs the seeds cannot tell from the best (mean within 2 standard errors of it).
    margin = 2 * statistics.stdev(a for a, _, _ in acc[best]) / math.sqrt(len(seeds))
    band = [lr for lr in grid if mean[lr] >= mean[best] - margin]
    epoch_s = statistics.mean(e for runs in acc.values() for _, e, _ in runs)
    return {
        "grid": {f"{lr:.3g}": mean[lr] for lr in grid},
        "seeds": list(seeds),
        "best_lr": best,
        "best_acc": mean[best],
        "band": [min(band), max(band)],
        "fitted_best_lr": fitted_best(mean, best),
        "epoch_s": epoch_s,
        "steps_per_epoch": acc[best][0][2],
    }


# What a sweep contributes to a task's entry (kept by --reuse-sweep).
SWEEP_KEYS = ("grid", "seeds", "best_lr", "best_acc", "band", "fitted_best_lr", "epoch_s", "steps_per_epoch")


def reused_sweep(task: str, old: dict[str, Any], out: Path) -> dict[str, Any]:
    """A task's earlier sweep, with where it came from and its best LR re-trained on every seed at this revision."""
    base = {k: old[k] for k in SWEEP_KEYS}
    base["sweep_revision"] = old.get("sweep_revision", old.get("git_revision"))
    base["sweep_command"] = old.get("sweep_command", old.get("command"))
    base["best_acc_rerun"] = statistics.mean(train_accuracy(task, seed, base["best_lr"], out)[0] for seed in base["seeds"])
    return base


def fitted_best(mean: dict[float, float], best: float) -> float:
    """Vertex of a parabola through the best grid point and its neighbours, in log10(LR); the grid point at an edge."""
    lrs = sorted(mean)
    i = lrs.index(best)
    if i in (0, len(lrs) - 1):
        return best
    xs = [math.log10(lrs[k]) for k in (i - 1, i, i + 1)]
    ys = [mean[lrs[k]] for k in (i - 1, i, i + 1)]
    h = xs[1] - xs[0]
    curvature = ys[0] - 2 * ys[1] + ys[2]
    if curvature >= 0:
        return best
    return 10 ** (xs[1] + h * (ys[0] - ys[2]) / (2 * curvature))


def suggestions(task: str, base: dict[str, Any], out: Path) -> dict[str, Any]:
    rows = {}
    for name, finder in FINDERS.items():
        picks, accs, extra = [], [], []
        for seed in base["seeds"]:
            lr, info = finder(task, seed)
            picks.append(lr)
            accs.append(train_accuracy(task, seed, lr, out)[0])
            extra.append(info)
        geo = math.exp(sum(math.log(p) for p in picks) / len(picks))
        rows[name] = {
            "lrs": picks,
            "lr": geo,
            "ratio": geo / base["best_lr"],
            "ratio_fitted": geo / base["fitted_best_lr"],
            "within_2x": sum(0.5 <= p / base["best_lr"] <= 2 for p in picks),
            "in_band": sum(base["band"][0] <= p <= base["band"][1] for p in picks),
            "acc": statistics.mean(accs),
            "regret": base["best_acc"] - statistics.mean(accs),
            "finder_s": [i.get("elapsed_s") for i in extra],
            "details": extra if name == "trainwell" else None,
        }
    return rows


def table(results: dict[str, Any]) -> str:
    lines = [
        "| task | sweep-best LR (fitted) | near-best band | best acc | finder | suggested LR: geo. mean (range) | "
        "ratio to best | picks within 2x | picks in band | acc | regret |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, r in results.items():
        band = f"{r['band'][0]:.2g}-{r['band'][1]:.2g}"
        for name, row in r["finders"].items():
            n = len(row["lrs"])
            lines.append(
                f"| {task} | {r['best_lr']:.2g} ({r['fitted_best_lr']:.2g}) | {band} | {r['best_acc']:.4f} | {name} | "
                f"{row['lr']:.2g} ({min(row['lrs']):.2g}-{max(row['lrs']):.2g}) | {row['ratio']:.2f}x | "
                f"{row['within_2x']}/{n} | {row['in_band']}/{n} | {row['acc']:.4f} | {row['regret']:+.4f} |"
            )
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The results file's table and one line per task (lr_find.md)."""
    lines = [table(results), ""]
    for task, r in results.items():
        steps = f"{min(r['finder_steps'])}-{max(r['finder_steps'])}"
        sweep = (
            f" (sweep from {r['sweep_revision'][:10]}, best LR re-trained here: {r['best_acc_rerun']:.4f})" if "best_acc_rerun" in r else ""
        )
        lines.append(
            f"- {task}: {len(r['grid'])} LRs x {len(r['seeds'])} seeds{sweep}; the finder ran {steps} steps in "
            f"{r['finder_vs_epoch']:.2f} epochs' time (an epoch: {r['steps_per_epoch']} steps, {r['epoch_s']:.2f} s with "
            f"its evaluation); {r['note']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "lr_find.json"))
    parser.add_argument("--cache", help="JSON file of finished training runs to reuse (and extend): re-runs skip the sweep")
    parser.add_argument("--reuse-sweep", action="store_true", help="keep each task's sweep from --out and re-run only the finders")
    args = parser.parse_args()
    if args.cache and Path(args.cache).is_file():
        CACHE.update(json.loads(Path(args.cache).read_text()))
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    # Tasks run one at a time (or in separate processes): each run adds its tasks to what --out already holds.
    results: dict[str, Any] = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            ours(task, 0)  # warm-up (imports, first-call kernels), so the finder's time is compared with warmed-up training
            started = time.perf_counter()
            base = reused_sweep(task, results[task], Path(tmp)) if args.reuse_sweep and task in results else sweep(task, Path(tmp))
            base["finders"] = suggestions(task, base, Path(tmp))
            ours_s = statistics.mean(base["finders"]["trainwell"]["finder_s"])
            base["finder_vs_epoch"] = ours_s / base["epoch_s"]
            base["finder_steps"] = [d["steps_run"] for d in base["finders"]["trainwell"]["details"]]
            base["note"] = NOTES.get(task, "")
            base["bench_s"] = time.perf_counter() - started
            # per task: tasks are re-run one at a time, so each records the revision and command it was measured with
            base["git_revision"] = git_revision(Path(__file__).resolve().parent)
            base["command"] = "python " + " ".join(sys.argv)
            results[task] = base
            print(f"{task}: done in {base['bench_s']:.0f}s", flush=True)
            Path(args.out).write_text(json.dumps(results, indent=2, default=float))  # after each task: partial results survive
            if args.cache:
                Path(args.cache).write_text(json.dumps(CACHE))
    text = markdown(results)
    print(text)
    Path(args.out).with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
