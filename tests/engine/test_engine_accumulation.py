"""Gradient accumulation is normalised by items in the window: k micro-batches == one k-times batch."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from tw_engine_helpers import max_abs_diff, tiny_config, tiny_model

from trainwell.engine.precision import PrecisionStrategy
from trainwell.engine.step import StepRunner
from trainwell.run import train


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("sizes", [(8, 8, 8), (8, 8, 3), (5, 1), (1, 9, 2, 4)])
def test_micro_batches_give_the_big_batch_gradient(sizes: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    n = sum(sizes)
    x, y = torch.randn(n, 8), torch.randint(0, 3, (n,))
    model = tiny_model(dropout=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    loss_fn(model(x), y).backward()
    big = _grads(model)
    model.zero_grad(set_to_none=True)

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = StepRunner(model, loss_fn, opt, PrecisionStrategy(torch.device("cpu")), None, torch.device("cpu"))
    bounds = torch.tensor((0, *sizes)).cumsum(0).tolist()
    window = [(x[a:b], y[a:b]) for a, b in itertools.pairwise(bounds)]
    loss, items = runner.window_loss(window)
    assert items == n
    assert torch.allclose(loss, loss_fn(model(x), y).detach(), atol=1e-6)
    assert max_abs_diff(big, _grads(model)) < 1e-6


def test_dividing_by_k_would_be_wrong_for_an_uneven_window() -> None:
    # The guard against the old HF/Lightning behaviour: with sizes (8, 2), mean-of-means differs from the item mean.
    torch.manual_seed(0)
    x, y = torch.randn(10, 8), torch.randint(0, 3, (10,))
    model = tiny_model(dropout=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    per_k = (loss_fn(model(x[:8]), y[:8]) + loss_fn(model(x[8:]), y[8:])) / 2
    assert not torch.allclose(per_k, loss_fn(model(x), y), atol=1e-4)


def test_training_with_accumulation_matches_training_with_the_big_batch(tmp_path: Path) -> None:
    # 100 items: 13 batches of 8 in windows of 4 -> the last window holds one 4-item batch, like the big-batch
    # run's last batch of 4. The data order is a function of (seed, epoch) only, so both see the same items.
    common = {
        "model": {"dropout": 0.0},
        "training": {"epochs": 2, "max_grad_norm": 1.0},
        "checkpoint": {"strategy": "no", "load_best_at_end": False},
        "evaluation": {"strategy": "epoch", "every": 1},
        "optimizer": {"name": "sgd", "lr": 0.1, "weight_decay": 0.0},
    }
    micro = train(tiny_config(batch={"size": 8, "accumulation": 4}, **common), run_dir=tmp_path / "micro")
    big = train(tiny_config(batch={"size": 32, "accumulation": 1}, **common), run_dir=tmp_path / "big")
    assert micro.summary["steps"] == big.summary["steps"] == 8
    assert max_abs_diff(micro.model.state_dict(), big.model.state_dict()) < 1e-5
    assert micro.summary["final"]["val_loss"] == pytest.approx(big.summary["final"]["val_loss"], abs=1e-5)
