"""Moving batches to the device and calling the model, for every input shape a task may use.

Inputs are a tensor (``model(x)``) or a dict of tensors (``model(**x)``, the Hugging Face way); the
output is logits or an object with ``.logits``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def move_to_device(obj: Any, device: torch.device) -> Any:
    """Recursively move tensors in tensors/dicts/lists/tuples to ``device`` (a no-op when already there)."""
    import torch

    if isinstance(obj, torch.Tensor):
        # non_blocking only helps from pinned memory to CUDA; it is harmless elsewhere.
        return obj.to(device, non_blocking=device.type == "cuda")
    if isinstance(obj, dict):
        return {k: move_to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(move_to_device(v, device) for v in obj)
    return obj


def forward_logits(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
    """Run the model on ``inputs`` and return the logits tensor."""
    import torch

    out = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    if type(out) is torch.Tensor:  # the common case, decided without attribute lookups
        return out
    logits = getattr(out, "logits", None)
    if logits is not None:
        return logits  # type: ignore[no-any-return]
    if isinstance(out, dict) and "logits" in out:
        return out["logits"]  # type: ignore[no-any-return]
    return out  # type: ignore[no-any-return]


def batch_size_of(inputs: Any) -> int:
    """Number of items in a batch of inputs (the first dimension of its first tensor)."""
    import torch

    if isinstance(inputs, torch.Tensor):
        return int(inputs.shape[0])
    if isinstance(inputs, dict):
        return batch_size_of(next(iter(inputs.values())))
    if isinstance(inputs, (list, tuple)):
        return batch_size_of(inputs[0])
    return len(inputs)
