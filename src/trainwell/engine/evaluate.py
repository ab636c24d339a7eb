"""Evaluation over the whole validation set: val_loss plus the task's metrics, each prefixed val_."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from trainwell.engine.batches import forward_logits, move_to_device
from trainwell.engine.distributed import World, gather
from trainwell.engine.precision import PrecisionStrategy
from trainwell.engine.step import items_in

MetricsFn = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loader: Any,
    loss_fn: Callable[..., torch.Tensor],
    precision: PrecisionStrategy,
    device: torch.device,
    metrics_fn: MetricsFn | None,
    count_items: Callable[[Any], int] | None = None,
    extra_metrics: Callable[[torch.nn.Module, dict[str, float]], dict[str, float]] | None = None,
    world: World | None = None,
    rounds: int | None = None,
) -> dict[str, float]:
    """Per-item mean loss over the set (items: rows, or the task's ``count_items``, e.g. tokens), the task's
    metrics on all logits at once, then its ``extra_metrics`` from the model and those values. Restores train mode.

    Under torchrun (``world``) each rank evaluates its contiguous shard of the set; the loss sums, item
    counts, logits and targets are gathered in rank order, so the metrics are computed on exactly the
    items one process would see, each once (no padding), and every rank gets the same numbers.
    ``rounds``: the forward passes every rank makes (FSDP: each is a collective); a rank with fewer
    batches repeats its last one that many more times, its outputs discarded."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    items = 0
    logits_all, targets_all = [], []
    done, inputs = 0, None
    try:
        for inputs, target in loader:
            done += 1
            inputs, target = move_to_device(inputs, device), move_to_device(target, device)
            with precision.autocast():
                logits = forward_logits(model, inputs)
                loss = loss_fn(logits, target)
            n = items_in(target) if count_items is None else count_items(target)
            loss_sum += loss.double() * n
            items += n
            if metrics_fn is not None:
                logits_all.append(logits.float())
                targets_all.append(target)
        for _ in range(done, rounds or 0):
            with precision.autocast():
                forward_logits(model, inputs)  # a shard is never empty under FSDP (setup.check_task)
        total = float(loss_sum.item())
        if world is not None and world.size > 1:
            mine = (
                total,
                items,
                torch.cat(logits_all).cpu() if logits_all else None,
                torch.cat(targets_all).cpu() if targets_all else None,
            )
            parts = gather(mine)
            total, items = sum(p[0] for p in parts), sum(p[1] for p in parts)
            logits_all = [p[2] for p in parts if p[2] is not None]
            targets_all = [p[3] for p in parts if p[3] is not None]
        metrics = {"val_loss": total / max(1, items)}
        if metrics_fn is not None and logits_all:
            for key, value in metrics_fn(torch.cat(logits_all), torch.cat(targets_all)).items():
                metrics[f"val_{key}"] = float(value)
        if extra_metrics is not None:
            for key, value in extra_metrics(model, metrics).items():
                metrics[f"val_{key}"] = float(value)
    finally:
        model.train(was_training)
    return metrics
