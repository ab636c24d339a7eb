"""What a task supplies to the engine: a model, datasets and a metric.

A dataset item is ``(inputs, target)``; ``inputs`` is a tensor or a dict of tensors (passed to the model
as keyword arguments, the Hugging Face convention). A model may return logits or an object with
``.logits``. ``metrics(logits, targets)`` receives the whole validation set at once and returns plain
floats keyed without the ``val_`` prefix (the engine adds it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

Kind = Literal["classification", "binary", "regression"]


@dataclass(frozen=True)
class TaskFacts:
    """What the recommender needs to know about a task (001/004 tables are keyed by these)."""

    model: str = "mlp"  # mlp | cnn | resnet | transformer | vit | rnn | llm
    mode: str = "scratch"  # scratch | finetune | frozen
    dataset_size: int | None = None
    num_classes: int | None = None
    imbalance: float | None = None  # largest class count / smallest class count
    # The default model's size (trainwell.advise.model_facts reads them from the module when it is built;
    # recorded here so `trainwell recommend --task NAME` needs no torch). tests/tasks check they match.
    params: int | None = None
    width: int | None = None  # median hidden fan-in
    depth: int | None = None  # weight matrices


@dataclass
class Task:
    name: str
    model: torch.nn.Module
    train_data: Dataset[Any]
    val_data: Dataset[Any] | None
    kind: Kind = "classification"
    num_classes: int | None = None
    class_counts: list[int] | None = None  # per-class training counts, for class_weights: auto
    metrics: Callable[[torch.Tensor, torch.Tensor], dict[str, float]] | None = None
    collate_fn: Callable[[list[Any]], Any] | None = None
    facts: TaskFacts = field(default_factory=TaskFacts)


def classification_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro-F1 (the latter matters on imbalanced sets such as emotion).

    One confusion matrix (bincount) instead of a loop over classes: it runs at every evaluation.
    Macro-F1 averages over the classes that occur in the targets or the predictions.
    """
    import torch

    preds = logits.argmax(dim=-1)
    targets = targets.long()
    classes = int(max(int(logits.shape[-1]), int(targets.max().item()) + 1))
    confusion = torch.bincount(targets * classes + preds, minlength=classes * classes).view(classes, classes).double()
    tp = confusion.diagonal()
    denominator = confusion.sum(0) + confusion.sum(1)  # 2tp + fp + fn
    present = denominator > 0
    f1 = (2 * tp[present] / denominator[present]).mean().item() if bool(present.any()) else 0.0
    return {"accuracy": float(tp.sum().item() / max(1, targets.numel())), "f1_macro": float(f1)}
