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
    """Train and validation indices (sorted) with each class split in the same proportion, decided by
    ``seed`` (scikit-learn's ``train_test_split(stratify=...)``).

    A class with a single item cannot be split: it stays in training. At least one validation item per
    splittable class, so every class is scored: the validation size is raised to the number of classes when
    ``val_fraction`` would give fewer."""
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(labels, return_counts=True)
    alone = np.isin(labels, classes[counts < 2])
    rest = np.flatnonzero(~alone)
    n_classes = int((counts >= 2).sum())
    if n_classes == 0 or len(rest) < 2 * n_classes:  # too few items to give every class both sides
        return np.sort(np.concatenate([np.flatnonzero(alone), rest])), np.array([], dtype=np.int64)
    n_val = min(len(rest) - n_classes, max(n_classes, round(len(rest) * val_fraction)))
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    # scikit-learn rounds per-class shares, so a rare class beside a large one can get no validation item:
    # move its first (seeded, shuffled) training item over, so every class is scored.
    unscored = np.setdiff1d(labels[rest], labels[val])
    moved = np.array([train[np.flatnonzero(labels[train] == c)[0]] for c in unscored], dtype=np.int64)
    train, val = np.setdiff1d(train, moved), np.concatenate([val, moved])
    return np.sort(np.concatenate([train, np.flatnonzero(alone)])), np.sort(val)


def limit_indices(indices: np.ndarray, labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most ``limit`` of ``indices``, drawn stratified by ``seed`` so a small limit still sees every class."""
    if limit is None or limit >= len(indices):
        return indices
    keep, _ = stratified_split(labels[indices], 1.0 - limit / len(indices), seed + 1)
    keep = keep[:limit]  # classes of one item stay in, so this can overshoot by a few
    return indices[keep]


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every column to zero mean and unit variance using the training rows only (no leakage), with
    scikit-learn's ``StandardScaler`` (a constant column, e.g. a blank digit pixel, keeps scale 1 and stays 0)."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train)
    return [scaler.transform(a).astype(np.float32) for a in (train, *others)]


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
