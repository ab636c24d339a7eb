"""Optimizers, schedules, losses and the scaling rule, driven from their registries."""

from __future__ import annotations

import math

import pytest
import torch

from trainwell.config import load_config
from trainwell.config.schema import OptimizerConfig, ParamGroupConfig, ScheduleConfig
from trainwell.errors import ConfigError, MissingDependencyError
from trainwell.optim.losses import LOSSES, build_loss
from trainwell.optim.optimizers import OPTIMIZERS, build_optimizer
from trainwell.optim.param_groups import param_groups
from trainwell.optim.scaling import scale_lr
from trainwell.optim.schedules import SCHEDULES, multipliers, resolve_warmup, warmup_factor

# A learning rate per optimizer family that makes ~60 steps on a quadratic clearly descend.
_QUAD_LR = {"adam": 0.05, "sgd": 0.05, "rmsprop": 0.01, "adafactor": 0.05, "lion": 0.01, "lamb": 0.05}


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_reduces_a_quadratic(name: str) -> None:
    info = OPTIMIZERS.get(name)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1, bias=True)
    target = torch.randn(4, 1)
    cfg = OptimizerConfig(name=name, lr=_QUAD_LR[info.family], weight_decay=0.0)
    try:
        opt = build_optimizer(cfg, param_groups(model, cfg))
    except MissingDependencyError:
        pytest.skip(f"{name} needs an optional package")

    def loss() -> torch.Tensor:
        return ((model.weight.T - target) ** 2).sum() + model.bias.pow(2).sum()

    start = loss().item()
    for _ in range(60):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.5 * start


def test_missing_optional_optimizer_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pytorch_optimizer", None)  # makes the import fail as if uninstalled
    with pytest.raises(MissingDependencyError, match=r"trainwell\[optim\]"):
        OPTIMIZERS.get("lion").load()


def test_param_groups_exempt_bias_norm_and_scale_lr() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
    cfg = OptimizerConfig(
        lr=1e-3,
        weight_decay=0.1,
        param_groups=[ParamGroupConfig(pattern="0.*", lr_scale=0.0), ParamGroupConfig(pattern="2.*", lr_scale=0.5)],
    )
    groups = param_groups(model, cfg)
    by_name = {n: g for g in groups for n in g["names"]}
    assert "0.weight" not in by_name and not model[0].weight.requires_grad  # frozen backbone
    assert by_name["1.weight"]["weight_decay"] == 0.0 and by_name["1.bias"]["weight_decay"] == 0.0
    assert by_name["2.weight"]["weight_decay"] == 0.1 and by_name["2.weight"]["lr"] == pytest.approx(5e-4)
    assert by_name["2.bias"]["weight_decay"] == 0.0


# Hand-computed references: (name, total, warmup, extra kwargs, {step: multiplier}).
# Warmup is (s + 1) / (w + 1); decay formulas are HF's.
_REFERENCE = {
    "constant": (100, 0, {}, {0: 1.0, 50: 1.0, 99: 1.0}),
    "constant_with_warmup": (100, 10, {}, {0: 1 / 11, 9: 10 / 11, 50: 1.0, 99: 1.0}),
    "linear": (110, 10, {}, {0: 1 / 11, 10: 1.0, 60: 0.5, 109: 0.01}),
    "cosine": (110, 10, {}, {0: 1 / 11, 10: 1.0, 60: 0.5, 110: 0.0}),
    "cosine_with_restarts": (110, 10, {"cycles": 2}, {10: 1.0, 35: 0.5, 60: 1.0, 85: 0.5}),
    "polynomial": (110, 10, {"power": 2.0, "lr_end": 0.0, "base_lr": 1.0}, {5: 6 / 11, 10: 1.0, 60: 0.25, 110: 0.0}),
    "inverse_sqrt": (100, 4, {}, {0: 1 / 5, 4: 1.0, 16: 0.5, 64: 0.25}),
    "warmup_stable_decay": (
        100,
        10,
        {"decay_ratio": 0.2},
        {5: 6 / 11, 50: 1.0, 80: 1.0, 90: 0.5, 99: 0.5 * (1 + math.cos(math.pi * 0.95))},
    ),
    "step": (100, 0, {"step_size": 2, "gamma": 0.1, "steps_per_epoch": 10}, {0: 1.0, 19: 1.0, 20: 0.1, 45: 0.01}),
    "multistep": (100, 0, {"milestones": (3, 6), "gamma": 0.5, "steps_per_epoch": 10}, {29: 1.0, 30: 0.5, 60: 0.25, 99: 0.25}),
    "exponential": (100, 0, {"gamma": 0.9, "steps_per_epoch": 10}, {0: 1.0, 10: 0.9, 55: 0.9**5}),
    "one_cycle": (
        101,
        11,
        {"div_factor": 25.0, "final_div_factor": 1e4},
        {0: 1 / 25, 5: (1 + 1 / 25) / 2, 10: 1.0, 55: (1 + 1 / 25 / 1e4) / 2, 100: 1 / 25 / 1e4},
    ),
    "reduce_on_plateau": (100, 0, {}, {0: 1.0, 99: 1.0}),
}


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_matches_reference(name: str) -> None:
    assert name in _REFERENCE, f"add hand-computed reference values for schedule {name}"
    total, warmup, kw, expected = _REFERENCE[name]
    fn = SCHEDULES.get(name)
    for step, value in expected.items():
        assert fn(step, total, warmup, **kw) == pytest.approx(value, abs=1e-9), (name, step)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_schedules_are_positive_and_bounded(name: str) -> None:
    cfg = ScheduleConfig(name=name, milestones=[2, 4], warmup=0.3 if name == "one_cycle" else 0.1)
    values = multipliers(name, 200, cfg.warmup, cfg, steps_per_epoch=20, base_lr=1e-3)
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in values)
    if name not in ("constant", "reduce_on_plateau"):
        assert values[0] > 0.0  # first update never at lr 0 (transformers#34754)


def test_warmup_starts_above_zero_and_resolves_ratio() -> None:
    assert warmup_factor(0, 9) == pytest.approx(0.1)
    assert resolve_warmup(0.1, 1000) == 100 and resolve_warmup(250, 1000) == 250


def test_lambda_lr_applies_multipliers_to_scaled_groups() -> None:
    model = torch.nn.Linear(2, 2)
    cfg = OptimizerConfig(lr=1e-2, param_groups=[ParamGroupConfig(pattern="bias", lr_scale=0.1)])
    opt = build_optimizer(cfg, param_groups(model, cfg))
    fn = SCHEDULES.get("linear")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: fn(s, 10, 0))
    for _ in range(5):
        opt.step()
        sched.step()
    lrs = sorted(g["lr"] for g in opt.param_groups)
    assert lrs == pytest.approx([1e-3 * 0.5, 1e-2 * 0.5])


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_builds_and_backprops(name: str) -> None:
    torch.manual_seed(0)
    cfg = load_config({"loss": {"name": name, "class_weights": "none" if name == "mse" else "auto"}}).loss
    loss_fn = build_loss(cfg, [30, 10] if name != "mse" else None)
    logits = torch.randn(6, 2, requires_grad=True)
    target = {"mse": torch.randn(6, 2), "bce_with_logits": torch.randint(0, 2, (6, 2)).float()}.get(name, torch.randint(0, 2, (6,)))
    value = loss_fn(logits, target)
    value.backward()
    assert torch.isfinite(value) and logits.grad is not None


def test_focal_gamma_zero_equals_cross_entropy_and_auto_weights() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(8, 3), torch.randint(0, 3, (8,))
    focal = build_loss(load_config({"loss": {"name": "focal", "focal_gamma": 0.0}}).loss)
    ce = build_loss(load_config().loss)
    assert focal(logits, target).item() == pytest.approx(ce(logits, target).item(), rel=1e-6)
    weighted = build_loss(load_config({"loss": {"class_weights": "auto"}}).loss, [10, 10, 40])
    assert weighted.weight.tolist() == pytest.approx([2.0, 2.0, 0.5])


def test_scaling_rule_linear_for_sgd_sqrt_for_adam() -> None:
    sgd = scale_lr(0.01, 32, 128, "sgd")
    adam = scale_lr(1e-3, 32, 128, "adamw")
    assert (sgd.rule, sgd.lr) == ("linear", pytest.approx(0.04))  # 001 §Batch Size example
    assert (adam.rule, adam.lr) == ("sqrt", pytest.approx(2e-3))
    assert scale_lr(1e-3, 64, 64, "adam").rule == "none"
    assert "LAMB" in scale_lr(0.1, 256, 16384, "sgd").reason


def test_the_optimizer_and_its_groups_take_the_lr_from_the_config_and_refuse_find() -> None:
    model = torch.nn.Linear(2, 2)
    cfg = OptimizerConfig(lr=0.02, param_groups=[ParamGroupConfig(pattern="bias", lr_scale=0.5)])
    opt = build_optimizer(cfg, param_groups(model, cfg))
    assert sorted(g["lr"] for g in opt.param_groups) == [0.01, 0.02] and opt.defaults["lr"] == 0.02
    with pytest.raises(ConfigError) as err:
        param_groups(model, OptimizerConfig(lr="find"))
    assert err.value.problems[0].where == "optimizer.lr"


def test_polynomial_without_a_peak_is_its_shape_and_with_one_ends_at_lr_end() -> None:
    cfg = ScheduleConfig(name="polynomial", warmup=0, lr_end=1e-3)
    assert multipliers("polynomial", 10, 0, cfg, at=[0, 5, 10, 11]) == pytest.approx([1.0, 0.5, 0.0, 0.0])
    assert multipliers("polynomial", 10, 0, cfg, base_lr=1e-2, at=[0, 10, 11]) == pytest.approx([1.0, 0.1, 0.1])
