"""The default task: a seeded stratified split, train-only standardisation and an MLP from model options."""

from __future__ import annotations

import numpy as np
import torch

from trainwell.config import load_config
from trainwell.tasks import digits
from trainwell.tasks.catalog import build_task


def test_digits_split_is_stratified_and_seeded() -> None:
    a = build_task(load_config({"seed": 3}))
    b = build_task(load_config({"seed": 3}))
    c = build_task(load_config({"seed": 4}))
    assert len(a.train_data) + len(a.val_data) == 1797
    assert abs(len(a.val_data) - 0.2 * 1797) <= 10
    assert torch.equal(a.val_data.tensors[1], b.val_data.tensors[1])
    assert not torch.equal(a.val_data.tensors[0], c.val_data.tensors[0])
    # every class is in the validation split, roughly 20 % of each
    val_counts = torch.bincount(a.val_data.tensors[1], minlength=10)
    assert int(val_counts.min()) >= 30
    assert a.class_counts is not None and sum(a.class_counts) == len(a.train_data)


def test_digits_standardised_on_train_split_only() -> None:
    task = build_task(load_config({"data": {"val_fraction": 0.3}}))
    x_train = task.train_data.tensors[0]
    assert x_train.dtype == torch.float32
    assert torch.allclose(x_train.mean(0), torch.zeros(64), atol=1e-4)
    # the validation split uses the training statistics, so its mean is not forced to zero
    assert task.val_data.tensors[0].mean(0).abs().max() > 1e-3


def test_digits_model_options_and_limit() -> None:
    task = build_task(load_config({"model": {"hidden": 16, "layers": 2, "dropout": 0.0}, "data": {"limit": 50}}))
    assert len(task.train_data) == 50
    assert set(task.train_data.tensors[1].tolist()) == set(range(10))  # a small limit still sees every class
    widths = [m.out_features for m in task.model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [16, 16, 10]
    assert task.facts.dataset_size == 50


def test_reader_gives_load_digits_pixels_and_labels() -> None:
    x, y = digits.load()
    assert x.shape == (1797, 64) and x.min() == 0 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # load_digits' class counts


def test_a_rare_class_beside_a_large_one_still_gets_a_validation_item() -> None:
    from trainwell.tasks import _data

    labels = np.array([0] * 1000 + [1] * 2 + [2])  # class 2 has one item: it cannot be split, it trains
    train, val = _data.stratified_split(labels, 0.002, seed=0)
    assert sorted(set(labels[val].tolist())) == [0, 1] and 1002 in train
    assert len(set(train) & set(val)) == 0 and len(train) + len(val) == len(labels)
