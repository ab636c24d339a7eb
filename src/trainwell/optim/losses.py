"""Loss registry: cross-entropy (label smoothing, class weights), focal, MSE and BCE-with-logits.

Class weights ``auto`` are inverse class frequency, normalised so a balanced set gets all ones
(N / (K x n_c), sklearn's "balanced"). 004 §Loss Selection Guide picks weighted CE for 1:5–1:10
imbalance and focal loss (gamma 2) beyond 1:10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem
from trainwell.registry import Registry

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import LossConfig

LossBuilder = Callable[["LossConfig", "torch.Tensor | None"], "torch.nn.Module"]
LOSSES: Registry[LossBuilder] = Registry("loss")


def class_weights(spec: str | Sequence[float], labels_count: Sequence[int] | None, field: str) -> torch.Tensor | None:
    """Resolve 'none' | 'auto' | explicit list into a weight tensor (or None)."""
    import torch

    if spec == "none":
        return None
    if spec == "auto":
        if labels_count is None:
            raise ConfigError(
                problems=[
                    Problem(
                        field, "'auto' needs the training labels' class counts", spec, "give explicit weights, or a classification task"
                    )
                ]
            )
        counts = torch.tensor(list(labels_count), dtype=torch.float32).clamp(min=1)
        return counts.sum() / (len(counts) * counts)
    weights = torch.tensor(list(spec), dtype=torch.float32)
    if labels_count is not None and len(weights) != len(labels_count):
        raise ConfigError(
            problems=[
                Problem(
                    field, f"needs one weight per class ({len(labels_count)})", list(spec), f"give {len(labels_count)} weights or 'auto'"
                )
            ]
        )
    return weights


def _focal_module() -> type:
    import torch
    import torch.nn.functional as F

    class FocalLoss(torch.nn.Module):
        """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma, optional class weights."""

        def __init__(self, gamma: float, alpha: torch.Tensor | None) -> None:
            super().__init__()
            self.gamma = gamma
            self.register_buffer("alpha", alpha if alpha is not None else None, persistent=False)

        def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            log_p = F.log_softmax(logits.float(), dim=-1)
            log_pt = log_p.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            loss = -((1.0 - log_pt.exp()) ** self.gamma) * log_pt
            alpha = self.alpha
            if isinstance(alpha, torch.Tensor):
                loss = loss * alpha[target]
            return loss.mean()

    return FocalLoss


@LOSSES.decorator("cross_entropy")
def _cross_entropy(cfg: LossConfig, weights: torch.Tensor | None) -> torch.nn.Module:
    """Cross-entropy with optional label smoothing and class weights."""
    import torch

    return torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=cfg.label_smoothing)


@LOSSES.decorator("focal")
def _focal(cfg: LossConfig, weights: torch.Tensor | None) -> torch.nn.Module:
    """Focal loss for severe class imbalance (1:10 and beyond)."""
    module: torch.nn.Module = _focal_module()(cfg.focal_gamma, weights)
    return module


@LOSSES.decorator("mse")
def _mse(cfg: LossConfig, weights: torch.Tensor | None) -> torch.nn.Module:
    """Mean squared error, for regression."""
    import torch

    return torch.nn.MSELoss()


@LOSSES.decorator("bce_with_logits")
def _bce(cfg: LossConfig, weights: torch.Tensor | None) -> torch.nn.Module:
    """Binary cross-entropy on logits; class weights become pos_weight (negatives / positives)."""
    import torch

    pos_weight = None
    if weights is not None and len(weights) == 2:
        pos_weight = (weights[1] / weights[0]).reshape(1)
    return torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)


def build_loss(cfg: LossConfig, labels_count: Sequence[int] | None = None) -> Any:
    """The loss module for ``cfg``; ``labels_count`` (per-class counts) resolves 'auto' weights."""
    builder = LOSSES.get(cfg.name, "loss.name")
    spec = cfg.focal_alpha if cfg.name == "focal" else cfg.class_weights
    field = "loss.focal_alpha" if cfg.name == "focal" else "loss.class_weights"
    return builder(cfg, class_weights(spec, labels_count, field))
