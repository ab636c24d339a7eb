"""The engine's one entry point for code that takes training steps outside a run: the LR range test and
the batch-size finder (``trainwell.find``) import the engine only through this module.

They need exactly what a run would do at one step (the config's optimizer, precision and clipping, the
batch order, the device, the RNG state to put back) and nothing of the loop, checkpoints or run folder;
keeping that list here means a change inside the engine cannot reach the finders unannounced.
Importing this module imports torch.
"""

from __future__ import annotations

from trainwell.engine.batches import move_to_device
from trainwell.engine.device import resolve_device
from trainwell.engine.rng import capture as capture_rng
from trainwell.engine.rng import restore as restore_rng
from trainwell.engine.rng import seed_everything
from trainwell.engine.sampler import EpochBatchSampler
from trainwell.engine.setup import finder_runner, task_loss

__all__ = [
    "EpochBatchSampler",
    "capture_rng",
    "finder_runner",
    "move_to_device",
    "resolve_device",
    "restore_rng",
    "seed_everything",
    "task_loss",
]
