"""A step under torchrun communicates nothing besides DDP's gradient all-reduce (engine/step.py): every rank
knows the window's items from the sampler, and the NaN decision is read off the reduced gradients, the same on
every rank, a rank whose own loss is not finite making them NaN. Here the sampler's count against the batches
the ranks really read, and (slow: two processes, each importing torch) a NaN or an fp16 overflow on one rank
deciding the same on both, against one process at double the batch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from trainwell.engine.distributed import data_parallel
from trainwell.engine.precision import FP16Precision, PrecisionStrategy
from trainwell.engine.sampler import EpochBatchSampler
from trainwell.engine.step import StepOutcome, StepRunner

CPU = torch.device("cpu")


@pytest.mark.parametrize(("n", "batch", "world"), [(1437, 16, 2), (100, 7, 3), (10, 4, 4), (9, 4, 2), (64, 8, 2)])
def test_every_rank_knows_the_rows_all_ranks_read(n: int, batch: int, world: int) -> None:
    """The short last batch of an epoch, split unevenly, and a tail too short to split, dropped (``used``)."""
    samplers = [EpochBatchSampler(n, batch, seed=3, rank=r, world=world) for r in range(world)]
    read = [list(s) for s in samplers]
    assert len({len(r) for r in read}) == 1
    for b in range(len(read[0])):
        for count in (1, 2, 3):
            real = sum(len(read[r][i]) for r in range(world) for i in range(b, min(b + count, len(read[0]))))
            assert all(s.rows(b, count) == real for s in samplers), (b, count)
    assert samplers[0].rows(len(read[0]), 1) == 0


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def _batches(rank: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Three steps' batches of 6 rows per rank: fine, NaN on rank 1 only, fine."""
    g = torch.Generator().manual_seed(10 + rank)
    out = [(torch.randn(6, 4, generator=g), torch.randint(0, 3, (6,), generator=g)) for _ in range(3)]
    if rank == 1:
        out[1] = (out[1][0] * math.nan, out[1][1])
    return out


def _worker(rank: int, store: str, out: str, fp16: bool) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        model = _model()
        precision = FP16Precision(CPU) if fp16 else PrecisionStrategy(CPU)
        runner = StepRunner(
            data_parallel(model, CPU), torch.nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
            precision, None, CPU, world=2,
        )  # fmt: skip
        batches = _batches(rank)
        if fp16:  # an overflow on rank 1 alone: finite losses, gradients past fp16's scaled range
            batches[2] = (batches[2][0] * (1e3 if rank == 1 else 1.0), batches[2][1])
        outcomes = []
        for x, y in batches:
            outcome = runner.run([(x, y)], rows=12)
            assert isinstance(outcome, StepOutcome)
            outcomes.append((outcome.status, outcome.loss, outcome.items))
        torch.save({"outcomes": outcomes, "weights": [p.detach().clone() for p in model.parameters()]}, f"{out}.{rank}")
    finally:
        torch.distributed.destroy_process_group()


def _two_ranks(tmp_path: Path, fp16: bool) -> list[dict[str, Any]]:
    out = tmp_path / "result"
    torch.multiprocessing.spawn(_worker, args=(str(tmp_path / "store"), str(out), fp16), nprocs=2, join=True)
    return [torch.load(f"{out}.{r}") for r in range(2)]


def _one_process(steps: list[int]) -> tuple[list[float], list[torch.Tensor]]:
    """One process over both ranks' rows of the given steps: their mean losses and the weights after them."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for i in steps:
        x = torch.cat([_batches(0)[i][0], _batches(1)[i][0]])
        y = torch.cat([_batches(0)[i][1], _batches(1)[i][1]])
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses, [p.detach() for p in model.parameters()]


@pytest.mark.slow
def test_a_nan_on_one_rank_skips_the_step_on_every_rank(tmp_path: Path) -> None:
    ranks = _two_ranks(tmp_path, fp16=False)
    for r in ranks:
        assert [o[0] for o in r["outcomes"]] == ["ok", "nonfinite", "ok"]
        assert [o[2] for o in r["outcomes"]] == [12, 12, 12]  # every rank's items
    assert math.isnan(ranks[1]["outcomes"][1][1]) and math.isfinite(ranks[0]["outcomes"][1][1])  # its own part of the loss
    for a, b in zip(ranks[0]["weights"], ranks[1]["weights"]):
        assert torch.equal(a, b)  # the same decisions, the same weights
    losses, weights = _one_process([0, 2])  # the NaN step updated nothing
    for i, expected in zip((0, 2), losses):  # the ranks' parts add up to the mean loss over both
        assert ranks[0]["outcomes"][i][1] + ranks[1]["outcomes"][i][1] == pytest.approx(expected, abs=1e-6)
    for p, q in zip(ranks[0]["weights"], weights):
        assert torch.allclose(p, q, atol=1e-6)


@pytest.mark.slow
def test_fp16_tells_a_nan_on_one_rank_from_an_overflow_on_one_rank_on_every_rank(tmp_path: Path) -> None:
    """A NaN loss counts against nan_policy, an overflow is the scaler's skip: both ranks say which, alike."""
    ranks = _two_ranks(tmp_path, fp16=True)
    for r in ranks:
        assert [o[0] for o in r["outcomes"]] == ["ok", "nonfinite", "overflow"]
    for a, b in zip(ranks[0]["weights"], ranks[1]["weights"]):
        assert torch.equal(a, b)
