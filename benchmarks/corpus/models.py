"""The corpus's model families, each built from (width, depth, dropout) so one setting differs from another
in size only. The MLP is the built-in tasks' own (trainwell.tasks._models.mlp); the rest are plain torch."""

from __future__ import annotations

import torch
from torch import nn

from trainwell.tasks._models import mlp


class CNN(nn.Module):
    """``depth`` conv blocks (BatchNorm, ReLU, max-pool after each), channels doubling from ``width``, then a
    4x4 adaptive average pool and a linear head: works on 28x28 Fashion-MNIST and 16x16 USPS alike."""

    def __init__(self, width: int, depth: int, dropout: float, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i in range(depth):
            cout = width * 2**i
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin * 16, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


class LSTMClassifier(nn.Module):
    """Word embeddings (width), a ``depth``-layer LSTM (width units), mean over the real tokens, a linear head."""

    def __init__(self, vocab: int, width: int, depth: int, dropout: float, num_classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width, padding_idx=0)
        self.lstm = nn.LSTM(width, width, num_layers=depth, batch_first=True, dropout=dropout if depth > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.drop(self.embed(ids)))
        return self.head(self.drop(_masked_mean(h, ids != 0)))


class TinyTransformer(nn.Module):
    """A pre-norm transformer encoder from scratch: word + position embeddings (width), ``depth`` layers of
    4 heads with a 2x feed-forward, mean over the real tokens, a linear head."""

    def __init__(self, vocab: int, max_len: int, width: int, depth: int, dropout: float, num_classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width, padding_idx=0)
        self.pos = nn.Embedding(max_len, width)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != 0
        pos = torch.arange(ids.shape[1], device=ids.device)
        h = self.encoder(self.embed(ids) + self.pos(pos), src_key_padding_mask=~mask)
        return self.head(_masked_mean(self.norm(h), mask))


class Head(nn.Module):
    """The trainable part of a frozen-encoder classifier: dropout and a linear layer on pooled features."""

    def __init__(self, width: int, dropout: float, num_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


__all__ = ["CNN", "Head", "LSTMClassifier", "TinyTransformer", "mlp"]
