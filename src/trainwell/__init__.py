"""trainwell: hyperparameter know-how as software that trains PyTorch models well.

The public API is lazy so ``import trainwell`` (and the CLI's ``--help``) never imports torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Config": "trainwell.config",
    "load_config": "trainwell.config",
    "train": "trainwell.run",
    "recommend": "trainwell.advise.recommender",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trainwell' has no attribute {name!r}")


__all__ = ["Config", "__version__", "load_config", "recommend", "train"]
