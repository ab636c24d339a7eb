"""Helpers the built-in tasks share: seeded splits, the training-set limit, standardisation, label encoding and
class counts.

Everything works on NumPy arrays and ends as in-memory tensors, so building a task is fast and the same
seed always gives the same split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trainwell.errors import DataError, Problem

if TYPE_CHECKING:
    from torch.utils.data import TensorDataset


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices with each class split in the same proportion, decided by ``seed``."""
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        # At least one validation item per class when the class has two or more, so every class is scored.
        n_val = min(len(idx) - 1, max(1, round(len(idx) * val_fraction))) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def limit_indices(indices: np.ndarray, labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most ``limit`` of ``indices``, drawn stratified by ``seed`` so a small limit still sees every class."""
    if limit is None or limit >= len(indices):
        return indices
    keep, _ = stratified_split(labels[indices], 1.0 - limit / len(indices), seed + 1)
    keep = keep[:limit]  # rounding per class can overshoot by a few
    return indices[keep]


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every column to zero mean and unit variance using the training rows only (no leakage)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std < 1e-8] = 1.0  # constant columns (e.g. blank digit pixels) stay zero instead of dividing by 0
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def encode_labels(labels: list[str], classes: list[str], where: str) -> np.ndarray:
    """Label strings as indices into ``classes`` (the training file's); a label outside them is a DataError."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise DataError(
            problems=[
                Problem(where, "validation labels must also occur in the training file", unknown[:5], f"training labels are {classes}")
            ]
        )
    return np.array([index[v] for v in labels], dtype=np.int64)


def class_counts(labels: np.ndarray, num_classes: int) -> list[int]:
    return [int(n) for n in np.bincount(labels, minlength=num_classes)]


def imbalance(counts: list[int]) -> float | None:
    """Largest class count over smallest non-empty one; the recommender keys class weights on it."""
    present = [n for n in counts if n]
    return round(max(present) / min(present), 2) if present else None


def tensor_dataset(inputs: np.ndarray, targets: np.ndarray) -> TensorDataset:
    import torch
    from torch.utils.data import TensorDataset

    return TensorDataset(torch.from_numpy(np.ascontiguousarray(inputs)), torch.from_numpy(targets.astype(np.int64)))


def option(options: dict[str, Any], key: str, default: Any) -> Any:
    return options[key] if options.get(key) is not None else default
