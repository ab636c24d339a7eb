"""One optimizer step over an accumulation window: forward, backward, unscale, clip, step.

Accumulation is normalised by the real number of items in the window: each micro-batch's mean loss is
weighted by its share of the window's items, so the summed gradient equals the gradient of the mean
loss over the whole window, the short last window of an epoch included. (Dividing by k instead, as
Lightning does and HF Trainer did until PR #34191, over-weights the items of a short micro-batch.)

The step makes one host sync (the loss, then the pre-clip grad norm that is ready with it): it is what
catching a non-finite value at the step where it happens costs, and GradScaler pays it anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch

from trainwell.engine.batches import forward_logits, move_to_device
from trainwell.engine.precision import PrecisionStrategy

Status = Literal["ok", "overflow", "nonfinite"]


class StepOutcome(NamedTuple):  # a tuple: built once per step, so it must be cheap
    status: Status  # ok: updated; overflow: the loss scaler skipped it; nonfinite: NaN/Inf caught, no update
    loss: float  # mean loss per item over the window
    grad_norm: float  # global gradient norm before clipping
    items: int
    lr: float  # the LR this step used (first parameter group)


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
    ) -> None:
        self.model, self.loss_fn, self.optimizer, self.precision = model, loss_fn, optimizer, precision
        self.max_grad_norm = max_grad_norm
        self.device = device
        # Batches from a DataLoader are already on the CPU; moving them is a no-op we can skip per step.
        self._move = device.type != "cpu"
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def window_loss(self, window: list[tuple[Any, Any]]) -> tuple[torch.Tensor, int]:
        """Forward and backward every micro-batch; returns the window's mean loss (detached) and item count."""
        counts = [items_in(target) for _, target in window]
        total_items = sum(counts)
        total: torch.Tensor | None = None
        for (inputs, target), n in zip(window, counts):
            if self._move:
                inputs, target = move_to_device(inputs, self.device), move_to_device(target, self.device)
            with self.precision.autocast():
                loss = self.loss_fn(forward_logits(self.model, inputs), target)
            if len(window) > 1:
                loss = loss * (n / total_items)  # mean over this micro-batch -> sum / items in window
            self.precision.backward(loss)
            # One micro-batch: its loss is the window's (read with .item(), no graph is kept alive).
            total = loss if total is None else total.detach() + loss.detach()
        assert total is not None, "an accumulation window holds at least one batch"
        return total, total_items

    def grad_norm(self) -> torch.Tensor:
        """The pre-clip global norm; clips in place when max_grad_norm is set."""
        if self.max_grad_norm is not None:
            return torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        grads = [p.grad for p in self.params if p.grad is not None]
        return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=self.device)

    def run(self, window: list[tuple[Any, Any]]) -> StepOutcome:
        lr = float(self.optimizer.param_groups[0]["lr"])
        loss, items = self.window_loss(window)
        self.precision.unscale(self.optimizer)  # true gradients before measuring and clipping them
        norm = self.grad_norm()
        loss_value = loss.item()  # the step's one sync; the norm is ready once the loss is
        norm_value = norm.item()
        bad_grad = not math.isfinite(norm_value) and not self.precision.scales_loss
        if not math.isfinite(loss_value) or bad_grad:
            self.precision.update()  # lets fp16 back off its scale; a no-op otherwise
            self.optimizer.zero_grad(set_to_none=True)
            return StepOutcome("nonfinite", loss_value, norm_value, items, lr)
        stepped = self.precision.step(self.optimizer)
        self.precision.update()
        self.optimizer.zero_grad(set_to_none=True)
        return StepOutcome("ok" if stepped else "overflow", loss_value, norm_value, items, lr)
