"""The batch finder's search: grow bottom-up in powers of two until a probe fails, binary-search between
the last fit and the first failure, then keep a safety margin (guide 000 §4.1.1).

The search takes the probe as a function, so it can be tested with a fake oracle; ``batch_probe`` is the
real one (a training step at that size) and ``batch_finder`` turns the result into a config.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import Config

MARGIN = 0.9  # keep 10 % headroom: fragmentation, evaluation batches, temporaries the CPU estimate leaves out
MAX_BATCH = 65536
ALIGN = 8  # round a chosen size >= 16 down to a multiple of 8 (tensor-core friendly shapes)


@dataclass(frozen=True)
class Probe:
    size: int
    fits: bool
    peak_mb: float | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "fits": self.fits, "peak_mb": self.peak_mb, "detail": self.detail}


@dataclass
class Search:
    max_fit: int
    chosen: int
    probes: list[Probe] = field(default_factory=list)
    reason: str = ""


def _with_margin(max_fit: int, margin: float) -> int:
    size = max(1, math.floor(max_fit * margin))
    return size - size % ALIGN if size >= 2 * ALIGN else size


def search(fits: Callable[[int], Probe], cap: int, margin: float = MARGIN) -> Search:
    """Powers of two up to ``cap``, binary search to within 1/16 of the last fit, then ``margin``."""
    probes: list[Probe] = []
    lo, hi, size = 0, None, 1
    while size <= cap:
        probes.append(fits(size))
        if not probes[-1].fits:
            hi = size
            break
        lo = size
        if size == cap:
            break
        size = min(2 * size, cap)
    if lo == 0:
        return Search(0, 0, probes, "even a batch of 1 does not fit")
    if hi is None:
        return Search(
            lo,
            lo,
            probes,
            f"every size up to {lo} fits (the cap: the effective batch with keep_effective, the training set, or {MAX_BATCH}); memory is not the limit",
        )
    while hi - lo > max(1, lo // 16):
        mid = (lo + hi) // 2
        probes.append(fits(mid))
        lo, hi = (mid, hi) if probes[-1].fits else (lo, mid)
    chosen = _with_margin(lo, margin)
    return Search(lo, chosen, probes, f"largest fit {lo}, first failure {hi}; {chosen} keeps a {1 - margin:.0%} margin")


def check_budget(config: Config, device: torch.device) -> None:
    if device.type != "cuda" and config.batch.memory_budget_mb is None:
        raise ConfigError(
            problems=[
                Problem(
                    "batch.memory_budget_mb",
                    f"the batch finder on {device.type} needs a memory budget",
                    None,
                    "set batch.memory_budget_mb, e.g. 2048 (on CUDA the limit is the real OOM)",
                )
            ]
        )
