"""What a user asks for, and what a run trains with: two types.

A ``ConfigRequest`` is the config as written (file, recipe, overrides), parsed once: ``optimizer.lr`` may
be ``"find"``, ``batch.auto_find`` may be on, and ``given`` says which fields the user set. A
``ResolvedConfig`` is what the orchestrator (``trainwell.run``) makes of it once: every request replaced
by a value (the LR a number, the batch finder done), each field's provenance recorded (``user``,
``recommended``, ``measured`` or ``default``), validated once with the run's real length, and frozen.
The engine takes only a ``ResolvedConfig``, so it never meets ``"find"``; a change is a new object
(``with_values``, built with ``dataclasses.replace``), never a mutated copy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from trainwell.config.schema import Config
from trainwell.config.structure import _convert_item, hints
from trainwell.errors import ConfigError, Problem

Provenance = Literal["user", "recommended", "measured", "default"]


@dataclass(frozen=True)
class Origin:
    """Where one field's value came from, and why it has it (the rule and its source for a recommended
    value, the finder's reason for a measured one)."""

    kind: Provenance
    why: str = ""
    rule: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "why": self.why, "rule": self.rule, "source": self.source}


USER = Origin("user", "set in the config, a recipe or an override")
DEFAULT = Origin("default", "the schema's default (see `trainwell config fields`)")


@dataclass(frozen=True)
class ConfigRequest:
    """The config as the user wrote it, parsed (types and field ranges checked) but not yet resolved."""

    config: Config
    given: frozenset[str] = frozenset()  # dotted fields the user set; free-form mappings by their keys
    label: str = ""  # for people: "config t.yaml", "recipe bert-finetune", "resuming runs/x"

    def is_given(self, dotted: str) -> bool:
        """Whether the user set ``dotted`` or a mapping above it (``model`` covers ``model.dropout``)."""
        parts = dotted.split(".")
        return any(".".join(parts[:i]) in self.given for i in range(1, len(parts) + 1))


@dataclass(frozen=True)
class ResolvedConfig:
    """A config ready to train, with the provenance of its values. Build it with ``resolve`` (in
    ``trainwell.run``) or ``ResolvedConfig.given`` (a config taken as it is); never mutate ``config``."""

    config: Config
    origins: Mapping[str, Origin] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.config.optimizer.lr, str) or isinstance(self.config.optimizer.lr, bool):
            problems.append(
                Problem(
                    "optimizer.lr",
                    "must be a number once the config is resolved",
                    self.config.optimizer.lr,
                    "resolve it through trainwell.run.train",
                )
            )
        if self.config.batch.auto_find:
            problems.append(
                Problem("batch.auto_find", "must be done once the config is resolved", True, "resolve it through trainwell.run.train")
            )
        ConfigError.collect(problems)
        object.__setattr__(self, "origins", MappingProxyType(dict(self.origins)))

    @classmethod
    def given(cls, config: Config, origin: Origin = USER) -> ResolvedConfig:
        """``config`` taken as it is (every value ``origin``): for code that builds a numeric config itself."""
        return cls(config, {})._with_default(origin)

    def _with_default(self, origin: Origin) -> ResolvedConfig:
        return dataclasses.replace(self, origins={"*": origin, **self.origins})

    @property
    def lr(self) -> float:
        """The peak LR, a number (``__post_init__`` checked it): the one place the engine reads it from."""
        return self.config.optimizer.peak

    @property
    def effective_batch(self) -> int:
        return self.config.batch.effective

    def origin(self, dotted: str) -> Origin:
        return origin_of(self.origins, dotted)

    def with_values(self, values: Mapping[str, Any], origin: Origin) -> ResolvedConfig:
        """A new ResolvedConfig with ``values`` (dotted path -> value) written in, each recorded as ``origin``."""
        return ResolvedConfig(replace_paths(self.config, values), {**self.origins, **dict.fromkeys(values, origin)})

    def provenance(self, fields: Iterable[str]) -> list[dict[str, Any]]:
        return provenance(self.config, self.origins, fields)

    def reasons(self) -> list[dict[str, Any]]:
        """reasons.json: a row for every recommended or measured value, [{"field","value","rule","why","source"}]."""
        rows = []
        for row in self.provenance([k for k, o in self.origins.items() if k != "*" and o.kind in ("recommended", "measured")]):
            rows.append({"field": row["field"], "value": row["value"], "rule": row["rule"], "why": row["why"], "source": row["source"]})
        return rows


def origin_of(origins: Mapping[str, Origin], dotted: str) -> Origin:
    """The provenance of ``dotted``: its own entry, else the nearest mapping above it (``model`` for
    ``model.dropout``), else the entry for every other field (``*``), else the schema's default."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:i]))
        if found is not None:
            return found
    return origins.get("*", DEFAULT)


def provenance(config: Config, origins: Mapping[str, Origin], fields: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """[{"field", "value", "kind", "why", "rule", "source"}] for ``fields`` (default: every value in the
    config, free-form mappings by their keys): what `trainwell config show` prints."""
    from trainwell.config.paths import get_path
    from trainwell.config.structure import to_dict

    data = to_dict(config)
    names = list(fields) if fields is not None else leaf_paths(data)
    return [{"field": f, "value": get_path(data, f), **origin_of(origins, f).to_dict()} for f in names]


def leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every value in nested mappings (an empty mapping counts as a value)."""
    out: list[str] = []
    for key, value in data.items():
        out.extend(leaf_paths(value, f"{prefix}{key}.") if isinstance(value, dict) and value else [f"{prefix}{key}"])
    return out


def run_length(config: Config, n_train: int) -> tuple[int, int, int]:
    """(batches per epoch, optimizer steps per epoch, total steps) over ``n_train`` examples; max_steps
    overrides epochs. The one place the run's length is computed (engine, finders, validation)."""
    batches = math.ceil(n_train / config.batch.size)
    steps_per_epoch = math.ceil(batches / config.batch.accumulation)
    total = config.training.max_steps or config.training.epochs * steps_per_epoch
    return batches, steps_per_epoch, total


def replace_paths(config: Any, values: Mapping[str, Any]) -> Any:
    """A copy of dataclass ``config`` with each dotted path set (``dataclasses.replace`` down the path;
    a path into a free-form mapping such as ``model.dropout`` copies that mapping). Each value goes through
    the schema's type conversion; a value the field cannot hold is a ConfigError."""
    problems: list[Problem] = []
    for dotted, value in values.items():
        config = _replace(config, dotted.split("."), value, dotted, problems)
    ConfigError.collect(problems)
    return config


def _replace(node: Any, keys: list[str], value: Any, dotted: str, problems: list[Problem]) -> Any:
    head, rest = keys[0], keys[1:]
    if isinstance(node, dict):
        out = dict(node)
        out[head] = _replace(node.get(head, {}), rest, value, dotted, problems) if rest else value
        return out
    if not rest:
        return dataclasses.replace(node, **{head: _convert_item(value, hints(type(node))[head], dotted, problems)})
    return dataclasses.replace(node, **{head: _replace(getattr(node, head), rest, value, dotted, problems)})
