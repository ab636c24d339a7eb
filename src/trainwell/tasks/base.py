"""What a task supplies to the engine: a model, datasets and a metric.

A dataset item is ``(inputs, target)``; ``inputs`` is a tensor or a dict of tensors (passed to the model
as keyword arguments, the Hugging Face convention). A model may return logits or an object with
``.logits``. ``metrics(logits, targets)`` receives the whole validation set at once and returns plain
floats keyed without the ``val_`` prefix (the engine adds it).

A task whose loss is not one of ``loss.name``'s (a causal LM's next-token loss over response tokens) brings
its own: ``loss``, ``count_items`` (how many items a target holds: the weight of a micro-batch in an
accumulation window and of a batch in ``val_loss``; tokens for a language model, so both are per-token means),
``extra_metrics`` (metrics computed from the model and ``val_loss`` rather than from logits: perplexity,
generation), ``model_files`` (what a checkpoint stores: only the adapter for LoRA), ``save_final`` (the
trained model written in its library's own format at the end), ``rebuild`` and ``hold_frozen`` (below).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

    from trainwell.config.schema import Config

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


class ModelFiles(Protocol):
    """How a checkpoint folder stores a model's weights. ``save`` writes files into ``folder`` (the engine
    fsyncs them and renames the folder into place); ``load`` puts them back into the same model."""

    def save(self, model: torch.nn.Module, folder: Path) -> None: ...

    def load(self, model: torch.nn.Module, folder: Path, device: torch.device) -> None: ...


class StateDictFiles:
    """The default: the whole ``state_dict`` in ``model.pt``."""

    name = "model.pt"

    def save(self, model: torch.nn.Module, folder: Path) -> None:
        import torch

        torch.save(model.state_dict(), folder / self.name)

    def load(self, model: torch.nn.Module, folder: Path, device: torch.device) -> None:
        import torch

        model.load_state_dict(torch.load(folder / self.name, map_location=device, weights_only=True))


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
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None  # None: config.loss
    count_items: Callable[[Any], int] | None = None  # None: rows (the target's first dimension)
    extra_metrics: Callable[[torch.nn.Module, dict[str, float]], dict[str, float]] | None = None
    model_files: ModelFiles = field(default_factory=StateDictFiles)
    save_final: Callable[[torch.nn.Module, Path], dict[str, Any]] | None = None  # returns what it wrote, for summary.json
    data_summary: dict[str, Any] = field(default_factory=dict)  # counts worth reporting (e.g. truncated examples)
    # The task again for a config that builds differently (what the recommender filled in), reusing what that
    # config does not change (a causal LM's loaded weights); None: build from scratch.
    rebuild: Callable[[Config], Task] | None = None
    # Whether the frozen parameters may be stored in the compute dtype (a LoRA base under bf16 on a GPU):
    # only the task knows its frozen modules hold no state that needs fp32 (a frozen BatchNorm would).
    hold_frozen: bool = False


def count_labels(dataset: Any, *, iterate: bool) -> list[int] | None:
    """Per-class counts of a classification dataset's integer targets (what ``class_weights: auto`` weighs by).

    Read from ``dataset.targets``/``.labels`` or a ``TensorDataset``'s last tensor without touching the inputs;
    with ``iterate`` (the user asked for 'auto' weights) every item's target is read, which costs a pass over
    the data (decoding images, say), so it is not done just to describe the task. None when the targets are
    not non-negative integers or cannot be read: the caller's own message then applies."""
    import torch

    tensors = getattr(dataset, "tensors", None)
    found = getattr(dataset, "targets", None)
    if found is None:
        found = getattr(dataset, "labels", None)
    if found is None and isinstance(tensors, tuple) and len(tensors) >= 2:
        found = tensors[-1]
    if found is None and iterate:
        try:
            found = [dataset[i][-1] for i in range(len(dataset))]
        except (TypeError, IndexError, KeyError):
            return None
    try:
        labels = torch.as_tensor(found if not isinstance(found, list) else [int(v) for v in found]).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        return None
    if labels.numel() == 0 or labels.is_floating_point() or labels.is_complex() or int(labels.min()) < 0:
        return None
    return [int(n) for n in torch.bincount(labels.long())]


# What classification_metrics reports (the engine adds the val_ prefix): the catalog's classifiers declare these
# names so `config validate` can judge evaluation.metric before any training (tasks.catalog.metric_problems).
CLASSIFICATION_METRICS = ("accuracy", "f1_macro")


def classification_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro-F1 (the latter matters on imbalanced sets such as emotion), by scikit-learn.

    Macro-F1 averages over the classes that occur in the targets or the predictions (``f1_score``'s
    default labels); a class never predicted scores 0 (``zero_division=0``).
    """
    from sklearn.metrics import accuracy_score, f1_score

    preds = logits.argmax(dim=-1).cpu().numpy()
    truth = targets.long().cpu().numpy()
    if truth.size == 0:
        return {"accuracy": 0.0, "f1_macro": 0.0}
    return {"accuracy": float(accuracy_score(truth, preds)), "f1_macro": float(f1_score(truth, preds, average="macro", zero_division=0))}
