"""Optimizer registry: frozen specs over torch.optim (and one maintained package for lion/lamb).

Importing this module does not import torch; ``build_optimizer`` does. Each spec names the config
fields its constructor takes, so the same OptimizerConfig drives every optimizer without if/elif.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainwell.errors import MissingDependencyError
from trainwell.registry import Registry

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import OptimizerConfig


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    target: str  # "module:Class"
    family: str  # adam | sgd | rmsprop | adafactor | lion | lamb: picks the LR scaling rule and lint ranges
    args: tuple[str, ...]  # OptimizerConfig fields passed to the constructor
    decoupled_wd: bool  # True when weight_decay is decoupled (AdamW-style), False when it is L2 in the gradient
    lr_range: tuple[float, float]  # typical LR range from the guides (lint warns outside it)
    source: str
    supports_fused: bool = False
    extra: str = ""  # pip extra that provides the package, when it is not torch

    def load(self) -> type:
        module, _, cls = self.target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise MissingDependencyError(module.split(".")[0].replace("_", "-"), self.extra or "optim", f"optimizer '{self.name}'") from exc
        found = getattr(mod, cls, None)
        if found is None:
            raise MissingDependencyError(module, self.extra or "optim", f"optimizer '{self.name}' (this torch has no {cls})")
        return found  # type: ignore[no-any-return]


OPTIMIZERS: Registry[OptimizerInfo] = Registry("optimizer")
_ADAM_ARGS = ("lr", "betas", "eps", "weight_decay")
for info in (
    OptimizerInfo(
        "adamw",
        "torch.optim:AdamW",
        "adam",
        _ADAM_ARGS,
        True,
        (1e-5, 1e-3),
        "001 §Learning Rate: AdamW 1e-5–5e-4 fine-tuning, 1e-4–1e-3 from scratch",
        supports_fused=True,
    ),
    OptimizerInfo(
        "adam",
        "torch.optim:Adam",
        "adam",
        _ADAM_ARGS,
        False,
        (1e-5, 1e-3),
        "001 §Learning Rate: Adam 1e-4–1e-3; 004 §Transfer Learning: 10x lower when fine-tuning",
        supports_fused=True,
    ),
    OptimizerInfo(
        "sgd",
        "torch.optim:SGD",
        "sgd",
        ("lr", "momentum", "nesterov", "weight_decay"),
        False,
        (1e-4, 0.1),
        "001 §Learning Rate: SGD+momentum 0.001–0.1; 004 §LR ranges: 1e-4 when fine-tuning",
        supports_fused=True,
    ),
    OptimizerInfo(
        "rmsprop",
        "torch.optim:RMSprop",
        "rmsprop",
        ("lr", "momentum", "eps", "weight_decay"),
        False,
        (1e-4, 1e-2),
        "004 §Optimizer Comparison: RMSprop 1e-3–1e-2",
    ),
    OptimizerInfo(
        "adafactor",
        "torch.optim:Adafactor",
        "adafactor",
        ("lr", "weight_decay"),
        True,
        (1e-5, 1e-2),
        "001 §Optimizer Choice: Adafactor for very large models; 003 §Optimizer",
    ),
    OptimizerInfo(
        "lion",
        "pytorch_optimizer:Lion",
        "lion",
        ("lr", "betas", "weight_decay"),
        True,
        (1e-6, 3e-4),
        "001 §Optimizer Choice: Lion for memory-bound models; Chen et al. 2023: LR 3-10x below AdamW",
        extra="optim",
    ),
    OptimizerInfo(
        "lamb",
        "pytorch_optimizer:Lamb",
        "lamb",
        _ADAM_ARGS,
        True,
        (1e-4, 1e-2),
        "001 §Batch Size: LAMB for very large batches (You et al. 2020)",
        extra="optim",
    ),
):
    OPTIMIZERS.register(info.name, info, info.source)


def build_optimizer(cfg: OptimizerConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """Construct the optimizer named in ``cfg`` over prepared parameter groups (see param_groups.py), at ``cfg.peak``."""

    info = OPTIMIZERS.get(cfg.name, "optimizer.name")
    cls = info.load()
    kwargs: dict[str, Any] = {a: getattr(cfg, a) for a in info.args}
    kwargs["lr"] = cfg.peak
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if info.supports_fused:
        on_cuda = all(p.is_cuda for g in groups for p in g["params"])
        # Fused kernels are the fast path on CUDA; on CPU torch's foreach path is as fast and always available.
        use = on_cuda if cfg.fused is None else cfg.fused
        if use:
            kwargs["fused"] = True
    kwargs.update(cfg.kwargs)
    # Group-level lr and weight_decay (set by param_groups) win over the constructor defaults.
    optimizer: torch.optim.Optimizer = cls(groups, **kwargs)
    return optimizer
