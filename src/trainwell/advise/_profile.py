"""What the recommender is told about a training job: the model family, how it is trained, the data and
the hardware. Every rule's condition reads a Profile (and the decisions taken before it).

Unknown facts stay ``None``; rules that need them fall through to a rule that does not.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from trainwell.config.structure import MAX_INT
from trainwell.errors import ConfigError, Problem
from trainwell.registry import did_you_mean

MODELS = ("mlp", "cnn", "resnet", "transformer", "vit", "rnn", "llm")
MODES = ("scratch", "finetune", "frozen")
DURATIONS = ("short", "standard", "long")
ADAPTERS = ("lora", "full")
METRICS = ("accuracy", "f1_macro")  # what the model will be scored on (class weighting trades one for the other)


@dataclass(frozen=True)
class Profile:
    """A training job as the guides' tables key it: model x mode x data size x budget x hardware."""

    model: str = "mlp"  # mlp | cnn | resnet | transformer | vit | rnn | llm
    mode: str = "scratch"  # scratch | finetune | frozen
    dataset_size: int | None = None  # training examples
    num_classes: int | None = None
    imbalance: float | None = None  # largest class count / smallest class count
    epochs: int | None = None  # the epoch budget; None lets the task table decide
    duration: str | None = None  # short | standard | long, used when epochs is None
    gpu_memory: float | None = None  # GB per device; None means unknown (or CPU)
    gpus: int | None = None  # devices; None means unknown
    bf16: bool | None = None  # hardware supports bf16; None means unknown
    batch_size: int | None = None  # the effective batch you intend; the LR is rescaled to it
    task: str | None = None  # built-in task name or 'pkg.module:function'
    # The model itself (advise/model_facts.py): read from the module when trainwell has it, else --params etc.
    params: int | None = None  # all parameters
    trainable_params: int | None = None  # parameters the optimizer updates
    width: int | None = None  # median hidden fan-in (μP's width); the LR law scales by it
    depth: int | None = None  # weight matrices from input to output
    adapter: str | None = None  # LLM fine-tuning: lora | full; None: read from trainable/total params, else lora
    metric: str | None = None  # accuracy | f1_macro: what the model is scored on; None: 004's loss table decides

    def __post_init__(self) -> None:
        ConfigError.collect(self.problems())

    def problems(self) -> list[Problem]:
        """Every invalid fact, at once."""
        found: list[Problem] = []
        for name, choices in (("model", MODELS), ("mode", MODES)):
            value = getattr(self, name)
            if value not in choices:
                found.append(
                    Problem(f"profile.{name}", f"must be one of {', '.join(choices)}", value, did_you_mean(str(value), list(choices)))
                )
        optional: tuple[tuple[str, tuple[str, ...]], ...] = (("adapter", ADAPTERS), ("metric", METRICS))
        for name, allowed in optional:
            value = getattr(self, name)
            if value is not None and value not in allowed:
                found.append(
                    Problem(f"profile.{name}", f"must be one of {', '.join(allowed)}", value, did_you_mean(str(value), list(allowed)))
                )
        if self.duration is not None and self.duration not in DURATIONS:
            found.append(
                Problem(
                    "profile.duration",
                    f"must be one of {', '.join(DURATIONS)}",
                    self.duration,
                    did_you_mean(self.duration, list(DURATIONS)),
                )
            )
        for name in ("dataset_size", "num_classes", "epochs", "gpus", "batch_size", "params", "trainable_params", "width", "depth"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                found.append(
                    Problem(
                        f"profile.{name}", f"`{name} >= 1` must hold (an integer)", value, f"give a positive integer or leave {name} out"
                    )
                )
            elif value is not None and value > MAX_INT:  # a config holds integers up to 2**53 (config/structure.py)
                found.append(Problem(f"profile.{name}", f"`{name} <= 2**53` must hold", value, f"give a realistic {name} or leave it out"))
        if isinstance(self.params, int) and isinstance(self.trainable_params, int) and self.trainable_params > self.params:
            found.append(
                Problem(
                    "profile.trainable_params",
                    "`trainable_params <= params` must hold (the parameters the optimizer updates are some of all of them)",
                    f"{self.trainable_params} > {self.params}",
                    "give the trainable count with --trainable-params and the model's whole count with --params",
                )
            )
        if self.num_classes == 1:
            # One class leaves nothing to classify: cross-entropy over a single logit is always 0.
            found.append(
                Problem(
                    "profile.num_classes",
                    "`num_classes >= 2` must hold for classification",
                    1,
                    "binary classification is 2 classes; for regression leave --num-classes out and set loss.name: mse",
                )
            )
        if self.imbalance is not None and not 1 <= self.imbalance < math.inf:
            found.append(
                Problem(
                    "profile.imbalance",
                    "`imbalance >= 1` must hold and be finite (largest class / smallest class)",
                    self.imbalance,
                    "e.g. 1.0 for balanced, 12 for 1:12",
                )
            )
        if self.gpu_memory is not None and not 0 < self.gpu_memory < math.inf:
            found.append(
                Problem(
                    "profile.gpu_memory", "`gpu_memory > 0` must hold and be finite (GB per device)", self.gpu_memory, "e.g. 16, 40 or 80"
                )
            )
        return found

    @classmethod
    def from_task(cls, name: str, **overrides: Any) -> Profile:
        """The recorded facts of built-in task ``name`` (trainwell.tasks.catalog.TASKS), ``overrides`` on top.

        A user task ('pkg.module:function') has no recorded facts: its own, read from the Task its function
        returns (trainwell.advise.model_facts.task_profile_facts), come in as overrides.
        """
        from trainwell.tasks.base import TaskFacts
        from trainwell.tasks.catalog import TASKS

        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        ConfigError.collect(Problem(f"profile.{k}", "is not a profile fact", overrides[k], did_you_mean(k, sorted(known))) for k in unknown)
        facts = TaskFacts() if ":" in name else TASKS.get(name, "task").facts
        base: dict[str, Any] = {
            "model": facts.model,
            "mode": facts.mode,
            "dataset_size": facts.dataset_size,
            "num_classes": facts.num_classes,
            "imbalance": facts.imbalance,
            "params": facts.params,
            "width": facts.width,
            "depth": facts.depth,
            "task": name,
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @classmethod
    def from_model(cls, model: Any, **overrides: Any) -> Profile:
        """The facts of an ``nn.Module`` (family, size, width, depth; 'frozen' when under half of it trains),
        ``overrides`` on top: the Python API's way to a model-aware recommendation.

            rec = recommend(Profile.from_model(net, mode="finetune", dataset_size=len(ds), epochs=10))
        """
        from trainwell.advise.model_facts import facts_dict, read_model_facts

        given = {k: v for k, v in overrides.items() if v is not None}
        read = facts_dict(read_model_facts(model, mode=given.get("mode"), family=given.get("model")))
        return cls(**{**{k: v for k, v in read.items() if v is not None}, **given})

    @property
    def per_class(self) -> float | None:
        """Training examples per class (004 keys SGD-vs-Adam on 5000+ per class)."""
        if self.dataset_size is None or not self.num_classes:
            return None
        return self.dataset_size / self.num_classes
