"""``distributed.strategy: fsdp``: each rank holds a shard of every parameter, gradient and optimizer moment
(torch's FSDP2, ``torch.distributed.fsdp.fully_shard``), and a checkpoint holds them sharded
(``torch.distributed.checkpoint``, DCP): every rank writes its own shard into the checkpoint's ``sharded/``
folder and reads it back on resume. Nothing here is home-made: the sharding, the all-gathers before each
layer's forward, the reduce-scatter of its gradients and the sharded files are torch's.

What changes against DDP, and why:

- The model is sharded in place before the optimizer is built (the optimizer must see the sharded
  parameters); its weights are rank 0's first (``fully_shard`` does not broadcast, DDP does).
- Every transformer-style block (each module of an ``nn.ModuleList``) is its own unit, so a forward pass
  gathers one block's weights at a time; the root holds the rest.
- Micro-steps before the last of a window skip the gradient reduce-scatter
  (``set_requires_gradient_sync(False)``, FSDP's ``no_sync``).
- Every forward pass is a collective (each unit's weights are gathered), so every rank evaluates the same
  number of batches: a rank whose validation shard has one batch fewer repeats its last one, its outputs
  discarded (``engine/evaluate.py``).
- A step communicates nothing besides the gradient reduce-scatter, as under DDP (engine/step.py): the
  NaN decision reads the gradient norm, whose full value (``distributed.full_value``) is the same on
  every rank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainwell.engine import distributed
from trainwell.tasks.base import StateDictFiles

SHARDED = "sharded"  # the DCP folder inside a checkpoint folder


def shard(model: torch.nn.Module) -> None:
    """Make ``model`` rank 0's weights on every rank, then shard it in place (each ``nn.ModuleList``'s
    modules as units, then the root)."""
    from torch.distributed.fsdp import fully_shard

    with torch.no_grad():
        for tensor in model.state_dict().values():  # views of the parameters and buffers: filled in place
            torch.distributed.broadcast(tensor, src=0)
    for module in list(model.modules()):
        if isinstance(module, torch.nn.ModuleList):
            for block in module:
                fully_shard(block)
    fully_shard(model)


def save(model: torch.nn.Module, optimizer: torch.optim.Optimizer, whole: bool, folder: Path | None) -> None:
    """Every rank writes its shards of the weights and optimizer state into ``folder``/sharded (a
    collective: all ranks call it). Rank 0 passes the checkpoint's temporary folder; the others pass None
    and are told it. With ``whole`` (``distributed.whole_weights``) rank 0 also writes the whole weights as
    ``model.pt``, the file a one-process checkpoint holds, so ``--init-from`` and every reader of
    ``model.pt`` take an FSDP run as they take any other; the folder is renamed into place after both."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, get_state_dict

    where: Path = distributed.broadcast(folder)
    weights, moments = get_state_dict(model, optimizer)
    dcp.save({"model": weights, "optimizer": moments}, checkpoint_id=where / SHARDED)
    if whole:
        # Gathered one tensor at a time into rank 0's CPU memory (the others get an empty dict): the
        # device never holds more than one whole parameter, the host holds the whole model once.
        full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if distributed.world().main:
            torch.save(full, where / StateDictFiles.name)


def load(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, folder: Path) -> None:
    """Read this rank's shards of a checkpoint's weights (and, given ``optimizer``, its state) back (a collective)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict, set_model_state_dict, set_state_dict

    if optimizer is None:
        weights = {"model": get_model_state_dict(model)}
        dcp.load(weights, checkpoint_id=folder / SHARDED)
        set_model_state_dict(model, weights["model"])
        return
    model_state, optimizer_state = get_state_dict(model, optimizer)
    state: dict[str, Any] = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=folder / SHARDED)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
