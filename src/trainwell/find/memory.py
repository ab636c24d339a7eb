"""How much memory one training step needs, measured on a real forward + backward + optimizer step.

On CUDA the allocator knows: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``.
On CPU torch keeps no peak counter, so the step is accounted for tensor by tensor:

    parameters + gradients + optimizer state + the batch + activations saved for backward

Activations are what autograd keeps between forward and backward; a ``saved_tensors_hooks`` pair sees
each of them as it is saved, and storages are counted once (views and re-saved tensors share one),
with parameters' own storages left out because they are already counted. This is the memory alive
at the start of backward, the usual peak of a step. It leaves out short-lived temporaries and the
allocator's slack, which is one reason the batch finder keeps a safety margin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MB = 1024 * 1024


@dataclass(frozen=True)
class MemoryUse:
    params: int
    grads: int
    optimizer_state: int
    batch: int
    activations: int

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer_state + self.batch + self.activations

    def to_json(self) -> dict[str, float]:
        parts = ("params", "grads", "optimizer_state", "batch", "activations")
        return {**{f"{k}_mb": round(getattr(self, k) / MB, 3) for k in parts}, "total_mb": round(self.total / MB, 3)}


def _storage_key(t: torch.Tensor) -> tuple[int, int]:
    storage = t.untyped_storage()
    return storage.data_ptr(), storage.nbytes()


def tensor_bytes(obj: Any) -> int:
    """Bytes held by the distinct tensor storages in a tensor, dict, list or tuple."""
    import torch

    seen: dict[int, int] = {}

    def walk(o: Any) -> None:
        if isinstance(o, torch.Tensor):
            ptr, size = _storage_key(o)
            seen[ptr] = size
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)

    walk(obj)
    return sum(seen.values())


def count_saved(step: Callable[[], None], exclude: set[int]) -> int:
    """Run ``step`` (a forward and its backward) and return the bytes autograd saved for backward."""
    import torch

    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            ptr, size = _storage_key(t)
        except (RuntimeError, NotImplementedError):  # tensors without a plain storage (e.g. sparse)
            return t
        if ptr not in exclude:
            saved[ptr] = size
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(saved.values())


def cpu_step_memory(model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: Callable[[], None], batch: Any) -> MemoryUse:
    """Account for one training step (``step`` runs forward, backward and the optimizer update)."""
    params = [p for p in model.parameters()]
    param_ptrs = {_storage_key(p)[0] for p in params}
    activations = count_saved(step, param_ptrs)
    grads = sum(p.numel() * p.element_size() for p in params if p.requires_grad)
    state = tensor_bytes([dict(s) for s in optimizer.state.values()])
    return MemoryUse(tensor_bytes(params), grads, state, tensor_bytes(batch), activations)
