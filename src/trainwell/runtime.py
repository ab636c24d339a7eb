"""The process-wide state a run sets, set in one place and restored when the run returns.

A library call must leave its host as it found it: a notebook that calls ``trainwell.train`` and then
benchmarks something else should not find torch on 1 thread, deterministic algorithms switched on, its
RNGs re-seeded or an environment variable it never set. ``run_globals`` sets what a run needs (CPU
threads, deterministic algorithms: ``apply``) and, on the way out, restores every global a run touches
(``preserved``; ``run_globals`` is both):

* torch CPU threads (``set_num_threads``); the inter-op pool is never resized (torch allows that only
  before the first parallel work, so a library cannot restore it);
* ``torch.use_deterministic_algorithms`` and its ``warn_only`` flag, cuDNN's ``deterministic`` and
  ``benchmark`` flags;
* the python, numpy and torch (CPU and initialised CUDA devices) random number generators, which a run
  seeds;
* ``os.environ``: any variable added, changed or removed inside is put back.

Lightning's test fixtures fail on leaked state for the same reason; ``tests/test_runtime.py`` checks
that train, lr-find and tune leave all of this unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Globals:
    """What ``capture`` saw; ``restore`` puts it back."""

    threads: int
    deterministic: bool
    warn_only: bool
    cudnn_deterministic: bool
    cudnn_benchmark: bool
    environ: dict[str, str]
    python_rng: Any
    numpy_rng: Any
    torch_rng: Any
    cuda_rng: Any  # None when CUDA is not initialised: reading it would initialise CUDA


def capture() -> Globals:
    import numpy as np
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return Globals(
        threads=torch.get_num_threads(),
        deterministic=torch.are_deterministic_algorithms_enabled(),
        warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn_deterministic=bool(torch.backends.cudnn.deterministic),
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
        environ=dict(os.environ),
        python_rng=random.getstate(),
        numpy_rng=np.random.get_state(),
        torch_rng=torch.get_rng_state(),
        cuda_rng=cuda,
    )


def restore(saved: Globals) -> None:
    import numpy as np
    import torch

    if torch.get_num_threads() != saved.threads:
        torch.set_num_threads(saved.threads)
    if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) != (
        saved.deterministic,
        saved.warn_only,
    ):  # only when changed: the first call imports torch's inductor config, seconds of CPU
        torch.use_deterministic_algorithms(saved.deterministic, warn_only=saved.warn_only)
    torch.backends.cudnn.deterministic = saved.cudnn_deterministic
    torch.backends.cudnn.benchmark = saved.cudnn_benchmark
    for name in set(os.environ) - set(saved.environ):
        del os.environ[name]
    for name, value in saved.environ.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    random.setstate(saved.python_rng)
    np.random.set_state(saved.numpy_rng)
    torch.set_rng_state(saved.torch_rng)
    if saved.cuda_rng is not None:
        torch.cuda.set_rng_state_all(saved.cuda_rng)


_nesting = threading.local()


def leaks(saved: Globals) -> list[str]:
    """What differs now from ``saved``, by name ([] when nothing leaked); tests call it around library calls."""
    import numpy as np
    import torch

    now = capture()
    out = [
        name
        for name in ("threads", "deterministic", "warn_only", "cudnn_deterministic", "cudnn_benchmark")
        if getattr(now, name) != getattr(saved, name)
    ]
    changed = sorted(k for k in set(now.environ) | set(saved.environ) if now.environ.get(k) != saved.environ.get(k))
    out += [f"environ[{k}]" for k in changed]
    if now.python_rng != saved.python_rng:
        out.append("python_rng")
    if not all(np.array_equal(a, b) for a, b in zip(now.numpy_rng, saved.numpy_rng)):
        out.append("numpy_rng")
    if not torch.equal(now.torch_rng, saved.torch_rng):
        out.append("torch_rng")
    if (now.cuda_rng is None) != (saved.cuda_rng is None) or (
        now.cuda_rng is not None and not all(torch.equal(a, b) for a, b in zip(now.cuda_rng, saved.cuda_rng))
    ):
        out.append("cuda_rng")
    return out


@contextlib.contextmanager
def preserved() -> Iterator[None]:
    """Restore every global listed in the module docstring when the block exits, however it exits.

    Only the outermost block restores: the LR finder that ``train`` runs before training draws from the
    run's seeded RNGs, and training goes on from where it left them, as it always has."""
    depth = getattr(_nesting, "depth", 0)
    saved = capture() if depth == 0 else None
    _nesting.depth = depth + 1
    try:
        yield
    finally:
        _nesting.depth = depth
        if saved is not None:
            restore(saved)


def apply(threads: int | None = None, deterministic: bool = False) -> None:
    """Set torch's CPU threads (None keeps the current count) and, when asked, deterministic algorithms
    (``warn_only``: an op without a deterministic kernel warns instead of failing the run). Call it only
    inside ``preserved()`` (or use ``run_globals``), so that what it sets is undone."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def run_globals(threads: int | None = None, deterministic: bool = False) -> Iterator[None]:
    """``apply`` for the block; everything is restored on exit. The LR finder and the batch finder run
    under it with the config's ``training.threads``, as training does: each runs the same work with the
    same threads."""
    with preserved():
        apply(threads, deterministic)
        yield


def restores_globals(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` inside ``preserved()``: the decorator of the library's entry points (``trainwell.train``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with preserved():
            return fn(*args, **kwargs)

    return wrapper
