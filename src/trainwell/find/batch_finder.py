"""The batch-size finder: the largest micro-batch that fits, then a config that keeps what matters.

Search (guide 000 §4.1.1, find/batch_search.py): grow bottom-up in powers of two until a probe fails, binary-search between
the last fit and the first failure, then keep a safety margin. A probe is one real training step
(forward, backward, optimizer update) at that batch size: on CUDA it fails with a real
``torch.cuda.OutOfMemoryError`` (the cache is emptied after every try) or by exceeding
``batch.memory_budget_mb`` when one is set; on CPU it fails when the step's measured memory
(find/memory.py) exceeds the budget, which is then required.

Then (000 §4.1.2): with ``batch.keep_effective`` the effective batch (size x accumulation) stays as
configured and accumulation rises only when it must; otherwise the micro-batch grows to what fits and
the LR follows the scaling rule (optim/scaling.py). HF's ``auto_find_batch_size`` halves the batch
without touching accumulation, shrinking the effective batch silently; this finder says what it
changed and why, and prints the line to paste, because the guide's workflow is to find once and then
hard-code it. Model, optimizer and RNGs are restored afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainwell.runtime import run_globals

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import Config
    from trainwell.tasks.base import Task


@dataclass
class BatchPlan:
    size: int
    accumulation: int
    lr: float | None  # the rescaled LR; None when the LR stays as configured (a number, or 'find')
    reasons: list[str]


def _exact_split(effective: int, limit: int) -> tuple[int, int]:
    """(size, accumulation) with size x accumulation == effective and size <= limit, size as large as possible."""
    for acc in range(math.ceil(effective / limit), effective + 1):
        if effective % acc == 0:
            return effective // acc, acc
    return 1, effective


def plan(config: Config, chosen: int, processes: int = 1) -> BatchPlan:
    """What to train with, given the largest safe micro-batch ``chosen`` of one process. Size and
    accumulation are per process; with ``processes`` > 1 an LR rescale sees the whole job's batch."""
    from trainwell.optim.scaling import scale_lr

    b = config.batch
    effective, lr = b.effective, config.optimizer.lr
    if b.keep_effective:
        size, acc = _exact_split(effective, chosen)
        why = (
            f"effective batch {effective} fits in one step: batch {size}, no accumulation"
            if acc == 1
            else f"largest safe micro-batch {chosen} < effective batch {effective}: batch {size} x accumulation {acc} keeps it (000 §4.1.2)"
        )
        return BatchPlan(size, acc, None, [why, "batch.keep_effective: the LR stays as configured"])
    new_effective = chosen * b.accumulation
    reasons = [f"batch.keep_effective is false: micro-batch {b.size} -> {chosen}, effective {effective} -> {new_effective}"]
    if lr == "find":
        reasons.append("optimizer.lr is 'find': the range test runs at the new batch, so nothing to rescale")
        return BatchPlan(chosen, b.accumulation, None, reasons)
    scaled = scale_lr(float(lr), effective * processes, new_effective * processes, config.optimizer.name)
    reasons.append(f"LR {float(lr):.3g} -> {scaled.lr:.3g}: {scaled.reason} ({scaled.source})")
    return BatchPlan(chosen, b.accumulation, scaled.lr, reasons)


def paste_line(plan_: BatchPlan) -> str:
    """The line to hard-code what was found; the LR only when the finder changed it (a configured LR is
    already in the config, and pasting it would pin a value the recommender should keep choosing)."""
    lr = f" optimizer.lr={plan_.lr:.3g}" if plan_.lr is not None else ""
    return f"batch.size={plan_.size} batch.accumulation={plan_.accumulation} batch.auto_find=false{lr}"


def find_batch_for_training(config: Config, task: Task, device: torch.device) -> tuple[dict[str, Any], dict[str, Any]]:
    """For ``batch.auto_find``: the values to train with (dotted path -> value) and a JSON-able record of why.

    Under torchrun every process holds the whole model and trains its own micro-batch, so the largest
    micro-batch that fits one device is the per-process one: the probe runs in one process (rank 0, on its
    device) and the result is per process, the effective batch being size x accumulation x
    ``distributed.processes`` (1 when unset). DDP keeps gradients in its buckets
    (``gradient_as_bucket_view``), so a rank's memory is the probe's plus DDP's small communication buffers."""
    from trainwell.errors import TrainingError
    from trainwell.find.batch_probe import find_max_batch

    with run_globals(config.training.threads):  # as training runs: the probes are the same work
        found, seconds = find_max_batch(config, task, device)
    if found.chosen == 0:
        raise TrainingError(
            f"the batch finder found no batch size that fits on {device}: {found.probes[0].detail}. "
            "Fix: raise batch.memory_budget_mb, use precision bf16, or a smaller model"
        )
    n = config.distributed.processes or 1
    todo = plan(config, found.chosen, n)
    if n > 1:
        todo.reasons.append(
            f"per process: each of the {n} processes trains batch {todo.size} x accumulation {todo.accumulation}, "
            f"an effective batch of {todo.size * todo.accumulation * n}"
        )
    values: dict[str, Any] = {"batch.size": todo.size, "batch.accumulation": todo.accumulation, "batch.auto_find": False}
    if todo.lr is not None:
        values["optimizer.lr"] = todo.lr
    limit = "CUDA out-of-memory" if device.type == "cuda" else f"memory budget {config.batch.memory_budget_mb:g} MB"
    if device.type == "cuda" and config.batch.memory_budget_mb is not None:
        limit += f" or budget {config.batch.memory_budget_mb:g} MB"
    record = {
        "device": str(device),
        "limit": limit,
        "max_fit": found.max_fit,
        "chosen": found.chosen,
        "size": todo.size,
        "accumulation": todo.accumulation,
        "processes": n,
        "effective_before": config.batch.effective * n,
        "effective_after": todo.size * todo.accumulation * n,
        "lr_before": config.optimizer.lr,
        "lr_after": config.optimizer.lr if todo.lr is None else todo.lr,
        "reasons": [found.reason, *todo.reasons],
        "paste": paste_line(todo),
        "probes": [p.to_json() for p in found.probes],
        "elapsed_s": round(seconds, 3),
    }
    return values, record
