"""The LR range test (Smith 2015, "Cyclical Learning Rates"; 001 §Learning Rate): train for ~100 steps
while the LR grows from ``lr_find.min_lr`` to ``max_lr``, record the loss, stop when it blows up, and
put the model, optimizer and RNGs back exactly as they were.

It runs the real thing: the config's model, data order (seeded), loss, optimizer with its parameter
groups, precision strategy and gradient clipping, through the engine's own ``StepRunner``; only the
LR is swept. Each sweep step is one micro-batch, so the test costs ``lr_find.steps`` forward/backward
passes plus one restore; ``result.with_peak`` moves the answer to the configured effective batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from trainwell.find.curve import DebiasedEMA, diverged, rule_beta, sweep_lrs
from trainwell.find.result import LRFindResult, analyze, with_peak
from trainwell.find.rules import RULES
from trainwell.find.state import restore, snapshot
from trainwell.runtime import run_globals

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

    from trainwell.config.schema import Config
    from trainwell.tasks.base import Task

Progress = Callable[[int, int, float, float], None]  # (step, total, lr, loss)


def _batches(data: Dataset[Any], batch_size: int, seed: int, collate_fn: Any, workers: int) -> Iterator[Any]:
    """Seeded batches, epoch after epoch: the same data order the seed gives training."""
    from torch.utils.data import DataLoader

    from trainwell.engine.probe import EpochBatchSampler

    sampler = EpochBatchSampler(len(data), batch_size, seed)  # type: ignore[arg-type]
    loader = DataLoader(data, batch_sampler=sampler, collate_fn=collate_fn, num_workers=workers)
    epoch = 0
    while True:
        sampler.set_position(epoch)
        yield from loader
        epoch += 1


def _lr_scales(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each group's LR relative to the base, so discriminative LRs keep their ratios during the sweep."""
    groups = optimizer.param_groups
    if all("lr_scale" in g for g in groups):
        return [float(g["lr_scale"]) for g in groups]
    top = max(float(g["lr"]) for g in groups) or 1.0
    return [float(g["lr"]) / top for g in groups]


def _sweep(
    runner: Any, batches: Iterator[Any], lrs: list[float], cfg: Any, progress: Progress | None
) -> tuple[list[float], list[float], str | None]:
    """Step through ``lrs``; returns (losses, smoothed, stop reason or None)."""
    scales = _lr_scales(runner.optimizer)
    # The stop test reads the EMA capped at the sweep's resolution, like the rules: at fastai's 0.98 the
    # causal average lags ~50 steps and the test fired ~10 steps after the loss had blown up, steps that
    # cost time and tell the rules nothing (measured on digits, adult, Fashion-MNIST and SST-2).
    smoother, best = DebiasedEMA(rule_beta(cfg.smoothing, cfg.steps)), math.inf
    losses: list[float] = []
    smoothed: list[float] = []
    for i, lr in enumerate(lrs):
        for group, scale in zip(runner.optimizer.param_groups, scales):
            group["lr"] = lr * scale
        outcome = runner.run([next(batches)])
        losses.append(outcome.loss)
        if outcome.status == "nonfinite":
            smoothed.append(math.nan)
            return losses, smoothed, f"non-finite loss or gradient at LR {lr:.3g} (step {i + 1})"
        smoothed.append(smoother.update(outcome.loss))
        if progress is not None:
            progress(i + 1, len(lrs), lr, smoothed[-1])
        if i > 0 and diverged(smoothed[-1], best, cfg.diverge_factor):
            return (
                losses,
                smoothed,
                f"smoothed loss {smoothed[-1]:.4g} > {cfg.diverge_factor:g} x best {best:.4g} at LR {lr:.3g} (step {i + 1})",
            )
        best = min(best, smoothed[-1])
    return losses, smoothed, None


def _settings(config: Config, precision: str, dev: torch.device) -> dict[str, Any]:
    cfg = config.lr_find
    return {
        "min_lr": cfg.min_lr,
        "max_lr": cfg.max_lr,
        "steps": cfg.steps,
        "mode": cfg.mode,
        "smoothing": cfg.smoothing,
        "diverge_factor": cfg.diverge_factor,
        "batch_size": config.batch.size,
        "optimizer": config.optimizer.name,
        "precision": precision,
        "device": str(dev),
    }


def range_test(
    config: Config,
    model: torch.nn.Module,
    train_data: Dataset[Any],
    loss_fn: Callable[..., Any],
    *,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str | None = None,
    collate_fn: Any = None,
    progress: Progress | None = None,
    mode: str = "scratch",
    count_items: Callable[[Any], int] | None = None,
) -> LRFindResult:
    """Run the sweep on ``model`` and restore it (and ``optimizer``, when given) bit for bit afterwards.

    Without ``optimizer`` one is built from the config (parameter groups included) and thrown away.
    ``mode`` is the training mode (scratch, finetune, frozen: ``TaskFacts.mode``); fine-tuning pretrained
    weights gets a more cautious peak LR (``result.with_peak``). ``count_items`` is the task's weight of a
    micro-batch (``Task.count_items``: supervised tokens for a language model), so the sweep's step is training's.
    """
    import torch

    from trainwell.config.resolved import replace_paths
    from trainwell.engine.probe import finder_runner, resolve_device

    cfg = config.lr_find
    at_start = replace_paths(config, {"optimizer.lr": cfg.min_lr})  # the optimizer is built at the sweep's first LR
    dev = torch.device(device) if device is not None else resolve_device(config.training.device)
    model.to(dev)
    chosen: dict[str, Any] = {}

    def make_runner() -> Any:
        runner, chosen["precision"] = finder_runner(at_start, model, loss_fn, dev, optimizer, count_items)
        return runner

    batches = _batches(train_data, config.batch.size, config.seed, collate_fn, config.data.num_workers)
    result = sweep_step(config, model, make_runner, batches, optimizer=optimizer, progress=progress)
    result.settings = _settings(config, chosen["precision"].name, dev)
    return with_peak(result, config, len(train_data), mode)  # type: ignore[arg-type]


def sweep_step(
    config: Config,
    model: torch.nn.Module,
    make_runner: Callable[[], Any],
    batches: Iterator[Any],
    *,
    optimizer: torch.optim.Optimizer | None = None,
    progress: Progress | None = None,
) -> LRFindResult:
    """The range test over any training step, for loops trainwell does not drive (HF Trainer, Lightning).

    ``make_runner()`` is called after the snapshot and returns an object with ``optimizer`` (the one the
    sweep sets the LR of) and ``run([batch]) -> StepOutcome`` (one optimizer step on one batch; only its
    ``status`` and ``loss`` are read). ``model`` and ``optimizer`` (when given) are restored bit for bit;
    ``peak_lr`` and ``settings`` are left to the caller (``with_peak``).
    """
    cfg = config.lr_find
    RULES.get(cfg.rule, "lr_find.rule")  # a misspelt rule fails before the sweep, not after it
    started = time.perf_counter()
    saved = snapshot(model, optimizer)
    lrs = sweep_lrs(cfg.min_lr, cfg.max_lr, cfg.steps, cfg.mode)
    try:
        runner = make_runner()
        model.train()
        losses, smoothed, stop = _sweep(runner, batches, lrs, cfg, progress)
    finally:
        restore(saved, model, optimizer)
    result = analyze(
        lrs[: len(losses)],
        losses,
        smoothed,
        beta=cfg.smoothing,
        rule=cfg.rule,
        stop_reason=stop,
        planned_steps=cfg.steps,
        min_lr=cfg.min_lr,
        max_lr=cfg.max_lr,
    )
    result.elapsed_s = time.perf_counter() - started
    return result


def lr_find(
    config: Config, task: Task | None = None, device: torch.device | str | None = None, progress: Progress | None = None
) -> LRFindResult:
    """The range test for a config: builds the task (unless given) and its loss, then ``range_test``.

    Runs with the config's ``training.threads``, as training does (the sweep is the same work); threads
    and RNGs are restored when it returns. Building the task here seeds it the way ``train`` does
    (``config.seed`` before the model is made, the sweep's dropout drawn from the same stream), so
    ``trainwell lr-find`` gives the same suggestion every time and the same one ``optimizer.lr: find``
    trains with. A task passed in is used as it is: its model was initialised by whoever built it.
    """
    import torch

    from trainwell.engine.probe import resolve_device, seed_everything, task_loss
    from trainwell.tasks.catalog import build_task

    with run_globals(config.training.threads):
        if task is None:
            seed_everything(config.seed)
            task = build_task(config)
        dev = device if device is not None else resolve_device(config.training.device)
        loss_fn = task_loss(config, task, torch.device(dev))
        return range_test(
            config,
            task.model,
            task.train_data,
            loss_fn,
            device=dev,
            collate_fn=task.collate_fn,
            progress=progress,
            mode=task.facts.mode,
            count_items=task.count_items,
        )


def find_lr_for_training(config: Config, task: Task, device: torch.device | str) -> tuple[float, dict[str, Any]]:
    """Engine hook for ``optimizer.lr: find``: the LR to train with and a JSON-able record of why.

    The model comes back untouched. A curve with no descent at all is a TrainingError, not a guess.
    """
    from trainwell.errors import TrainingError

    result = lr_find(config, task, device)
    record = result.to_json()
    fallback = config.lr_find.fallback
    if fallback is not None and (result.peak_lr is None or not result.reliable):
        # An unreliable curve is a guess; the config named a better-founded one (the LR law's value).
        record["used_lr"] = fallback
        why = "; ".join(result.reasons) or result.reason
        record["used_reason"] = f"optimizer.lr: find -> the curve is not reliable ({why}): lr_find.fallback {fallback:.3g}"
        return fallback, record
    if result.peak_lr is None:
        raise TrainingError(
            f"the LR range test found no LR to train with ({result.reason}; "
            f"{'; '.join(result.reasons) or 'no reasons'}). Fix: set optimizer.lr to a number, "
            "e.g. 1e-3 for adamw from scratch (001 §Learning Rate)"
        )
    record["used_lr"] = result.peak_lr
    record["used_reason"] = f"optimizer.lr: find -> {result.peak_lr:.3g} ({result.reason}; peak: {result.peak_reason})"
    return result.peak_lr, record
