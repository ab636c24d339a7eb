"""What the engine-against-a-plain-loop benchmarks (overhead.py, cuda_check.py, lr_find.py) share.

``quiet`` is the config section that turns off what a plain loop does not do either (checkpoints, early
stopping, the report, the live doctor, TensorBoard, progress bars), so timings compare like with like.
``decay_groups`` and ``cosine_scheduler`` are the plain loop's hand-written parameter groups and schedule.

The scripts import it as ``from _common import ...``: ``python benchmarks/x.py`` puts this folder first on
``sys.path``.
"""

from __future__ import annotations

from typing import Any

import torch

from trainwell.optim.schedules import cosine


def quiet(log_every: int) -> dict[str, Any]:
    """Config sections for a bare training run: no checkpoints, early stopping, report, doctor, TensorBoard or bar."""
    return {
        "report": False,
        "doctor": {"live": False},
        "early_stopping": {"patience": None},
        "checkpoint": {"strategy": "no", "load_best_at_end": False},
        "logging": {"every": log_every, "tensorboard": "off", "progress": "off"},
    }


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weight matrices only, none on biases (trainwell's default split, written by hand)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def cosine_scheduler(opt: torch.optim.Optimizer, total: int, warmup: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Cosine decay with ``warmup`` (a share of ``total``) linear warmup, stepped once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine(s, total, round(warmup * total)))
