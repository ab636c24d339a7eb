"""A seedable batch sampler: the data order is a pure function of (seed, epoch), and it can start at
any batch, which is how a resumed run skips the batches it has already seen without reading them."""

from __future__ import annotations

from collections.abc import Iterator

import torch


class EpochBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of indices for one epoch: shuffled by ``seed + epoch`` (or in order), from ``start`` on."""

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.epoch = 0
        self.start = 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch ``epoch`` from batch index ``start`` (0 = the whole epoch)."""
        self.epoch, self.start = epoch, start

    def order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        # A private generator: the order never depends on, or disturbs, the global RNG.
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order().tolist()
        for b in range(self.start, len(self)):
            yield order[b * self.batch_size : (b + 1) * self.batch_size]

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size
