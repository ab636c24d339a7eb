"""The default task: scikit-learn's 8x8 digits (1797 images, 10 classes) with an MLP.

It ships with scikit-learn, so ``trainwell train`` works offline with nothing beyond pip. Validation is a
stratified ``data.val_fraction`` split decided by ``seed``; pixels are standardised with the training
split's statistics only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trainwell.tasks import _data
from trainwell.tasks._models import mlp
from trainwell.tasks.base import Task, TaskFacts, classification_metrics
from trainwell.tasks.catalog import model_options

if TYPE_CHECKING:
    from trainwell.config.schema import Config

NUM_CLASSES = 10


def load() -> tuple[np.ndarray, np.ndarray]:
    """Pixels (1797 x 64, values 0..16) and labels: scikit-learn's ``load_digits``."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x, y.astype(np.int64)


def build(config: Config) -> Task:
    x, y = load()
    train_idx, val_idx = _data.stratified_split(y, config.data.val_fraction, config.seed)
    train_idx = _data.limit_indices(train_idx, y, config.data.limit, config.seed)
    x_train, x_val = _data.standardise(x[train_idx], x[val_idx])
    opts = model_options(config)
    counts = _data.class_counts(y[train_idx], NUM_CLASSES)
    return Task(
        name="digits",
        model=mlp(x.shape[1], int(opts["hidden"]), int(opts.get("layers", 1)), float(opts["dropout"]), NUM_CLASSES),
        train_data=_data.tensor_dataset(x_train, y[train_idx]),
        val_data=_data.tensor_dataset(x_val, y[val_idx]),
        kind="classification",
        num_classes=NUM_CLASSES,
        class_counts=counts,
        metrics=classification_metrics,
        facts=TaskFacts("mlp", "scratch", len(train_idx), NUM_CLASSES, _data.imbalance(counts)),
    )
