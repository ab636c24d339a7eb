"""Parameter groups: no weight decay on biases, norm and other 1-D parameters; per-pattern LR scales.

Weight decay on a bias or a LayerNorm gain only pulls it toward zero, which hurts (001 §Weight Decay:
"Always exclude biases and norm layers"; timm does the same by ndim <= 1).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import OptimizerConfig


def _exempt(name: str, param: torch.Tensor, no_decay: list[str]) -> bool:
    lowered = name.lower()
    return param.ndim <= 1 or any(frag.lower() in lowered for frag in no_decay)


def param_groups(model: torch.nn.Module, cfg: OptimizerConfig) -> list[dict[str, Any]]:
    """Split trainable parameters into groups by (lr_scale, weight_decay). A scale of 0 freezes.

    Each group's LR is ``cfg.peak`` x its ``lr_scale`` (recorded, so schedules multiply the scaled LR),
    with ``names`` for reports.
    """
    lr = cfg.peak
    buckets: dict[tuple[float, float], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        scale, decay = 1.0, cfg.weight_decay
        for group in cfg.param_groups:  # the last matching pattern wins, like CSS
            if fnmatch.fnmatch(name, group.pattern):
                scale = group.lr_scale
                if group.weight_decay is not None:
                    decay = group.weight_decay
        if scale == 0.0:
            param.requires_grad_(False)  # frozen by config: a frozen backbone
            continue
        if _exempt(name, param, cfg.no_decay):
            decay = 0.0
        key = (scale, decay)
        bucket = buckets.setdefault(key, {"params": [], "names": [], "lr": lr * scale, "weight_decay": decay, "lr_scale": scale})
        bucket["params"].append(param)
        bucket["names"].append(name)
    return list(buckets.values())
