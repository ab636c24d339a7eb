"""The loop's counters and what callbacks see, plus the running averages between log records."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from trainwell.config.schema import Config

# Counters saved in every checkpoint; restoring them puts the loop exactly where it was.
COUNTERS = ("step", "epoch_index", "batch_index", "samples", "nan_skips", "nan_skips_in_row", "overflow_skips", "last_eval_step", "elapsed")


@dataclass
class LoopState:
    """Where training stands. ``step`` counts training steps (accumulation windows), 1-based after the
    first; ``epoch_index``/``batch_index`` are the data position: the epoch being read and how many of
    its batches were consumed. ``history`` holds every record written to metrics.jsonl."""

    config: Config
    run_dir: Path
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    total_steps: int
    steps_per_epoch: int
    step: int = 0
    epoch_index: int = 0
    batch_index: int = 0
    samples: int = 0
    nan_skips: int = 0
    nan_skips_in_row: int = 0
    overflow_skips: int = 0
    last_eval_step: int | None = None
    elapsed: float = 0.0  # wall seconds of training before this process (earlier segments of a resumed run)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    def counters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COUNTERS}

    def load_counters(self, data: dict[str, Any]) -> None:
        for name in COUNTERS:
            setattr(self, name, data[name])


@dataclass
class LogWindow:
    """Sums since the last train record; saved in checkpoints so a resumed run logs the same means."""

    loss: float = 0.0
    grad_norm: float = 0.0
    steps: int = 0

    def add(self, loss: float, grad_norm: float) -> None:
        self.loss += loss
        self.grad_norm += grad_norm
        self.steps += 1

    def state_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def load_state_dict(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            setattr(self, key, value)

    def reset(self) -> None:
        self.loss, self.grad_norm, self.steps = 0.0, 0.0, 0
