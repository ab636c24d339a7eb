"""What the recommender knows about the model itself: size, width, depth, family and training mode.

:class:`ModelFacts` is plain data (no torch), so ``trainwell recommend --params/--width/--depth`` can
describe a model it never sees. :func:`read_model_facts` reads the same facts from an ``nn.Module`` when
trainwell has one (``train``, ``recommend --task``, the Python API, user tasks); torch is imported inside
it only, so importing this module stays cheap (tests/test_imports.py).

Width is what μP scales learning rates by (Yang et al. 2022, "Tensor Programs V"): the fan-in of the
hidden weight matrices. It is read as the median fan-in of every weight with two or more dimensions
except the first one, whose fan-in is the input's size, not a choice of the architect (an MLP on 64
pixels with 128 hidden units has width 128; a transformer's is d_model; an LSTM's is its hidden size, the
fan-in of its recurrent matrix). A CNN's width is its channel count: the input channels of its
convolutions after the first, or, with a single convolution, its output channels. The Linear layers after
its convolutions read a flattened C x H x W map, whose size is the image's, not a width (a 2-block CNN with
8 and 16 channels on 16x16 images read 132; a 1-block CNN with 8 channels read 128, and the LR law gave it
a 30x lower LR than the same network with two blocks).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem

if TYPE_CHECKING:
    import torch

FAMILIES = ("mlp", "cnn", "resnet", "transformer", "vit", "rnn", "llm")  # the recommender's model families
MODES = ("scratch", "finetune", "frozen")
FROZEN_BELOW = 0.5  # a model with under half its parameters trainable is a head on a frozen backbone
CONV_FAMILIES = ("cnn", "resnet")  # families whose width is a channel count


@dataclass(frozen=True)
class ModelFacts:
    """A model as the LR law reads it. Unknown facts stay ``None``; the law then uses its anchor's value."""

    family: str = "mlp"
    mode: str = "scratch"
    params: int | None = None  # all parameters
    trainable_params: int | None = None  # parameters the optimizer updates
    width: int | None = None  # median hidden fan-in (μP's width)
    depth: int | None = None  # weight matrices (Linear/Conv/recurrent/embedding), input to output

    def __post_init__(self) -> None:
        ConfigError.collect(self.problems())

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for name, choices in (("family", FAMILIES), ("mode", MODES)):
            value = getattr(self, name)
            if value not in choices:
                found.append(Problem(f"model.{name}", f"must be one of {', '.join(choices)}", value, f"use one of {', '.join(choices)}"))
        for name in ("params", "trainable_params", "width", "depth"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                found.append(
                    Problem(f"model.{name}", f"`{name} >= 1` must hold (an integer)", value, f"give a positive integer or leave {name} out")
                )
        if self.params is not None and self.trainable_params is not None and self.trainable_params > self.params:
            found.append(
                Problem(
                    "model.trainable_params",
                    "`trainable_params <= params` must hold",
                    self.trainable_params,
                    "count all parameters in params",
                )
            )
        return found

    @property
    def trainable_fraction(self) -> float | None:
        if self.params is None or self.trainable_params is None:
            return None
        return self.trainable_params / self.params

    def describe(self) -> str:
        """'mlp from scratch, 9.6k parameters, width 128, depth 2' for reasons and reports."""
        parts = [f"{self.family} ({self.mode})"]
        if self.params is not None:
            trainable = "" if self.trainable_params in (None, self.params) else f" ({_count(self.trainable_params or 0)} trainable)"
            parts.append(f"{_count(self.params)} parameters{trainable}")
        if self.width is not None:
            parts.append(f"width {self.width}")
        if self.depth is not None:
            parts.append(f"depth {self.depth}")
        return ", ".join(parts)


def _count(n: int) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return str(n)


# Family by module type, most specific first: the first family with a matching module wins.
_FAMILY_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("llm", ("ForCausalLM", "LMHeadModel", "GPT2Model", "LlamaModel", "MistralModel", "Qwen2Model")),
    ("vit", ("ViTModel", "ViTForImageClassification", "VisionTransformer", "DeiT", "SwinModel")),
    ("transformer", ("MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer", "Attention", "BertLayer")),
    ("rnn", ("LSTM", "GRU", "RNN")),
    ("resnet", ("ResNet", "BasicBlock", "Bottleneck")),
    ("cnn", ("Conv1d", "Conv2d", "Conv3d")),
)


def _family(model: torch.nn.Module) -> str:
    names = {type(m).__name__ for m in model.modules()}
    for family, markers in _FAMILY_MARKERS:
        if any(name == marker or name.endswith(marker) for name in names for marker in markers):
            return family
    return "mlp"


def _fan_ins(model: torch.nn.Module) -> list[int]:
    """Fan-in of each weight with ndim >= 2, in registration order (Linear (out, in), Conv (out, in, k...),
    LSTM weight_hh (4h, h), Embedding (vocab, dim): dimension 1 in every case)."""
    return [int(p.shape[1]) for p in model.parameters() if p.ndim >= 2]


def _convolutions(model: torch.nn.Module) -> list[tuple[int, int]]:
    """(input, output) channels of each convolution, in registration order (modules, not weight shapes: a
    ViT's (1, tokens, dim) position embedding is 3-dimensional too)."""
    from torch import nn

    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return [(int(m.in_channels), int(m.out_channels)) for m in model.modules() if isinstance(m, convs)]


def _width(model: torch.nn.Module, fan_ins: list[int], family: str) -> int | None:
    convs = _convolutions(model)
    if len(convs) >= 2:  # a CNN: channels, not the flattened map its head reads
        return int(statistics.median(c_in for c_in, _ in convs[1:]))
    if convs and family in CONV_FAMILIES:  # one convolution: its channels (a ViT's patch embedding is not its width)
        return convs[0][1]
    hidden = fan_ins[1:] or fan_ins
    return int(statistics.median(hidden)) if hidden else None


def read_model_facts(model: torch.nn.Module, mode: str | None = None, family: str | None = None) -> ModelFacts:
    """The facts of ``model``. ``mode``/``family`` come from the task when it knows them (a pretrained
    backbone is invisible in the weights); otherwise the family is read from the module types and the
    mode is 'frozen' when under half the parameters are trainable, else 'scratch'."""
    params = sum(int(p.numel()) for p in model.parameters())
    trainable = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    fan_ins = _fan_ins(model)
    family = family or _family(model)
    width = _width(model, fan_ins, family)
    if mode is None:
        mode = "frozen" if params and trainable / params < FROZEN_BELOW else "scratch"
    return ModelFacts(
        family=family,
        mode=mode,
        params=params or None,
        trainable_params=trainable or None,
        width=width,
        depth=len(fan_ins) or None,
    )


def facts_dict(facts: ModelFacts) -> dict[str, Any]:
    """The facts as Profile keyword arguments (family -> model)."""
    return {
        "model": facts.family,
        "mode": facts.mode,
        "params": facts.params,
        "trainable_params": facts.trainable_params,
        "width": facts.width,
        "depth": facts.depth,
    }


def profile_facts(task: Any) -> dict[str, Any]:
    """Profile keyword arguments from a built Task: its own TaskFacts (what a user task says about itself:
    family, mode, dataset size, classes, imbalance) with the facts read from its model on top (size, width,
    depth; the family only where the task left the default 'mlp' and the module says otherwise)."""
    facts = task.facts
    # TaskFacts' defaults (mlp, scratch) may just be unset: then the module's own family and mode decide.
    model = read_model_facts(task.model, mode=None if facts.mode == "scratch" else facts.mode)
    family = facts.model if facts.model != "mlp" else model.family
    out = {
        "mode": model.mode,
        "dataset_size": facts.dataset_size,
        "num_classes": facts.num_classes or task.num_classes,
        "imbalance": facts.imbalance,
        **facts_dict(ModelFacts(family, model.mode, model.params, model.trainable_params, model.width, model.depth)),
    }
    if out["dataset_size"] is None:
        try:
            out["dataset_size"] = len(task.train_data)
        except TypeError:  # an iterable dataset has no length
            pass
    return {k: v for k, v in out.items() if v is not None}


def task_profile_facts(config: Any) -> dict[str, Any]:
    """Build ``config.task`` (torch: the model and data are built once) and read its profile facts."""
    from trainwell.tasks.catalog import build_task

    return profile_facts(build_task(config))
