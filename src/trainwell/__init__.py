"""trainwell: hyperparameter know-how as software that trains PyTorch models well.

The public API is lazy so ``import trainwell`` (and the CLI's ``--help``) never imports torch.
"""

from __future__ import annotations

from typing import Any

# The optimizer, schedule, loss and task registries check the config fields that name them
# (config.rules.NAME_CHECKS); the config layer may not import them, so the package root does, once, before
# any entry point can load a config. Neither imports torch.
from trainwell import optim as _optim  # noqa: F401
from trainwell import tasks as _tasks  # noqa: F401

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
