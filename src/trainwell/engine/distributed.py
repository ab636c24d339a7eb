"""Many processes through torch.distributed: the process group torchrun asks for, and the few collectives
the engine needs (a step's item counts and loss, riding on DDP's own gradient all-reduce; stop decisions,
evaluation outputs and every rank's RNG at log, evaluation and checkpoint steps).

A process is distributed when torchrun started it (``WORLD_SIZE``/``RANK`` in its environment). One process
without torchrun is world 1 and never touches torch.distributed, so a plain run pays nothing for this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from trainwell.config.schema import Config
from trainwell.errors import ConfigError, Problem


@dataclass(frozen=True)
class World:
    """This process's place in the job: ``rank`` of ``size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes the run folder and decides when to stop."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched() -> bool:
    """Whether torchrun (torch.distributed.run) started this process."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def world() -> World:
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return World()
    return World(torch.distributed.get_rank(), torch.distributed.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def backend_for(requested: str, device_type: str) -> str:
    """``auto``: NCCL for CUDA tensors, gloo for CPU ones (NCCL cannot reduce CPU tensors)."""
    if requested != "auto":
        return requested
    return "nccl" if device_type == "cuda" else "gloo"


def processes_problems(config: Config, size: int) -> list[Problem]:
    """A config whose batch was split over N devices (``distributed.processes``) trains with N processes:
    otherwise its effective batch, and the LR chosen for it, would not hold."""
    want = config.distributed.processes
    if want is None or want == size:
        return []
    b = config.batch
    return [
        Problem(
            "distributed.processes",
            f"this config's effective batch {b.size} x {b.accumulation} x {want} = {b.across(want)} "
            f"needs {want} processes, and this run has {size}",
            want,
            f"train with --nproc {want}, or set distributed.processes: {size} and batch values for {size}",
        )
    ]


def problems(config: Config, device_type: str) -> list[Problem]:
    """Every reason this config cannot run under torchrun."""
    d = config.distributed
    found = []
    if d.strategy == "fsdp" and config.training.precision == "fp16":
        found.append(
            Problem(
                "training.precision",
                "fp16 (its loss scaler) is not combined with fsdp's sharded gradients in this version",
                "fp16",
                "use precision: bf16 or fp32 with strategy: fsdp",
            )
        )
    if backend_for(d.backend, device_type) == "nccl" and device_type != "cuda":
        found.append(Problem("distributed.backend", "nccl reduces CUDA tensors only", d.backend, "use backend: auto or gloo on CPU"))
    if config.training.compile:
        found.append(Problem("training.compile", "is not combined with DDP or FSDP in this version", True, "set training.compile: false"))
    return found


@contextmanager
def process_group(config: Config, device_type: str) -> Iterator[World]:
    """Join the job torchrun started (when it did) for the duration of a run, and leave it after: a
    library leaves no process group behind. Outside torchrun, or when the caller already joined, it does nothing."""
    if not launched() or torch.distributed.is_initialized():
        yield world()
        return
    ConfigError.collect(problems(config, device_type))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local)  # one process per GPU: "cuda" then means this rank's GPU
    torch.distributed.init_process_group(backend_for(config.distributed.backend, device_type))
    finished = False
    try:
        yield world()
        finished = True
    finally:
        if finished:
            # No rank leaves while another still has a collective in flight (gloo works FSDP queues but
            # waits for later): a rank tearing its group down under a peer's pending work made that peer
            # abort at exit ("terminate called without an active exception", seen once in CI on a resumed
            # FSDP run). gloo's barrier also waits for this rank's own queued work. Not after a failure:
            # a rank that failed never arrives, and torchrun stops the others.
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums over every rank (float64: item counts stay exact)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return [float(v) for v in t.tolist()]


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; for decisions and small records, not tensors per step)."""
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    out: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def barrier() -> None:
    torch.distributed.barrier()


def shard_range(n: int, w: World) -> range:
    """The contiguous part of ``range(n)`` rank ``w.rank`` evaluates: in rank order they cover it exactly
    once (no padding, no repeated item), so gathered outputs equal one process's."""
    return range(w.rank * n // w.size, (w.rank + 1) * n // w.size)


@contextmanager
def gradient_sync(model: Any, sync: bool) -> Iterator[None]:
    """Whether the backward passes inside reduce the gradients over the ranks: DDP's ``no_sync`` when not,
    FSDP's ``set_requires_gradient_sync`` (engine/fsdp.py) likewise; a plain module has nothing to reduce."""
    if sync or (not hasattr(model, "no_sync") and not hasattr(model, "set_requires_gradient_sync")):
        yield
    elif hasattr(model, "no_sync"):
        with model.no_sync():
            yield
    else:
        model.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)


def full_value(value: torch.Tensor) -> torch.Tensor:
    """A reduction over sharded tensors (FSDP's DTensor, e.g. a gradient norm) as a plain tensor, the same on
    every rank; any other tensor as it is."""
    full = getattr(value, "full_tensor", None)
    return full() if full is not None else value  # type: ignore[no-any-return]


class StepStats:
    """A step's scalars (the window's weight, items, interrupt flag, loss sum) reduced with the gradients.

    DDP all-reduces the gradients in buckets through a communication hook; this one is torch's default
    (divide by the world size, all-reduce: ``default_hooks.allreduce_hook``) except that the last bucket of
    the step carries the scalars appended to it, undivided. So a step makes no collective beyond DDP's own.
    ``set`` them before the backward pass that synchronises; ``take`` them after it. Gradients in half
    precision cannot carry item counts exactly: then nothing rides along, and ``take`` returns None.
    """

    def __init__(self, world: int) -> None:
        self.world = world
        self._local: torch.Tensor | None = None
        self._reduced: torch.Tensor | None = None

    def register(self, model: Any) -> None:
        """Make ``hook`` the DDP model's communication hook (before its first backward pass). DDP compares the
        hook's annotations with the real classes, and this module's are strings (``from __future__ import
        annotations``): the wrapper has none."""
        model.register_comm_hook(None, lambda state, bucket: self.hook(state, bucket))

    def set(self, values: torch.Tensor) -> None:
        self._local, self._reduced = values, None

    def take(self) -> torch.Tensor | None:
        reduced, self._local, self._reduced = self._reduced, None, None
        return reduced

    def hook(self, state: object, bucket: torch.distributed.GradBucket) -> torch.futures.Future[torch.Tensor]:
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        buffer, extra = bucket.buffer(), self._local
        if extra is None or not bucket.is_last() or buffer.dtype not in (torch.float32, torch.float64):
            return allreduce_hook(None, bucket)  # type: ignore[arg-type]  # None: the default group
        n = extra.numel()
        flat = torch.cat([buffer / self.world, extra.to(buffer.dtype)])

        def split(fut: torch.futures.Future[Any]) -> torch.Tensor:
            out: torch.Tensor = fut.value()[0]
            self._reduced = out[-n:].double()
            return out[:-n]

        return torch.distributed.all_reduce(flat, async_op=True).get_future().then(split)  # type: ignore[union-attr]
