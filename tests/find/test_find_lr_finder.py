"""The range test on a real (tiny) model: exact restore, divergence stop, JSON shape, peak LR, engine hook."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import torch

from trainwell.config import load_config
from trainwell.config.resolved import replace_paths
from trainwell.config.schema import Config
from trainwell.find.lr_finder import find_lr_for_training, range_test
from trainwell.find.peak import AT_UNIT, WEIGHT
from trainwell.find.rules import RULES, bottom_lr
from trainwell.optim.optimizers import build_optimizer
from trainwell.optim.param_groups import param_groups
from trainwell.tasks.base import Task


def _data(n: int = 256, seed: int = 0) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]])
    x = centres[y] + 0.7 * torch.randn(n, 2, generator=g)
    return torch.utils.data.TensorDataset(x, y)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 3)
    )


def _config(**lr_find: Any) -> Config:
    # Fixed-length runs (no early stopping), so the peak follows the schedule alone (find/peak.py).
    return load_config(
        {
            "batch": {"size": 16},
            "training": {"device": "cpu"},
            "early_stopping": {"patience": None},
            "lr_find": {"steps": 40, "min_lr": 1e-5, "max_lr": 10.0, **lr_find},
        }
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def test_model_optimizer_and_rng_are_restored_bit_for_bit() -> None:
    config = _config()
    model = _model()
    at = replace_paths(config, {"optimizer.lr": 1e-3}).optimizer
    opt = build_optimizer(at, param_groups(model, at))
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = _data()[:16]
    loss_fn(model(x), y).backward()
    opt.step()  # give the optimizer real moment buffers to protect
    loss_fn(model(x), y).backward()  # and leave a gradient in place
    model.eval()
    before = (
        {k: v.clone() for k, v in model.state_dict().items()},
        json.loads(json.dumps(opt.state_dict(), default=str)),
        [p.grad.clone() for p in model.parameters()],
        torch.get_rng_state().clone(),
    )
    opt_before = {k: v for k, v in opt.state_dict().items()}
    opt_state = {i: {k: t.clone() for k, t in s.items()} for i, s in opt_before["state"].items()}
    result = range_test(config, model, _data(), loss_fn, optimizer=opt, device="cpu")
    assert len(result.losses) > 5  # the sweep really trained
    assert _same(before[0], model.state_dict())
    assert _same(opt_state, opt.state_dict()["state"])
    assert [g["lr"] for g in opt.param_groups] == [1e-3] * len(opt.param_groups)
    assert _same(before[2], [p.grad for p in model.parameters()])
    assert torch.equal(before[3], torch.get_rng_state())
    assert not model.training


def test_model_restored_when_the_finder_builds_its_own_optimizer() -> None:
    model = _model()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    range_test(_config(), model, _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    assert _same(weights, model.state_dict())
    assert all(p.grad is None for p in model.parameters())


def test_sweep_stops_on_divergence_and_reports_why() -> None:
    config = load_config(
        {
            "batch": {"size": 16},
            "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 0.0},
            "training": {"max_grad_norm": None},
            "lr_find": {"steps": 60, "min_lr": 1e-4, "max_lr": 1e4},
        }
    )
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    assert result.stop_reason is not None
    assert len(result.losses) < 60
    assert "x best" in result.stop_reason or "non-finite" in result.stop_reason


def test_result_json_shape_and_a_descent_found() -> None:
    result = range_test(_config(), _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    data = json.loads(json.dumps(result.to_json()))
    assert {"suggested_lr", "rules", "reliable", "reasons", "peak_lr", "stopped_early", "elapsed_s", "curve"} <= set(data)
    assert set(data["rules"]) == set(RULES.names())
    assert isinstance(data["reliable"], bool) and isinstance(data["reasons"], list)
    assert data["suggested_lr"] is not None and 1e-5 < data["suggested_lr"] < 10
    assert len(data["curve"]["lr"]) == len(data["curve"]["loss"]) == len(data["curve"]["smoothed"])


@pytest.mark.parametrize(("optimizer", "factor"), [("adamw", 2.0), ("sgd", 4.0)])
def test_peak_lr_moves_to_the_effective_batch(optimizer: str, factor: float) -> None:
    # a flat schedule: only the batch moves the LR
    config = replace_paths(
        _config(), {"optimizer.name": optimizer, "batch.accumulation": 4, "schedule.name": "constant", "schedule.warmup": 0.0}
    )
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    assert result.suggested_lr is not None and result.peak_lr == pytest.approx(result.suggested_lr * factor)
    assert "effective batch 64" in result.peak_reason


def test_engine_hook_returns_the_lr_and_a_record() -> None:
    config = _config()
    task = Task("tiny", _model(), _data(), None, num_classes=3)
    weights = {k: v.clone() for k, v in task.model.state_dict().items()}
    lr, record = find_lr_for_training(config, task, torch.device("cpu"))
    assert lr == record["used_lr"] == record["peak_lr"] and lr > 0
    assert "optimizer.lr: find" in record["used_reason"]
    json.dumps(record)
    assert _same(weights, task.model.state_dict())


def test_peak_lr_for_a_warmup_and_decay_schedule() -> None:
    from trainwell.optim.schedules import multipliers

    config = _config()  # cosine with 10 % warmup, 20 epochs of 256 / 16 = 16 steps
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    assert result.suggested_lr is not None and result.peak_lr is not None
    mult = multipliers("cosine", 320, 0.1)
    mean = sum(mult) / len(mult)
    assert 0.45 < mean < 0.55
    stop = result.lrs[-1]  # where the loss blew up: the fitted rule reads it
    assert result.stop_reason is not None
    assert result.peak_lr == pytest.approx(min(AT_UNIT * stop**WEIGHT / mean, stop))
    assert result.peak_lr < stop and "calibration corpus" in result.peak_reason


def test_peak_lr_for_a_flat_schedule_is_the_suggestion() -> None:
    config = replace_paths(_config(), {"schedule.name": "constant", "schedule.warmup": 0.0})
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    assert result.peak_lr == result.suggested_lr and "constant LR" in result.peak_reason


def test_json_round_trip_rebuilds_the_result() -> None:
    from trainwell.find.result import from_json

    result = range_test(_config(), _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    again = from_json(json.loads(json.dumps(result.to_json())))
    assert again.to_json() == json.loads(json.dumps(result.to_json()))


class _ScriptedRunner:
    """Stands in for the StepRunner: returns a scripted loss per step, so the stop test is read in isolation."""

    def __init__(self, losses: list[float]) -> None:
        self.optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        self.losses = iter(losses)

    def run(self, batches: list[Any]) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(loss=next(self.losses), status="ok")


def test_stop_fires_within_a_few_steps_of_the_blow_up_even_at_fastais_smoothing() -> None:
    # Flat at 1.0 for 60 steps, then doubling: the raw loss passes 4 x best at step 63. An uncapped 0.98 EMA
    # would not notice until ~step 68; the stop test reads the EMA capped at the sweep's resolution.
    from trainwell.find.lr_finder import _sweep

    script = [1.0] * 60 + [2.0 ** (k + 1) for k in range(40)]
    cfg = _config(steps=100, smoothing=0.98).lr_find
    losses, _, stop = _sweep(_ScriptedRunner(script), iter(range(100)), [1e-3] * 100, cfg, None)
    assert stop is not None and "x best" in stop
    assert 63 <= len(losses) <= 65


@pytest.mark.parametrize(("schedule", "warmup"), [("cosine", 0.1), ("constant", 0.0)])
def test_fine_tuning_peak_is_the_cautious_end_of_the_band(schedule: str, warmup: float) -> None:
    from trainwell.find.result import schedule_shape, with_peak

    config = replace_paths(_config(), {"schedule.name": schedule, "schedule.warmup": warmup})
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu", mode="finetune")
    scratch = with_peak(copy.deepcopy(result), config, len(_data()), "scratch")
    mean, _, _ = schedule_shape(config, len(_data()))
    lr_min = bottom_lr(result.lrs, result.curve)
    assert result.peak_lr == pytest.approx(min(lr_min / 10 / min(mean, 1.0), lr_min / 3))
    assert "fine-tuning" in result.peak_reason and "fine-tuning" not in scratch.peak_reason


def test_a_decaying_schedule_without_warmup_starts_at_the_suggestion() -> None:
    config = replace_paths(_config(), {"schedule.name": "cosine", "schedule.warmup": 0.0})
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    assert result.peak_lr == result.suggested_lr and "no warmup" in result.peak_reason


def test_engine_hook_trains_with_the_fallback_when_the_curve_is_unreliable() -> None:
    # far too low: no descent; lr_find.fallback is where the recommender puts the LR law's value
    config = replace_paths(_config(), {"lr_find.min_lr": 1e-9, "lr_find.max_lr": 1e-8, "lr_find.steps": 20, "lr_find.fallback": 3e-3})
    task = Task("tiny", _model(), _data(), None, num_classes=3)
    lr, record = find_lr_for_training(config, task, torch.device("cpu"))
    assert lr == record["used_lr"] == 3e-3 and not record["reliable"]
    assert "lr_find.fallback" in record["used_reason"]


def test_the_peak_is_scaled_to_the_batch_of_every_process() -> None:
    """Under --nproc N (distributed.processes: N) the sweep steps on one process's micro-batch and training
    updates on N of them: the LR moves by the scaling rule to size x accumulation x N, and the schedule's
    length is one process's share of the data."""
    from trainwell.find.result import with_peak

    config = replace_paths(_config(), {"schedule.name": "constant", "schedule.warmup": 0.0})
    result = range_test(config, _model(), _data(), torch.nn.CrossEntropyLoss(), device="cpu")
    two = with_peak(copy.deepcopy(result), replace_paths(config, {"distributed.processes": 2}), len(_data()))
    one = with_peak(copy.deepcopy(result), replace_paths(config, {"batch.accumulation": 2}), len(_data()))
    assert two.peak_lr is not None and result.peak_lr is not None and two.peak_lr > result.peak_lr
    assert two.peak_lr == one.peak_lr and f"effective batch {2 * config.batch.size}" in two.peak_reason
