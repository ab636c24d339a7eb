"""Device resolution: ``auto`` picks cuda, then mps, then cpu, and says why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainwell.errors import ConfigError, Problem

if TYPE_CHECKING:
    import torch


def resolve_device(requested: str) -> torch.device:
    """The torch.device for training.device; asking for a device that is absent is a ConfigError."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if requested == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    available = {"cpu": True, "cuda": cuda, "mps": mps}
    if not available.get(requested, False):
        raise ConfigError(
            problems=[Problem("training.device", f"{requested} is not available on this machine", requested, "use device: auto or cpu")]
        )
    return torch.device(requested)
