"""Precision strategies: every registered one trains a step; fp16's skipped step is reported."""

from __future__ import annotations

import pytest
import torch

from trainwell.engine.batches import batch_size_of, forward_logits, move_to_device
from trainwell.engine.precision import PRECISIONS, FP16Precision, build_precision, resolve_precision
from trainwell.errors import ConfigError


def _step(strategy_name: str) -> tuple[bool, torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    before = model.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    strategy = PRECISIONS.get(strategy_name)(torch.device("cpu"))
    with strategy.autocast():
        loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
    strategy.backward(loss)
    strategy.unscale(opt)
    stepped = strategy.step(opt)
    strategy.update()
    return stepped, model, before


@pytest.mark.parametrize("name", PRECISIONS.names())
def test_every_precision_updates_the_model_on_finite_grads(name: str) -> None:
    stepped, model, before = _step(name)
    assert stepped
    assert not torch.equal(model.weight, before)


def test_bf16_autocast_runs_matmul_in_bfloat16_on_cpu() -> None:
    strategy, choice = build_precision("bf16", "cpu")
    with strategy.autocast():
        out = torch.nn.Linear(4, 2)(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    assert choice.name == "bf16"


def test_fp16_reports_a_skipped_step_when_grads_overflow() -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    strategy = FP16Precision(torch.device("cpu"))
    before = model.weight.detach().clone()
    strategy.backward(model(torch.tensor([[float("inf"), 1.0]])).sum())
    strategy.unscale(opt)
    assert strategy.step(opt) is False
    scale = strategy.scaler.get_scale()
    strategy.update()
    assert strategy.scaler.get_scale() < scale  # backoff after the overflow
    assert torch.equal(model.weight, before)
    state = strategy.state_dict()
    fresh = FP16Precision(torch.device("cpu"))
    fresh.load_state_dict(state)
    assert fresh.scaler.get_scale() == strategy.scaler.get_scale()


def test_fp16_unscales_the_step_after_a_non_finite_loss() -> None:
    """The synced step skips a NaN loss before precision.step; the next step must still unscale."""
    from trainwell.engine.step import StepRunner

    torch.manual_seed(0)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    norms = []
    for poison in (False, True):
        model = torch.nn.Linear(4, 2)
        model.load_state_dict({"weight": torch.ones(2, 4), "bias": torch.zeros(2)})
        runner = StepRunner(
            model,
            torch.nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.0),
            FP16Precision(torch.device("cpu")),
            None,
            torch.device("cpu"),
        )
        if poison:
            assert runner.run([(x * float("nan"), y)]).status == "nonfinite"
        norms.append(runner.run([(x, y)]).grad_norm)
    assert norms[1] == pytest.approx(norms[0])  # true gradients, not ones still multiplied by the loss scale


def test_auto_on_cpu_is_fp32_with_a_reason() -> None:
    choice = resolve_precision("auto", "cpu")
    assert choice.name == "fp32"
    assert "cpu" in choice.reason


def test_fp16_on_cpu_is_refused_with_a_fix() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_precision("fp16", "cpu")
    assert info.value.problems[0].where == "training.precision"


def test_batches_handle_tensors_dicts_and_logits_outputs() -> None:
    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, input_ids: torch.Tensor) -> object:
            return type("Out", (), {"logits": self.lin(input_ids)})()

    x = {"input_ids": torch.randn(5, 3)}
    moved = move_to_device(x, torch.device("cpu"))
    assert forward_logits(Wrapped(), moved).shape == (5, 2)
    assert forward_logits(torch.nn.Linear(3, 2), torch.randn(4, 3)).shape == (4, 2)
    assert batch_size_of(x) == 5
