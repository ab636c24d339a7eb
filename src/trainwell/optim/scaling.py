"""The LR scaling rule for a change of effective batch size, returned as a decision with its reason.

SGD follows the linear rule (Goyal et al. 2017, "Accurate, Large Minibatch SGD"; 001 §Batch Size:
"multiply batch by k, multiply LR by k", breaking down above ~4k-8k). Adam-family optimizers follow the
square-root rule (Krizhevsky 2014; Malladi et al. 2022, "On the SDEs and Scaling Rules for Adaptive
Gradient Algorithms"), because their update size is already normalised by the gradient's scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trainwell.optim.optimizers import OPTIMIZERS

_LINEAR_FAMILIES = frozenset({"sgd", "rmsprop"})


@dataclass(frozen=True)
class ScaledLR:
    lr: float
    rule: str  # "linear" | "sqrt" | "none"
    factor: float
    reason: str
    source: str


def scale_lr(lr: float, reference_batch: int, new_batch: int, optimizer: str) -> ScaledLR:
    """Rescale ``lr`` tuned at ``reference_batch`` for ``new_batch`` (both effective batch sizes)."""
    family = OPTIMIZERS.get(optimizer, "optimizer.name").family
    ratio = new_batch / reference_batch
    if ratio == 1:
        return ScaledLR(lr, "none", 1.0, "the effective batch is unchanged", "—")
    if family in _LINEAR_FAMILIES:
        factor, rule = ratio, "linear"
        source = "001 §Batch Size (linear scaling rule); Goyal et al. 2017"
    else:
        factor, rule = math.sqrt(ratio), "sqrt"
        source = "Malladi et al. 2022 (square-root rule for Adam-family); 004 §Batch Size caps the linear rule for Adam"
    why = f"effective batch {reference_batch} -> {new_batch} ({ratio:g}x); {rule} rule for {family}: LR x {factor:.4g}"
    if new_batch > 8192:
        why += "; above ~8k the rule breaks down: add warmup or use LAMB (001 §Batch Size)"
    return ScaledLR(lr * factor, rule, factor, why, source)
