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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from ctypes import c_float
from typing import Any, Literal, NamedTuple

import torch

from trainwell.compat import steps_with_amp_scaling
from trainwell.engine.batches import forward_logits, move_to_device
from trainwell.engine.distributed import StepScalars, full_value, gradient_sync
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
        signalled: Callable[[], bool] | None = None,
        window_weight: int = 1,
    ) -> None:
        """``world`` > 1: ``model`` is a DistributedDataParallel wrapper in a process group of that size and
        ``window_weight`` the weight of a full window over every rank (size x accumulation x world, in rows);
        ``signalled`` says whether this rank caught SIGINT/SIGTERM, which the step's one collective
        shares (``any_signalled``) so every rank stops after the same step."""
        self.model, self.loss_fn, self.optimizer, self.precision = model, loss_fn, optimizer, precision
        self.max_grad_norm = max_grad_norm
        self.device = device
        if defer and not skips_on_device(optimizer):
            raise ValueError(f"deferred steps need an optimizer that skips on the device, not {type(optimizer).__name__}")
        self.defer, self.nan_policy, self.max_nan_skips = defer, nan_policy, max_nan_skips
        self.reset_guard(0)
        # Batches from a DataLoader are already on the CPU; moving them is a no-op we can skip per step.
        self._move = device.type != "cpu"
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.count_items = count_items  # the task's weight of a micro-batch (tokens for an LM); None: its rows
        self.world, self.signalled, self.window_weight = world, signalled, window_weight
        self.any_signalled = False
        if world > 1:  # the step's scalars ride on DDP's gradient all-reduce (FSDP: an all-reduce of their own)
            self.scalars = StepScalars(model, world)

    def window_loss(self, window: list[tuple[Any, Any]]) -> tuple[torch.Tensor | float, int]:
        """Forward and backward every micro-batch; returns the window's mean loss (detached; under torchrun
        already a number, read with the step's scalars) and item count."""
        counts = [items_in(target) for _, target in window]
        weights = counts if self.count_items is None else [self.count_items(target) for _, target in window]
        if self.world > 1:
            return self._window_loss_ddp(window, weights, sum(counts))
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

    def _window_loss_ddp(self, window: list[tuple[Any, Any]], weights: list[int], items: int) -> tuple[float, int]:
        """The window under DDP, with no collective besides DDP's gradient all-reduce.

        The weight of a micro-batch is its share of every rank's items, and the ranks' item counts are
        only known together. Rather than sum them before the backward pass (a collective of its own), each
        rank weights its micro-batches by ``world x n / window_weight`` (the full window's weight, the same
        constant on every rank) and DDP averages the gradients (synchronised on the last micro-batch only:
        ``no_sync`` before it), the same all-reduce summing the real weight, the items, the loss sum and the
        interrupt flag (``distributed.StepScalars``). The gradients are then rescaled by ``window_weight /
        real weight``, which is exactly 1, and skipped, for every full window of rows; the short last window
        and token-weighted tasks pay one multiply over the gradients.

        Each torch call here is work a plain DDP loop does not do, on every step (profiled against one:
        benchmarks/ddp.py), so the usual window, one micro-batch with an fp32 loss, adds only its loss sum
        (a multiply) and the scalars (a 4-number tensor and its read); the loss is returned as that read's
        number, not as a new tensor to read again."""
        local: torch.Tensor | None = None  # this rank's loss sum, each micro-batch's mean loss times its weight
        last = len(window) - 1
        for i, ((inputs, target), n) in enumerate(zip(window, weights)):
            if i < last:  # no_sync: the gradients add up locally until the window's last micro-batch
                with gradient_sync(self.model, False):
                    loss = self._forward(inputs, target)
                    self.precision.backward(self._share(loss, n))
            else:
                loss = self._forward(inputs, target)
            part = loss.detach()
            part = (part if part.dtype == torch.float32 else part.float()) * n  # exact sums for a half-precision loss
            local = part if local is None else local + part
        assert local is not None, "an accumulation window holds at least one batch"
        flag = float(self.signalled()) if self.signalled is not None else 0.0
        weight, all_items, any_flag, loss_sum = self.scalars.backward(
            self.precision, self._share(loss, n), [sum(weights), items, flag], local
        )
        self.any_signalled = any_flag > 0
        if weight != self.window_weight:
            grads = [p.grad for p in self.params if p.grad is not None]
            torch._foreach_mul_(grads, self.window_weight / max(1.0, weight))
        # the mean over every rank's items, the same number on each rank (so every rank takes the same NaN
        # decision): a number already, rounded to float32 as a loss tensor's .item() gives it (no tensor to read)
        return c_float(loss_sum / max(1.0, weight)).value, int(all_items)

    def _share(self, loss: torch.Tensor, n: int) -> torch.Tensor:
        """A micro-batch's mean loss weighted by its share of the full window over every rank."""
        share = n * self.world / self.window_weight
        return loss if share == 1.0 else loss * share  # 1.0: a full window of rows split evenly

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

    def run(self, window: list[tuple[Any, Any]]) -> StepOutcome | PendingStep:
        lr = float(self.optimizer.param_groups[0]["lr"])
        loss, items = self.window_loss(window)
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
        status = status_of(loss_value, norm_value, self.precision.scales_loss)
        # GradScaler hands a fused optimizer its found_inf and calls step() even on overflow, so the
        # precision's "stepped" alone would count a skipped step as an update: the status decides.
        if status != "nonfinite" and not self.precision.step(self.optimizer):
            status = "overflow"
        return StepOutcome(status, loss_value, norm_value, items, lr)

    def _step_deferred(self, loss: torch.Tensor | float, norm: torch.Tensor, items: int, lr: float) -> PendingStep:
        """Step without a host sync; the device skips the update when a value is not finite (see above)."""
        held = loss.detach().float() if isinstance(loss, torch.Tensor) else torch.tensor(loss, device=self.device)
        values = torch.stack([held, norm.detach().float()])
        finite = torch.isfinite(values)
        bad = ~finite[0] if self.precision.scales_loss else ~finite.all()  # what counts against nan_policy
        self.precision.step_or_skip(self.optimizer, self._halted | ~finite.all())
        if self.nan_policy == "stop":
            self._halted |= bad
        else:  # overflow (not bad) resets the run of bad steps, as on the host
            self._in_row.add_(1).mul_(bad)
            self._halted |= self._in_row >= self.max_nan_skips
        return PendingStep(values, items, lr)
