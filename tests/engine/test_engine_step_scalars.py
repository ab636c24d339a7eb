"""A DDP step's scalars (weight, items, interrupt flag, loss sum) ride on DDP's own gradient all-reduce as the
gradient of a 4-number parameter (``distributed.StepScalars``), handed to the backward pass as a second root
(``PrecisionStrategy.backward``'s ``carry``). Here in a one-process gloo group, made and destroyed by each
test (two processes, where the sums matter, are tests/engine/test_engine_distributed.py's): the step returns
its numbers, the model's gradients are those of a plain backward pass, and the carrier is cleared for the
next step and is neither in the model's state nor the optimizer's parameters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from trainwell.engine.distributed import StepScalars, data_parallel, gradient_sync
from trainwell.engine.precision import FP16Precision, PrecisionStrategy

CPU = torch.device("cpu")


@pytest.fixture
def group() -> Iterator[None]:
    torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 4, generator=g), torch.randint(0, 3, (6,), generator=g)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def test_a_ddp_step_returns_its_scalars_and_plain_gradients(group: None) -> None:
    model, reference = _model(), _model()
    ddp = data_parallel(model, CPU)
    scalars, precision = StepScalars(ddp, 1), PrecisionStrategy(CPU)
    for step in range(3):  # a second and third step: DDP saw every parameter's gradient in the one before
        (x1, y1), (x2, y2) = _data(2 * step), _data(2 * step + 1)
        with gradient_sync(ddp, False):  # an accumulation window: the first micro-batch unsynchronised
            first = torch.nn.functional.cross_entropy(ddp(x1), y1)
            precision.backward(first)
        with gradient_sync(ddp, True):
            second = torch.nn.functional.cross_entropy(ddp(x2), y2)
            loss_sum = (first.detach() + second.detach()) * 6
            shared = scalars.backward(precision, second, [12.0, 12.0, 1.0], loss_sum)
        assert shared[:3] == [12.0, 12.0, 1.0] and shared[3] == pytest.approx(loss_sum.item(), rel=1e-7)
        assert scalars.carrier is not None and scalars.carrier.grad is None  # cleared for the next step
        for x, y in ((x1, y1), (x2, y2)):
            torch.nn.functional.cross_entropy(reference(x), y).backward()
        for p, q in zip(model.parameters(), reference.parameters()):
            assert p.grad is not None and torch.allclose(p.grad, q.grad, rtol=0, atol=1e-7)  # type: ignore[arg-type]
        model.zero_grad(set_to_none=True)
        reference.zero_grad(set_to_none=True)
    assert all("scalars" not in name for name in model.state_dict())  # checkpoints hold the task's model alone
    assert all(p is not scalars.carrier for p in model.parameters())  # nor in the optimizer built over them


def test_fsdp_style_models_without_a_carrier_reduce_the_scalars_themselves(group: None) -> None:
    model = _model()
    scalars = StepScalars(model, 1)  # no WithScalars inside: FSDP's case
    assert scalars.carrier is None
    x, y = _data(0)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    shared = scalars.backward(PrecisionStrategy(CPU), loss, [6.0, 6.0, 0.0], loss.detach() * 6)
    assert shared[:3] == [6.0, 6.0, 0.0] and shared[3] == pytest.approx(loss.item() * 6)
    assert all(p.grad is not None for p in model.parameters())


def test_the_carried_gradient_is_not_loss_scaled() -> None:
    """fp16's loss scale multiplies the loss's gradients, not the carried numbers (item counts must stay exact)."""
    precision = FP16Precision(CPU)
    leaf = torch.zeros(2, requires_grad=True)
    weight = torch.ones(3, requires_grad=True)
    loss = (weight * 2.0).sum()
    precision.backward(loss, (leaf, torch.tensor([16.0, 3.0])))
    assert leaf.grad is not None and leaf.grad.tolist() == [16.0, 3.0]
    scale = precision.scaler.get_scale()
    assert scale > 1 and weight.grad is not None and weight.grad.tolist() == [2.0 * scale] * 3
