"""Precision as strategy objects, so the training loop has no dtype branches.

Each strategy offers the same five moves: ``autocast()`` around the forward pass, ``backward(loss)``,
``unscale(optimizer)`` before clipping, ``step(optimizer) -> bool`` (False when the update was skipped)
and ``update()`` after the step; ``step_or_skip(optimizer, flag)`` replaces ``step`` on the deferred
CUDA path (step.py), where the device skips the update. fp16 needs loss scaling (torch.amp.GradScaler)
because its range underflows small gradients; bf16 has fp32's range, so it needs none (002 §Mixed Precision).

``resolve_precision("auto", device)`` returns the choice together with its reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem
from trainwell.registry import Registry

if TYPE_CHECKING:
    import torch


_NO_AUTOCAST = contextlib.nullcontext()  # reusable and stateless: one instance for every step


class PrecisionStrategy:
    """fp32: no autocast, plain backward and step. The base the other strategies refine.

    ``scales_loss`` is True when non-finite gradients are an expected, handled event (fp16 loss
    scaling skips those steps itself), so the engine must not treat them as a NaN failure.
    """

    name = "fp32"
    scales_loss = False

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return _NO_AUTOCAST

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Make ``.grad`` hold true gradients (needed before clipping or measuring the norm)."""

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Apply the update; False when it was skipped (only loss scaling ever skips)."""
        optimizer.step()
        return True

    def step_or_skip(self, optimizer: torch.optim.Optimizer, skip: torch.Tensor) -> None:
        """Step, skipped on the device when the bool tensor ``skip`` is true: no host sync. Only for
        optimizers whose step reads ``found_inf`` (torch's fused Adam/AdamW, see step.skips_on_device);
        it is the attribute GradScaler sets for them. Gradients are already true (unscaled)."""
        optimizer.grad_scale = None  # type: ignore[attr-defined]
        optimizer.found_inf = skip.float()  # type: ignore[attr-defined]
        try:
            optimizer.step()
        finally:
            del optimizer.grad_scale  # type: ignore[attr-defined]
            del optimizer.found_inf  # type: ignore[attr-defined]

    def update(self) -> None:
        """Per-step bookkeeping after ``step`` (the loss scale's growth or backoff)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None

    def hold_frozen(self, model: torch.nn.Module) -> str | None:
        """Store ``model``'s frozen weights in this precision's compute dtype where that is safe; returns
        what was done, for the run's record, or None. fp32: nothing to do."""
        return None

    def describe(self) -> str:
        return self.name


class BF16Precision(PrecisionStrategy):
    """bf16 autocast: matmuls in bfloat16, reductions in fp32; same exponent range as fp32, no scaler."""

    name = "bf16"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def hold_frozen(self, model: torch.nn.Module) -> str | None:
        """On a GPU, store the frozen floating-point weights in bf16 (a LoRA base, as peft/TRL users load
        it): autocast casts them to bf16 for every matmul anyway, so the forward changes only in the ops
        autocast leaves alone (embedding lookups, residual adds), while their memory halves. Trained weights,
        their gradients and optimizer state stay fp32, so no update is lost to bf16 rounding.

        On CPU they stay fp32: the run's memory is not the GPU's, and bf16 weights would make every op
        autocast does not cover run in bf16 on a CPU that may lack native bf16 arithmetic.
        """
        import torch

        if self.device.type != "cuda":
            return None
        frozen = [p for p in model.parameters() if not p.requires_grad and p.dtype == torch.float32]
        for param in frozen:
            param.data = param.data.to(torch.bfloat16)  # the same Parameter object: tied weights stay tied
        saved = 2 * sum(p.numel() for p in frozen)
        return f"frozen weights held in bf16 ({saved / 2**20:.0f} MB saved)" if frozen else None


class FP16Precision(PrecisionStrategy):
    """fp16 autocast with dynamic loss scaling (torch.amp.GradScaler); skips steps whose grads overflow."""

    name = "fp16"
    scales_loss = True

    def __init__(self, device: torch.device) -> None:
        import torch

        super().__init__(device)
        self.scaler = torch.amp.GradScaler(device.type)
        self._unscaled = False

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        return torch.autocast(device_type=self.device.type, dtype=torch.float16)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        if not self._unscaled:  # GradScaler refuses a second unscale_ in one step
            self.scaler.unscale_(optimizer)
            self._unscaled = True

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        # GradScaler.step calls optimizer.step() only when every gradient is finite; a post-step hook
        # (public API) tells us whether it did, without reading GradScaler's private state.
        stepped: list[bool] = []
        handle = optimizer.register_step_post_hook(lambda *_: stepped.append(True))
        try:
            self.scaler.step(optimizer)
        finally:
            handle.remove()
        return bool(stepped)

    # step_or_skip is the base one: unscale_ recorded the overflow check that update() backs off on, and
    # ``skip`` covers it (an overflow makes the norm non-finite), so the step bypasses GradScaler.step.

    def update(self) -> None:
        self.scaler.update()
        # The step ends here, stepped or not: a step the engine skips before step() (a non-finite loss)
        # must not leave the next step's gradients scaled.
        self._unscaled = False

    def state_dict(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])

    def describe(self) -> str:
        return f"fp16 (loss scale {self.scaler.get_scale():g})"


PrecisionFactory = Callable[["torch.device"], PrecisionStrategy]
PRECISIONS: Registry[PrecisionFactory] = Registry("precision")
PRECISIONS.register("fp32", PrecisionStrategy, "full fp32: the safe baseline")
PRECISIONS.register("bf16", BF16Precision, "bf16 autocast: fp32's range, half the memory traffic; no loss scaling needed")
PRECISIONS.register("fp16", FP16Precision, "fp16 autocast + dynamic loss scaling (GradScaler); for GPUs without bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    name: str
    reason: str


def _bf16_supported(device: torch.device) -> bool:
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return device.type == "cpu"  # CPU autocast supports bf16 on every torch >= 1.10


def resolve_precision(requested: str, device: torch.device | str) -> PrecisionChoice:
    """The precision to train with on ``device`` and why. Refuses a combination the device cannot run."""
    import torch

    dev = torch.device(device)
    if requested == "auto":
        if dev.type == "cuda" and _bf16_supported(dev):
            return PrecisionChoice("bf16", "auto: this GPU supports bf16, which needs no loss scaling (002 §Mixed Precision)")
        if dev.type == "cuda":
            return PrecisionChoice("fp16", "auto: this GPU lacks bf16, so fp16 with dynamic loss scaling")
        return PrecisionChoice("fp32", f"auto: on {dev.type} fp32 is the fast, exact path for small models")
    if requested == "fp16" and dev.type != "cuda":
        raise ConfigError(
            problems=[
                Problem(
                    "training.precision",
                    f"fp16 with loss scaling needs CUDA, not {dev.type}",
                    "fp16",
                    "use precision: bf16 or fp32, or auto",
                )
            ]
        )
    if requested == "bf16" and not _bf16_supported(dev):
        raise ConfigError(
            problems=[
                Problem(
                    "training.precision",
                    f"bf16 is not supported on this {dev.type} device",
                    "bf16",
                    "use precision: auto (picks fp16 with loss scaling) or fp32",
                )
            ]
        )
    PRECISIONS.get(requested, "training.precision")
    return PrecisionChoice(requested, f"requested in training.precision ({requested})")


def build_precision(requested: str, device: torch.device | str) -> tuple[PrecisionStrategy, PrecisionChoice]:
    """Resolve ``requested`` for ``device`` and construct the strategy."""
    import torch

    dev = torch.device(device)
    choice = resolve_precision(requested, dev)
    return PRECISIONS.get(choice.name, "training.precision")(dev), choice
