"""From what the user asked for to what the run trains with, once.

``plan(request, facts, n_train)`` fills every field the request leaves unset: with the recommender's
value and its reason when ``facts`` (the task's and model's facts) are given, else with the schema's
default; then it validates the whole config once, with the run's real length. What is left are the
measurements the user asked for (``optimizer.lr: find``, ``batch.auto_find``): the finders make them
(``run/features.py``) and ``Planned.resolved`` freezes the result into a ``ResolvedConfig``.

The recommender is asked through one seam, ``recommended(request, facts)``: a Profile of the task's
and model's facts (``advise.model_facts.profile_facts``), the fields the user set left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from trainwell.config.io import validate
from trainwell.config.resolved import USER, ConfigRequest, Origin, ResolvedConfig, replace_paths, run_length
from trainwell.config.schema import Config
from trainwell.errors import ConfigError

if TYPE_CHECKING:
    from trainwell.tasks.base import Task

# Fields that change what building the task gives (data, model, its initialisation): when resolving
# changes one of them, the task is built again from the resolved config.
BUILD_FIELDS = ("task", "seed", "data", "model")


@dataclass(frozen=True)
class Planned:
    """Every value decided except the measurements; validated once."""

    config: Config
    origins: Mapping[str, Origin] = field(default_factory=dict)

    def resolved(self, measured: Mapping[str, tuple[Any, Origin]] | None = None) -> ResolvedConfig:
        """The frozen config to train with: ``measured`` (dotted path -> (value, origin)) written in."""
        measured = measured or {}
        config = replace_paths(self.config, {path: value for path, (value, _) in measured.items()})
        return ResolvedConfig(config, {**self.origins, **{path: origin for path, (_, origin) in measured.items()}})


def plan(request: ConfigRequest, facts: Mapping[str, Any] | None, n_train: int | None) -> Planned:
    """Fill the unset fields (recommended with ``facts``, else defaults) and validate once; ``n_train``
    (training examples) gives the run's length to the rules that need it (warmup must end before training)."""
    config, origins = request.config, dict.fromkeys(request.given, USER)
    if facts is not None:
        values = recommended(request, facts)
        config = replace_paths(config, {path: value for path, (value, _) in values.items()})
        origins.update({path: origin for path, (_, origin) in values.items()})
    total = run_length(config, n_train)[2] if n_train else None
    ConfigError.collect(validate(config, total))
    return Planned(config, origins)


def recommended(request: ConfigRequest, facts: Mapping[str, Any]) -> dict[str, tuple[Any, Origin]]:
    """The recommender's value and reason for every field the user left unset."""
    from trainwell.advise.recommender import Profile, decide

    draft, reasons = decide(Profile.from_task(request.config.task, **{**facts, **_facts_from_given(request)}))
    values = {
        r.field: (draft.values[r.field], Origin("recommended", r.why, r.rule, r.source)) for r in reasons if not request.is_given(r.field)
    }
    lr = values.get("optimizer.lr")
    if lr is not None and lr[0] == "find" and request.config.distributed.strategy == "fsdp" and facts.get("gpus", 1) > 1:
        # The range test would run in one process on the whole model (engine/distributed.finder_problems):
        # under fsdp the recommender's fallback, the LR law's value, is the LR.
        why = f"{lr[1].why}; under strategy: fsdp the range test is not run (one process, whole model): its fallback"
        values["optimizer.lr"] = (draft.values["lr_find.fallback"], replace(lr[1], why=why))
    return values


def _facts_from_given(request: ConfigRequest) -> dict[str, Any]:
    """Fields the user set that change the task's facts: a smaller `data.limit` is a smaller dataset (its LR,
    batch and cadence differ), and `training.epochs` is the user's epoch budget."""
    from trainwell.tasks.catalog import TASKS

    config, facts = request.config, {}
    size = None if ":" in config.task else TASKS.get(config.task, "task").facts.dataset_size
    if request.is_given("data.limit") and config.data.limit is not None:
        facts["dataset_size"] = min(config.data.limit, size) if size else config.data.limit
    if request.is_given("training.epochs"):
        facts["epochs"] = config.training.epochs
    return facts


def task_facts(task: Task) -> dict[str, Any]:
    """The facts the recommender is asked with, read from a built task and its model."""
    from trainwell.advise.model_facts import profile_facts

    return profile_facts(task)


def facts_without_training(request: ConfigRequest) -> dict[str, Any]:
    """The same facts for `config show`: a built-in task's recorded facts (no torch, no data) unless the
    request changes its model or names a user task, which must be built to be measured."""
    if ":" in request.config.task or request.is_given("model"):
        from trainwell.tasks.catalog import build_task

        return task_facts(build_task(request.config))
    return {}


def before_measuring(request: ConfigRequest, recommend: bool = True) -> Config:
    """The config `trainwell train` would resolve from ``request`` before its finders measure: what
    `lr-find`, `batch-find` and `config show` work on, so a range test sweeps with the batch and schedule the
    run will have and a batch search scales the LR the run will have, not the schema's defaults."""
    return plan(request, facts_without_training(request) if recommend else None, None).config


def builds_differently(a: Config, b: Config) -> bool:
    """Whether building the task from ``b`` gives another task than from ``a`` (see BUILD_FIELDS). The
    ``model`` sections compare with the task's defaults filled in: the recommender writing out a default
    (``adapter: none``) builds the same model."""
    from trainwell.tasks.catalog import model_options

    if model_options(a) != model_options(b):
        return True
    return any(getattr(a, name) != getattr(b, name) for name in BUILD_FIELDS if name != "model")
