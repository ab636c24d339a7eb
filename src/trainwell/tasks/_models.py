"""Small models for the built-in tasks. Built inside functions so importing the catalog never imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def mlp(in_features: int, hidden: int, layers: int, dropout: float, out_features: int) -> torch.nn.Module:
    """``layers`` hidden Linear-ReLU-Dropout blocks of width ``hidden``, then a linear head (logits)."""
    from torch import nn

    blocks: list[nn.Module] = []
    width = in_features
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden
    blocks.append(nn.Linear(width, out_features))
    return nn.Sequential(*blocks)


def small_cnn(channels: int, dropout: float, num_classes: int) -> torch.nn.Module:
    """Two conv blocks (c, 2c channels) with BatchNorm and max-pooling on 1x28x28 inputs, then an MLP head.

    BatchNorm lets the recipe use a high LR with AdamW; the 7x7 map after two pools keeps the head small.
    """
    from torch import nn

    c = channels

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, c),
        *block(c, c),
        nn.MaxPool2d(2),
        *block(c, 2 * c),
        *block(2 * c, 2 * c),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(2 * c * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, num_classes),
    )
