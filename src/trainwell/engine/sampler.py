"""A seedable batch sampler: the data order is a pure function of (seed, epoch), and it can start at
any batch, which is how a resumed run skips the batches it has already seen without reading them.

Under torchrun every rank draws the same order and takes its own contiguous slice of each global batch
(``batch_size x world``): rank r's batch b is items ``[b*G + r*B, b*G + (r+1)*B)`` of the order, so the
ranks' batches are disjoint and together are exactly the batch one process at ``B x world`` would read.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class EpochBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of indices for one epoch: shuffled by ``seed + epoch`` (or in order), from ``start`` on;
    ``rank``'s share of each global batch when ``world`` > 1."""

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.rank, self.world = rank, world
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

    def used(self) -> int:
        """Items of the order one epoch reads: a final global batch with fewer items than ranks is left
        out (some rank would get none, and every rank must step together)."""
        g = self.batch_size * self.world
        rest = self.n % g
        return self.n - rest if 0 < rest < self.world else self.n

    def rows(self, start: int, count: int = 1) -> int:
        """Items of batches ``start`` .. ``start + count - 1`` over every rank (what one process at
        ``batch_size x world`` reads there): each rank knows every rank's share without asking."""
        g = self.batch_size * self.world
        return max(0, min(self.used(), (start + count) * g) - start * g)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order()[: self.used()].tolist()
        g = self.batch_size * self.world
        for b in range(self.start, len(self)):
            chunk = order[b * g : (b + 1) * g]
            m = len(chunk)  # a short last chunk is split as evenly as it goes, in order
            lo, hi = (
                (self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
                if m == g
                else (self.rank * m // self.world, (self.rank + 1) * m // self.world)
            )
            yield chunk[lo:hi]

    def __len__(self) -> int:
        g = self.batch_size * self.world
        return (self.used() + g - 1) // g
