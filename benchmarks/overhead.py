"""Engine overhead: the same training run by a plain PyTorch loop, trainwell, HF Trainer and Lightning.

Every runner trains the same MLP (64-128-10, dropout 0.1) on the same digits split (1438 train / 359
val, standardised) from the same initial weights, with AdamW (lr 1e-3, weight decay 0.01, none on
biases), cosine decay with 10 % linear warmup stepped per optimizer step, gradient clipping at 1.0,
batch 32, 20 epochs (900 steps), a train-loss log every 10 steps and a validation pass every 45 steps
(one epoch) that computes val_loss, accuracy and macro-F1 (trainwell.tasks.base.classification_metrics)
on the whole set. Nobody checkpoints: trainwell runs with checkpoint.strategy: no, HF with
save_strategy "no", Lightning with enable_checkpointing=False. trainwell still writes its run folder
(config, environment, metrics, summary); that fixed cost (a few ms) is inside its time.

Repetitions alternate between runners (a rotating order), at one CPU thread; each time covers the
whole call, from "model and data in hand" to "trained". Ratios use the process's CPU time (the fairer
clock on a shared machine): the median over repetitions of each run's ratio to the plain run beside
it, and the ratio of the minimum times. Median wall times are reported next to them.

Whole runs on a shared machine drift by +-30 %, more than the effect measured, so a second
measurement interleaves single steps: a plain step and a trainwell step (its StepRunner, per-step
bookkeeping and schedule) alternate on the same batches, and the median paired difference is the
engine's per-step overhead.

    python benchmarks/overhead.py [--epochs 20] [--reps 11] [--only trainwell,Lightning] [--out benchmarks/results/overhead.json]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from _common import cosine_scheduler, decay_groups, quiet
from trainwell.config import load_config
from trainwell.config.resolved import ResolvedConfig
from trainwell.engine.run_folder import git_revision
from trainwell.tasks.base import classification_metrics

BATCH, LR, WD, WARMUP, CLIP, LOG_EVERY, EVAL_EVERY, SEED = 32, 1e-3, 0.01, 0.1, 1.0, 10, 45, 0
RESULTS = Path(__file__).resolve().parent / "results"


def digits() -> tuple[Any, Any]:
    """The digits task's own split and preprocessing (trainwell.tasks.digits)."""
    from trainwell.tasks.catalog import build_task

    task = build_task(load_config({"task": "digits", "seed": 42}))
    return task.train_data, task.val_data


def make_model(hidden: int = 128) -> torch.nn.Module:
    torch.manual_seed(SEED)
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(hidden, 10))


def total_steps(n: int, epochs: int) -> int:
    return math.ceil(n / BATCH) * epochs


def validate(model: torch.nn.Module, loader: Any) -> dict[str, float]:
    """val_loss and the task metrics (accuracy, macro-F1) over the whole validation set, as every runner reports."""
    model.eval()
    with torch.no_grad():
        logits, targets = zip(*[(model(x), y) for x, y in loader])
    model.train()
    all_logits, all_targets = torch.cat(logits), torch.cat(targets)
    return {
        "val_loss": float(torch.nn.functional.cross_entropy(all_logits, all_targets)),
        **classification_metrics(all_logits, all_targets),
    }


def plain(train: Any, val: Any, epochs: int, work: str) -> int:
    """The loop a careful person writes by hand. Every runner returns its optimizer step count."""
    model = make_model()
    opt = torch.optim.AdamW(decay_groups(model, WD), lr=LR)
    sched = cosine_scheduler(opt, total_steps(len(train), epochs), WARMUP)
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))
    val_loader = torch.utils.data.DataLoader(val, batch_size=2 * BATCH)
    loss_fn = torch.nn.CrossEntropyLoss()
    step, logged = 0, []
    for _ in range(epochs):
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step % LOG_EVERY == 0:
                logged.append(loss.item())
            if step % EVAL_EVERY == 0:
                logged.append(validate(model, val_loader))
    return step


def trainwell_run(train: Any, val: Any, epochs: int, work: str) -> int:
    from trainwell.run import train as tw_train

    config = {
        **quiet(LOG_EVERY),
        "seed": SEED,
        "optimizer": {"name": "adamw", "lr": LR, "weight_decay": WD},
        "schedule": {"name": "cosine", "warmup": WARMUP},
        "batch": {"size": BATCH},
        "training": {"epochs": epochs, "max_grad_norm": CLIP, "device": "cpu", "precision": "fp32"},
        "evaluation": {"strategy": "steps", "every": EVAL_EVERY, "metric": "val_accuracy", "mode": "max"},
    }
    result = tw_train(config, model=make_model(), train_data=train, val_data=val, run_dir=work)
    return int(result.summary["steps"])


def hf_run(train: Any, val: Any, epochs: int, work: str) -> int:
    from transformers import Trainer, TrainingArguments

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_model()

        def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
            logits = self.net(x)
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
            return out

    class Dicts(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, ds: Any) -> None:
            self.ds = ds

        def __len__(self) -> int:
            return len(self.ds)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            x, y = self.ds[i]
            return {"x": x, "labels": y}

    def metrics(pred: Any) -> dict[str, float]:
        return classification_metrics(torch.from_numpy(pred.predictions), torch.from_numpy(pred.label_ids))

    args = TrainingArguments(
        output_dir=work,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=2 * BATCH,
        learning_rate=LR,
        weight_decay=WD,
        warmup_steps=WARMUP,
        lr_scheduler_type="cosine",
        max_grad_norm=CLIP,
        num_train_epochs=epochs,
        eval_strategy="steps",
        eval_steps=EVAL_EVERY,
        logging_steps=LOG_EVERY,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=SEED,
        log_level="error",
    )
    trainer = Trainer(model=Wrapped(), args=args, train_dataset=Dicts(train), eval_dataset=Dicts(val), compute_metrics=metrics)
    out = trainer.train()
    return int(out.global_step)


def lightning_run(train: Any, val: Any, epochs: int, work: str) -> int:
    import lightning as L

    total = total_steps(len(train), epochs)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_model()

        def training_step(self, batch: Any, idx: int) -> torch.Tensor:
            loss = torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])
            self.log("loss", loss)
            return loss

        def validation_step(self, batch: Any, idx: int) -> None:
            self.seen.append((self.net(batch[0]), batch[1]))

        def on_validation_epoch_start(self) -> None:
            self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def on_validation_epoch_end(self) -> None:
            logits, targets = (torch.cat(t) for t in zip(*self.seen))
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, targets))
            self.log_dict(classification_metrics(logits, targets))

        def configure_optimizers(self) -> Any:
            opt = torch.optim.AdamW(decay_groups(self.net, WD), lr=LR)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": cosine_scheduler(opt, total, WARMUP), "interval": "step"}}

    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        gradient_clip_val=CLIP,
        log_every_n_steps=LOG_EVERY,
        check_val_every_n_epoch=1,
        enable_checkpointing=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))
    trainer.fit(Module(), loader, torch.utils.data.DataLoader(val, batch_size=2 * BATCH))
    return int(trainer.global_step)


RUNNERS: dict[str, tuple[Callable[[Any, Any, int, str], int], str | None]] = {
    "plain PyTorch": (plain, None),
    "trainwell": (trainwell_run, None),
    "HF Trainer": (hf_run, "transformers"),
    "Lightning": (lightning_run, "lightning"),
}


def measure(epochs: int, reps: int, only: list[str] | None = None) -> dict[str, Any]:
    train, val = digits()
    names = [n for n, (_, dep) in RUNNERS.items() if dep is None or importlib.util.find_spec(dep) is not None]
    names = [n for n in names if only is None or n in only or n == "plain PyTorch"]
    for name in names:  # warm-up: imports and first-call costs are not per-run overhead
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            with tempfile.TemporaryDirectory() as work:
                RUNNERS[name][0](train, val, 1, work)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            with (
                tempfile.TemporaryDirectory() as work,  # created and removed outside the timed region
                open(os.devnull, "w") as sink,
                contextlib.redirect_stdout(sink),
                contextlib.redirect_stderr(sink),
            ):
                start, start_cpu = time.perf_counter(), time.process_time()
                steps = RUNNERS[name][0](train, val, epochs, work)
                cpu[name].append(time.process_time() - start_cpu)
                wall[name].append(time.perf_counter() - start)
            assert steps == total_steps(len(train), epochs), f"{name} ran {steps} steps"
    return {"wall": wall, "cpu": cpu, "samples": epochs * len(train)}


StepFn = Callable[[torch.Tensor, torch.Tensor], None]


def engine_step(
    model: torch.nn.Module, train: Any, val: Any, total: int, work: Path, batch: dict[str, int] | None = None
) -> tuple[Any, StepFn]:
    """A trainwell Trainer on this benchmark's recipe (no evaluation, no logging) and one step of it: its StepRunner
    plus the per-step bookkeeping, schedule and signal check. ``batch`` is the config's batch section where the step's batch is
    not the default (ddp_step.py: each rank's share). The caller closes ``trainer.log``."""
    from trainwell.engine.loop import Trainer
    from trainwell.engine.progress import ProgressBar
    from trainwell.tasks.base import Task

    config = load_config(
        {
            **quiet(10**9),
            "seed": SEED,
            "optimizer": {"lr": LR, "weight_decay": WD},
            "schedule": {"name": "cosine", "warmup": WARMUP},
            **({"batch": batch} if batch else {}),
            "training": {"max_steps": total, "max_grad_norm": CLIP, "device": "cpu", "precision": "fp32"},
            "evaluation": {"strategy": "no"},
        }
    )
    trainer = Trainer(ResolvedConfig.given(config), Task("digits", model, train, val), work)
    trainer.progress = ProgressBar(total, 0, "off")

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        # as Trainer._epoch takes a step: its rows over every rank (the sampler's), the step, and whether to stop
        # for a signal (under torchrun an all-reduce every few steps)
        if trainer._after_step(trainer.runner.run([(x, y)], trainer.sampler.rows(0)), epoch_end=False) is None:
            trainer._signalled()

    return trainer, step


def alternate(
    plain_step: StepFn, trainwell_step: StepFn, batches: list[tuple[torch.Tensor, torch.Tensor]], steps: int, clock: Callable[[], int]
) -> tuple[list[int], list[int]]:
    """``clock`` nanoseconds of each plain and each trainwell step, on the same batches, the order flipping every step
    so neither always runs on the other's warm caches."""
    times: dict[StepFn, list[int]] = {plain_step: [], trainwell_step: []}
    for i in range(steps):
        x, y = batches[i % len(batches)]
        for step in (plain_step, trainwell_step) if i % 2 else (trainwell_step, plain_step):
            start = clock()
            step(x, y)
            times[step].append(clock() - start)
    return times[plain_step], times[trainwell_step]


def paired_medians(plain_ns: list[int], tw_ns: list[int]) -> tuple[float, float, float]:
    """Median µs of each after the first fifth (warm-up), and the median of the per-step differences."""
    skip = len(plain_ns) // 5
    plain, tw = plain_ns[skip:], tw_ns[skip:]
    return statistics.median(plain) / 1000, statistics.median(tw) / 1000, statistics.median(t - p for t, p in zip(tw, plain)) / 1000


def plain_step(model: torch.nn.Module, total: int, read: bool) -> StepFn:
    """The plain loop's step for the per-step harness: AdamW, cosine + warmup, clipping; ``read`` also reads the
    loss and gradient norm back as Python numbers (the DDP comparison does, as trainwell's step does)."""
    opt = torch.optim.AdamW(decay_groups(model, WD), lr=LR)
    sched = cosine_scheduler(opt, total, WARMUP)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = loss_fn(model(x), y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if read:
            loss.item(), norm.item()

    return step


def per_step(steps: int) -> dict[str, float]:
    """The loop's own cost, free of run-to-run drift: one plain step and one trainwell step (the engine's
    StepRunner plus its per-step bookkeeping and schedule), interleaved on the same batches, timed each.
    Evaluation and logging are off in both, so this is the cost every step pays."""
    train, val = digits()
    x_all, y_all = train.tensors
    batches = [(x_all[i : i + BATCH], y_all[i : i + BATCH]) for i in range(0, len(x_all) - BATCH + 1, BATCH)]
    total = 10 * steps
    with tempfile.TemporaryDirectory() as work:
        step = plain_step(make_model(), total, read=False)
        trainer, trainwell_step = engine_step(make_model(), train, val, total, Path(work))
        plain_ns, tw_ns = alternate(step, trainwell_step, batches, steps, time.perf_counter_ns)
        trainer.log.close()
    plain_us, tw_us, diff_us = paired_medians(plain_ns, tw_ns)
    return {"plain_step_us": plain_us, "trainwell_step_us": tw_us, "paired_overhead_us": diff_us, "overhead_ratio": 1 + diff_us / plain_us}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per runner: CPU and wall seconds, samples/s (by the median CPU time) and two ratios to the plain loop.

    CPU time is the fairer clock on a shared machine: at one thread it counts the work a runner does,
    not the time other processes held the core. Neighbours still slow a process (shared caches,
    hyperthreads), and that noise drifts over minutes, so the headline ratio pairs each repetition
    with the plain loop's run next to it and takes the median of those ratios; the ratio of the
    minimum times (the least disturbed runs, as timeit reports) is given too.
    """
    plain_cpu = result["cpu"]["plain PyTorch"]
    rows = []
    for name, ts in result["cpu"].items():
        paired = statistics.median(t / p for t, p in zip(ts, plain_cpu))
        rows.append(
            {
                "runner": name,
                "cpu_min_s": min(ts),
                "cpu_median_s": statistics.median(ts),
                "wall_median_s": statistics.median(result["wall"][name]),
                "samples_per_s": result["samples"] / statistics.median(ts),
                "ratio_paired_median": paired,
                "ratio_min": min(ts) / min(plain_cpu),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| runner | CPU s (median) | CPU s (min) | wall s (median) | samples/s | time / plain loop (paired median) | (min / min) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['runner']} | {r['cpu_median_s']:.3f} | {r['cpu_min_s']:.3f} | {r['wall_median_s']:.3f} | {r['samples_per_s']:.0f} | "
        f"{r['ratio_paired_median']:.3f}x | {r['ratio_min']:.3f}x |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--reps", type=int, default=11)
    parser.add_argument("--out", type=Path, default=RESULTS / "overhead.json")
    parser.add_argument("--steps", type=int, default=3000, help="interleaved steps for the per-step measurement")
    parser.add_argument("--only", help="comma-separated runners besides the plain loop, e.g. trainwell")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("CI", "1")
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    result = measure(args.epochs, args.reps, args.only.split(",") if args.only else None)
    rows = table(result)
    print(markdown(rows))
    step = per_step(args.steps)
    print(
        f"\nper step (interleaved, median of {args.steps}): plain {step['plain_step_us']:.1f} µs, trainwell "
        f"{step['trainwell_step_us']:.1f} µs, paired overhead {step['paired_overhead_us']:.1f} µs = {step['overhead_ratio']:.3f}x"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "git_revision": git_revision(Path(__file__).resolve().parent),
                "command": "python " + " ".join(sys.argv),
                "setup": {
                    "epochs": args.epochs,
                    "reps": args.reps,
                    "batch": BATCH,
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "load_avg": os.getloadavg(),
                },
                "cpu_s": result["cpu"],
                "wall_s": result["wall"],
                "table": rows,
                "per_step": step,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
