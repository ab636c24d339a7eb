"""Every private torch and Optuna name trainwell uses, in one place, each behind a version check.

Private names change without a deprecation cycle. Keeping them here means an upgrade that moves one breaks
one function with a message that says which name and which versions were tested, instead of an
``AttributeError`` deep in a worker. Nothing else in trainwell reads a ``_name`` of a torch or Optuna object.

| name | why it is needed | tested |
|---|---|---|
| ``optuna.Trial._trial_id`` | the storage API (heartbeats) is keyed by trial id; ``Trial`` exposes only ``number`` | optuna 4.0–5.1 |
| ``optuna.storages._heartbeat.get_heartbeat_thread`` | Optuna's own heartbeat thread; public only inside ``Study.optimize`` | optuna 4.0–5.1 |
| ``torch.optim.Optimizer._step_supports_amp_scaling`` | marks optimizers whose fused step skips on ``found_inf`` | torch 2.4–2.13 |
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from trainwell.errors import TrainwellError

TESTED = {"optuna": ((4, 0), (5, 1)), "torch": ((2, 4), (2, 13))}


def version_of(module: Any) -> tuple[int, int]:
    """(major, minor) of a module's ``__version__`` ('2.13.0+cpu' -> (2, 13))."""
    found = re.match(r"(\d+)\.(\d+)", str(getattr(module, "__version__", "0.0")))
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _private(owner: Any, name: str, package: str) -> Any:
    """``owner.name``, or a TrainwellError that names the private attribute and the versions tested."""
    try:
        return getattr(owner, name)
    except AttributeError:
        import importlib

        have = version_of(importlib.import_module(package))
        low, high = TESTED[package]
        raise TrainwellError(
            f"{package} {have[0]}.{have[1]} has no {name} on {type(owner).__name__}; trainwell relies on it and was "
            f"tested with {package} {low[0]}.{low[1]}–{high[0]}.{high[1]}. Fix: install a tested version, "
            f"e.g. pip install '{package}<={high[0]}.{high[1]}.*'"
        ) from None


def trial_id(trial: Any) -> int:
    """The storage id of an Optuna ``Trial`` or ``FrozenTrial`` (not its ``number``)."""
    return int(_private(trial, "_trial_id", "optuna"))


def heartbeat_enabled(storage: Any) -> bool:
    """True for a storage that records heartbeats (an RDB storage opened with ``heartbeat_interval``)."""
    interval = getattr(storage, "get_heartbeat_interval", None)  # public on BaseHeartbeat storages
    return callable(interval) and interval() is not None


@contextlib.contextmanager
def heartbeat(storage: Any, trial: Any) -> Iterator[None]:
    """Optuna's own heartbeat thread for ``trial`` while the block runs (what ``Study.optimize`` uses);
    nothing on storages without heartbeats."""
    if not heartbeat_enabled(storage):
        yield
        return
    from optuna.storages import _heartbeat

    thread = _private(_heartbeat, "get_heartbeat_thread", "optuna")(trial_id(trial), storage)
    with thread:
        yield


def steps_with_amp_scaling(optimizer: Any) -> bool:
    """True when the optimizer's step itself skips on ``found_inf`` (torch's fused Adam/AdamW). torch
    sets the flag only on such optimizers, so its absence means False, not an unknown torch."""
    return bool(getattr(optimizer, "_step_supports_amp_scaling", False))
