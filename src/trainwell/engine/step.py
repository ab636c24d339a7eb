"""One optimizer step over an accumulation window: forward, backward, unscale, clip, step.

Accumulation is normalised by the real number of items in the window: each micro-batch's mean loss is
weighted by its share of the window's items, so the summed gradient equals the gradient of the mean
loss over the whole window, the short last window of an epoch included. (Dividing by k instead, as
Lightning does and HF Trainer did until PR #34191, over-weights the items of a short micro-batch.)

Two ways to catch a non-finite loss or gradient norm before it updates the weights:

- synced (CPU, and any optimizer that cannot skip on the device): one host sync per step reads the
  loss and the norm, and the host decides. On a CPU that sync is free.
- deferred (``defer=True``; the loop uses it on CUDA with torch's fused Adam/AdamW): nothing is read.
  A device flag ``found_inf`` = "loss or norm not finite, or the run already halted" is handed to the
  fused step, which then leaves weights, moments and its step count untouched (the protocol GradScaler
  uses). ``run`` returns a ``PendingStep`` holding the loss and norm on the device; the loop reads all
  pending steps at its next log/eval/checkpoint point (one sync) and replays the NaN policy on them.
  So that the replay's decision is the state the weights are in, the device also tracks the policy:
  under ``nan_policy: stop`` every step after the first bad one is skipped ("halted"), and under
  ``skip`` every step after ``max_nan_skips`` bad ones in a row.

Under torchrun (DDP or FSDP) a step communicates nothing besides the gradient reduction: every rank knows
the window's items (the sampler's), and decides the NaN policy on the reduced gradients' norm, the same on
every rank (``StepRunner._window_loss_shared``, ``StepRunner.status``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch

from trainwell.compat import steps_with_amp_scaling
from trainwell.engine.batches import forward_logits, move_to_device
from trainwell.engine.distributed import all_sum, full_value, gradient_sync
from trainwell.engine.precision import PrecisionStrategy

Status = Literal["ok", "overflow", "nonfinite"]


class StepOutcome(NamedTuple):  # a tuple: built once per step, so it must be cheap
    status: Status  # ok: updated; overflow: the loss scaler skipped it; nonfinite: NaN/Inf caught, no update
    loss: float  # mean loss per item over the window
    grad_norm: float  # global gradient norm before clipping
    items: int
    lr: float  # the LR this step used (first parameter group)


class PendingStep(NamedTuple):
    """A deferred step: its loss and norm are still on the device (read at the loop's next sync point)."""

    values: torch.Tensor  # float32 [loss, grad_norm]
    items: int
    lr: float


def status_of(loss: float, grad_norm: float, scales_loss: bool) -> Status:
    """What a step with these values did: with loss scaling, non-finite gradients are an overflow the
    scaler skips; otherwise they are a NaN failure, like a non-finite loss."""
    if not math.isfinite(loss):
        return "nonfinite"
    if not math.isfinite(grad_norm):
        return "overflow" if scales_loss else "nonfinite"
    return "ok"


def skips_on_device(optimizer: torch.optim.Optimizer) -> bool:
    """True for torch's fused Adam/AdamW: their step reads ``optimizer.found_inf`` and, when it is 1,
    leaves weights, moments and the step count unchanged without a host sync. Fused SGD is left out:
    a skipped first step leaves its momentum buffers uninitialised (torch allocates them with
    empty_like before the kernel that skips)."""
    return steps_with_amp_scaling(optimizer) and isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))


def items_in(target: Any) -> int:
    return int(target.shape[0]) if isinstance(target, torch.Tensor) else len(target)


class StepRunner:
    """Runs training steps for one model/optimizer/precision; holds no per-run state of its own."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable[..., torch.Tensor],
        optimizer: torch.optim.Optimizer,
        precision: PrecisionStrategy,
        max_grad_norm: float | None,
        device: torch.device,
        defer: bool = False,
        nan_policy: str = "stop",
        max_nan_skips: int = 10,
        count_items: Callable[[Any], int] | None = None,
        world: int = 1,
    ) -> None:
        """``world`` > 1: ``model`` is a DistributedDataParallel (or FSDP) model in a process group of that
        size, and ``run`` is given the window's rows over every rank."""
        self.model, self.loss_fn, self.optimizer, self.precision = model, loss_fn, optimizer, precision
        self.max_grad_norm = max_grad_norm
        self.device = device
        if defer and not skips_on_device(optimizer):
            raise ValueError(f"deferred steps need an optimizer that skips on the device, not {type(optimizer).__name__}")
        if defer and world > 1 and precision.scales_loss:  # telling a NaN from an overflow takes every rank's loss
            raise ValueError("deferred steps under torchrun need a precision without loss scaling (fp16 steps are synced)")
        self.defer, self.nan_policy, self.max_nan_skips = defer, nan_policy, max_nan_skips
        self.reset_guard(0)
        # Batches from a DataLoader are already on the CPU; moving them is a no-op we can skip per step.
        self._move = device.type != "cpu"
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.count_items = count_items  # the task's weight of a micro-batch (tokens for an LM); None: its rows
        self.world = world

    def window_loss(self, window: list[tuple[Any, Any]], rows: int | None = None) -> tuple[torch.Tensor | float, int]:
        """Forward and backward every micro-batch; returns the window's mean loss (detached; under torchrun
        this rank's part of it, see ``_window_loss_shared``) and item count (``rows``: over every rank)."""
        counts = [items_in(target) for _, target in window]
        weights = counts if self.count_items is None else [self.count_items(target) for _, target in window]
        if self.world > 1:
            assert rows is not None, "under torchrun the loop passes the window's rows over every rank (the sampler's)"
            return self._window_loss_shared(window, weights, rows)
        total_weight = sum(weights)
        total: torch.Tensor | None = None
        for (inputs, target), n in zip(window, weights):
            loss = self._forward(inputs, target)
            if len(window) > 1:
                loss = loss * (n / max(1, total_weight))  # mean over this micro-batch -> sum / items in window
            self.precision.backward(loss)
            # One micro-batch: its loss is the window's (read with .item(), no graph is kept alive).
            total = loss if total is None else total.detach() + loss.detach()
        assert total is not None, "an accumulation window holds at least one batch"
        return total, sum(counts)

    def _window_loss_shared(self, window: list[tuple[Any, Any]], weights: list[int], rows: int) -> tuple[torch.Tensor | float, int]:
        """The window under DDP or FSDP, with no collective besides their gradient reduction (for a row-weighted task).

        A micro-batch's weight is its share of every rank's items. For rows that total is the sampler's
        (``EpochBatchSampler.rows``: every rank knows every rank's share, the short last batch of an epoch
        included); a token-weighted task (``count_items``) sums its tokens over the ranks first, one
        all-reduce of one number. Each micro-batch's mean loss is weighted ``world x n / total`` and the
        reduction averages the ranks' gradients (synchronised on the last micro-batch only: ``no_sync``
        before it), which gives the gradient of the mean loss over every rank's items.

        Nothing else is communicated. The reduced gradients are the same on every rank, so their norm, and
        with it the NaN decision (``_step_synced``), is the same on each; a rank whose own losses are not
        finite makes sure the gradients say so (it backpropagates NaN), so a NaN on one rank skips the step on
        all, as one process skips it. The returned loss is this rank's part of the window's mean (its loss
        sum over ``total``): the ranks' parts add up to it, and the loop sums them at log steps.

        Each torch call here is work a plain DDP loop does not do, on every step (benchmarks/ddp_step.py),
        so the usual window, one micro-batch of a full batch with an fp32 loss, adds only its loss sum (a
        multiply) and one host read of it (on the synced path the step reads its loss anyway)."""
        total = rows if self.count_items is None else all_sum([float(sum(weights))], self.device)[0]
        scale = self.world / max(1.0, total)
        earlier: torch.Tensor | None = None  # the loss sum (mean loss x weight) of the micro-batches before the last
        for (inputs, target), n in zip(window[:-1], weights):  # no_sync: the gradients add up locally until the last
            with gradient_sync(self.model, False):
                loss = self._forward(inputs, target)
                self.precision.backward(loss * (n * scale))
            part = loss.detach().float() * n  # float32 sums for a half-precision loss
            earlier = part if earlier is None else earlier + part
        n = weights[-1]
        loss = self._forward(*window[-1])
        share = n * scale
        if self.defer:  # no host read: a factor that is NaN when this rank's losses are not finite
            local = loss.detach().float() * n + (earlier if earlier is not None else 0.0)
            self.precision.backward(loss * (local * 0.0 + share))
            return local / max(1.0, total), rows
        local_sum = loss.item() * n + (earlier.item() if earlier is not None else 0.0)
        if not math.isfinite(local_sum):
            share = math.nan  # every gradient NaN: the reduced ones, on every rank, then say this step failed
        self.precision.backward(loss if share == 1.0 else loss * share)  # 1.0: a full window of rows in one micro-batch
        return local_sum / max(1.0, total), rows

    def _forward(self, inputs: Any, target: Any) -> torch.Tensor:
        if self._move:  # batches from a DataLoader are already on the CPU
            inputs, target = move_to_device(inputs, self.device), move_to_device(target, self.device)
        with self.precision.autocast():
            return self.loss_fn(forward_logits(self.model, inputs), target)  # type: ignore[no-any-return]

    def grad_norm(self) -> torch.Tensor:
        """The pre-clip global norm; clips in place when max_grad_norm is set."""
        if self.max_grad_norm is not None:
            return full_value(torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm))
        grads = [p.grad for p in self.params if p.grad is not None]
        return full_value(torch.nn.utils.get_total_norm(grads)) if grads else torch.zeros((), device=self.device)

    def reset_guard(self, nan_skips_in_row: int) -> None:
        """Set the device-side NaN policy state from the host's (at start, resume and every sync)."""
        if self.defer:
            self._halted = torch.zeros((), dtype=torch.bool, device=self.device)
            self._in_row = torch.full((), nan_skips_in_row, dtype=torch.int64, device=self.device)

    def run(self, window: list[tuple[Any, Any]], rows: int | None = None) -> StepOutcome | PendingStep:
        """One step over ``window``; ``rows``: its items over every rank (the sampler's), needed under torchrun."""
        lr = float(self.optimizer.param_groups[0]["lr"])
        loss, items = self.window_loss(window, rows)
        self.precision.unscale(self.optimizer)  # true gradients before measuring and clipping them
        norm = self.grad_norm()
        outcome = self._step_deferred(loss, norm, items, lr) if self.defer else self._step_synced(loss, norm, items, lr)
        self.precision.update()  # the loss scale grows or backs off (fp16); a no-op otherwise
        self.optimizer.zero_grad(set_to_none=True)
        return outcome

    def _step_synced(self, loss: torch.Tensor | float, norm: torch.Tensor, items: int, lr: float) -> StepOutcome:
        """Read the loss and norm (the step's one sync) and step unless they say not to."""
        loss_value = loss if isinstance(loss, float) else loss.item()  # the norm is ready once the loss is
        norm_value = norm.item()
        status = self.status(loss_value, norm_value)
        # GradScaler hands a fused optimizer its found_inf and calls step() even on overflow, so the
        # precision's "stepped" alone would count a skipped step as an update: the status decides.
        if status != "nonfinite" and not self.precision.step(self.optimizer):
            status = "overflow"
        return StepOutcome(status, loss_value, norm_value, items, lr)

    def status(self, loss: float, norm: float) -> Status:
        """``status_of`` the step; under torchrun decided on what every rank holds alike, the reduced gradients'
        norm (a rank whose loss was not finite made it NaN: ``_window_loss_shared``), so every rank decides
        the same. Only fp16's non-finite norm asks for more: a NaN failure when some rank's loss was not finite,
        else an overflow the scaler skips; every rank is here together, and sums the losses once."""
        if self.world == 1:
            return status_of(loss, norm, self.precision.scales_loss)
        if math.isfinite(norm) or not self.precision.scales_loss:
            return status_of(0.0, norm, False)
        return status_of(all_sum([loss], self.device)[0], norm, True)

    def _step_deferred(self, loss: torch.Tensor | float, norm: torch.Tensor, items: int, lr: float) -> PendingStep:
        """Step without a host sync; the device skips the update when a value is not finite (see above)."""
        held = loss.detach().float() if isinstance(loss, torch.Tensor) else torch.tensor(loss, device=self.device)
        values = torch.stack([held, norm.detach().float()])
        finite = torch.isfinite(values)
        ok = finite[1] if self.world > 1 else finite.all()  # under torchrun what every rank holds alike (``status``)
        bad = ~finite[0] if self.precision.scales_loss else ~ok  # what counts against nan_policy
        self.precision.step_or_skip(self.optimizer, self._halted | ~ok)
        if self.nan_policy == "stop":
            self._halted |= bad
        else:  # overflow (not bad) resets the run of bad steps, as on the host
            self._in_row.add_(1).mul_(bad)
            self._halted |= self._in_row >= self.max_nan_skips
        return PendingStep(values, items, lr)
