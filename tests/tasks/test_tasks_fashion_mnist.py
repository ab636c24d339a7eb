"""Fashion-MNIST: IDX parsing, where the files are looked for, and the two validation modes."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from trainwell.config import load_config
from trainwell.errors import ConfigError, DataError
from trainwell.tasks import fashion_mnist
from trainwell.tasks.catalog import build_task


def test_idx_round_trip_and_bad_magic(tmp_path: Path, idx_writer: Callable[[Path, np.ndarray], None]) -> None:
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    idx_writer(tmp_path / "x.gz", a)
    assert np.array_equal(fashion_mnist.read_idx(tmp_path / "x.gz"), a)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="magic"):
        fashion_mnist.read_idx(tmp_path / "bad")
    with gzip.open(tmp_path / "short.gz", "wb") as fh:
        fh.write(bytes([0, 0, 8, 1]) + struct.pack(">i", 10) + b"\x01\x02")
    with pytest.raises(DataError, match="truncated"):
        fashion_mnist.read_idx(tmp_path / "short.gz")


def test_official_test_set_is_validation_by_default(fashion_folder: Callable[..., Path]) -> None:
    task = build_task(load_config({"task": "fashion-mnist", "data": {"path": str(fashion_folder())}, "model": {"channels": 2}}))
    assert (len(task.train_data), len(task.val_data)) == (60, 20)
    x, y = task.train_data[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    xs = task.train_data.tensors[0]
    assert abs(float(xs.mean())) < 1e-4 and abs(float(xs.std()) - 1) < 1e-2  # standardised on the training images
    assert task.model(xs[:3]).shape == (3, 10)


def test_split_mode_holds_out_training_images(fashion_folder: Callable[..., Path]) -> None:
    cfg = {"task": "fashion-mnist", "data": {"path": str(fashion_folder()), "val_fraction": 0.5, "options": {"validation": "split"}}}
    task = build_task(load_config(cfg))
    assert (len(task.train_data), len(task.val_data)) == (30, 30)
    with pytest.raises(ConfigError, match="validation"):
        build_task(load_config({**cfg, "data": {**cfg["data"], "options": {"validation": "holdout"}}}))


def test_missing_files_list_every_place_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fashion_folder: Callable[..., Path]) -> None:
    with pytest.raises(DataError) as err:
        build_task(load_config({"task": "fashion-mnist", "data": {"path": str(tmp_path)}}))
    assert err.value.problems[0].value == [str(tmp_path)]  # a given data.path is the only place looked at
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fashion_mnist, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(fashion_mnist, "SYSTEM", tmp_path / "system")
    with pytest.raises(DataError) as err:
        fashion_mnist.find_folder(None)
    tried = err.value.problems[0].value
    assert tried == [
        str((tmp_path / fashion_mnist.SHARED).resolve()),
        str((tmp_path / "repo" / fashion_mnist.SHARED).resolve()),
        str(tmp_path / "system"),
    ]
    fashion_folder("system")
    assert fashion_mnist.find_folder(None) == tmp_path / "system"


def test_real_files_with_limit(shared_data: Path) -> None:
    task = build_task(load_config({"task": "fashion-mnist", "data": {"path": str(shared_data / "fashion-mnist"), "limit": 200}}))
    assert len(task.train_data) == 200 and len(task.val_data) == 10000
    assert task.class_counts == [20] * 10
    assert torch.bincount(task.val_data.tensors[1]).tolist() == [1000] * 10
