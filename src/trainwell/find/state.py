"""Snapshot and restore everything a finder disturbs: weights and buffers, optimizer state, gradients,
``requires_grad`` flags, train/eval mode and every RNG.

Copies go to CPU memory: on a GPU a same-device copy would double the parameters' footprint, which
both wastes memory and would make the batch finder's out-of-memory search wrong. ``load_state_dict``
copies values back into the same parameter tensors, so an optimizer built over them stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def to_cpu(obj: Any) -> Any:
    """A deep copy of ``obj`` with every tensor cloned to CPU (dicts, lists and tuples recursed)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


@dataclass
class Snapshot:
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None
    grads: list[Any]
    requires_grad: list[bool]
    training: bool
    rng: dict[str, Any]


def snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> Snapshot:
    from trainwell.engine.probe import capture_rng

    params = list(model.parameters())
    return Snapshot(
        model_state=to_cpu(model.state_dict()),
        optimizer_state=to_cpu(optimizer.state_dict()) if optimizer is not None else None,
        grads=[None if p.grad is None else to_cpu(p.grad) for p in params],
        requires_grad=[p.requires_grad for p in params],
        training=model.training,
        rng=capture_rng(),
    )


def restore(snap: Snapshot, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Put the model (and optimizer) back exactly as ``snapshot`` found them."""
    import torch

    from trainwell.engine.probe import restore_rng

    model.load_state_dict(snap.model_state)
    if optimizer is not None and snap.optimizer_state is not None:
        # load_state_dict replaces the whole state, so moment buffers the sweep created disappear too.
        optimizer.load_state_dict(snap.optimizer_state)
    with torch.no_grad():
        for p, grad, flag in zip(model.parameters(), snap.grads, snap.requires_grad):
            p.requires_grad_(flag)
            p.grad = None if grad is None else grad.to(p.device)
    model.train(snap.training)
    restore_rng(snap.rng)
