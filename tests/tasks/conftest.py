"""Fixtures for the task tests: a tiny Fashion-MNIST folder in the original IDX .gz format."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trainwell.tasks import fashion_mnist


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX ubyte file: 00 00 08 ndim, then each size as a big-endian int32, then the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def make_fashion_folder(root: Path, n_train: int = 60, n_test: int = 20) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for key, stem in fashion_mnist.FILES.items():
        n = n_train if key.startswith("train") else n_test
        data = rng.integers(0, 256, (n, 28, 28)) if key.endswith("images") else np.arange(n) % 10
        write_idx(root / f"{stem}.gz", data)
    return root


@pytest.fixture
def fashion_folder(tmp_path: Path) -> Callable[..., Path]:
    """``fashion_folder(sub="fm", n_train=60, n_test=20)`` writes tiny random IDX files under tmp_path/sub."""
    return lambda sub="fm", **sizes: make_fashion_folder(tmp_path / sub, **sizes)


@pytest.fixture
def idx_writer() -> Callable[[Path, np.ndarray], None]:
    return write_idx
