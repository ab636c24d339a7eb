"""Load, save, override and validate configs. ``load_config`` is the one way in.

A config can come from YAML or JSON, from a recipe, from a plain dict, and from ``key.path=value``
overrides; each problem in any of them is collected into one ConfigError.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.config.documents import CONFIG_LIMITS, override_value, read_document
from trainwell.config.rules import CONFIG_RULES
from trainwell.config.schema import Config
from trainwell.config.structure import check_ranges, from_dict, to_dict
from trainwell.errors import ConfigError, Problem, TrainwellError
from trainwell.registry import did_you_mean

if TYPE_CHECKING:
    from trainwell.config.resolved import ConfigRequest


def read_mapping(path: str | Path, error: type[TrainwellError] = ConfigError) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict within the config limits (config/documents.py); a missing,
    unreadable, oversized or malformed file raises ``error``.

    A config you run is a ConfigError; a file lint or import only reads is passed ``DataError``, so one
    bad file among many is reported and the others are still read.
    """
    p = Path(path)
    data = read_document(p, error)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(problems=[Problem(str(p), "must hold a mapping at the top level", type(data).__name__, "write key: value pairs")])
    return data


def parse_override(text: str) -> tuple[list[str], Any, Problem | None]:
    """'optimizer.lr=1e-4' -> (['optimizer', 'lr'], 1e-4, None); a malformed one returns a Problem."""
    if "=" not in text:
        return [], None, Problem(text, "an override must look like key.path=value", text, "e.g. optimizer.lr=1e-4")
    key, raw = text.split("=", 1)
    if key.count(".") >= CONFIG_LIMITS.max_depth:
        return (
            [],
            None,
            Problem(
                key[:80],
                f"a key path must have at most {CONFIG_LIMITS.max_depth} parts",
                f"{key.count('.') + 1} parts",
                "check the override",
            ),
        )
    value, problem = override_value(raw, key.strip()) if raw.strip() else (None, None)
    return key.strip().split("."), value, problem


def apply_overrides(data: dict[str, Any], overrides: list[str], problems: list[Problem]) -> dict[str, Any]:
    """Set each dotted override into a nested dict; unknown paths become problems with did-you-mean."""
    for text in overrides:
        keys, value, problem = parse_override(text)
        problem = problem or _unknown_key(keys, value)
        if problem:
            problems.append(problem)
            continue
        node: dict[str, Any] = data
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    return data


def _unknown_key(keys: list[str], value: Any) -> Problem | None:
    """A problem for the first key of a dotted path that the schema lacks; below a free-form mapping
    (``model``, ``data.options``, ...) every key is accepted."""
    cls: type | None = Config
    for key in keys:
        if cls is None:
            return None
        names = [f.name for f in dataclasses.fields(cls)]
        if key not in names:
            return Problem(".".join(keys), "is not a known config key", value, did_you_mean(key, names))
        cls = _nested_class(cls, key)
    return None


def _nested_class(cls: type, key: str) -> type | None:
    from trainwell.config.structure import hints

    tp = hints(cls).get(key)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def validate(config: Config, total_steps: int | None = None) -> list[Problem]:
    """Every problem with a typed config: field ranges, then each registered cross-field rule."""
    problems: list[Problem] = []
    check_ranges(config, "", problems)
    for _, rule in CONFIG_RULES.items():
        try:
            problems.extend(rule(config, total_steps))
        except (TypeError, AttributeError):
            # A field of the wrong type was already reported by conversion; this rule cannot judge it.
            continue
    return problems


def config_from_dict(data: dict[str, Any], overrides: list[str] = ()) -> Config:  # type: ignore[assignment]
    """Build and validate a Config; raises one ConfigError listing every problem."""
    problems: list[Problem] = []
    data = apply_overrides(_deep_copy(data), list(overrides), problems)
    config = from_dict(Config, data, "", problems)
    problems.extend(validate(config))
    ConfigError.collect(problems)
    return config


def load_config(
    source: str | Path | dict[str, Any] | Config | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
    base: dict[str, Any] | None = None,
) -> Config:
    """The one way to get a Config: from a file, dict, Config or nothing (defaults), an optional ``base``
    layer under it (a recipe's values: ``trainwell.recipes.catalog.recipe_dict``), and dotted overrides on top."""
    if isinstance(source, Config):
        layer = to_dict(source)
    elif isinstance(source, dict):
        layer = source
    elif source is None:
        layer = {}
    else:
        layer = read_mapping(source)
    return config_from_dict(_merge(base or {}, layer), overrides)


def load_request(
    source: str | Path | dict[str, Any] | Config | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
    base: dict[str, Any] | None = None,
    label: str = "",
) -> ConfigRequest:
    """What the user asked for, read once: the layers of ``load_config`` parsed into a Config (types and
    field ranges checked, every problem at once) and the dotted fields they set. Of the cross-field rules only
    the names and a built-in task's options are judged here (``_request_problems``); the rest run once, on the
    resolved config, when the run's length is known (``trainwell.run``)."""
    from trainwell.config.resolved import ConfigRequest, leaf_paths

    problems: list[Problem] = []
    if isinstance(source, Config):
        layer = to_dict(source)
    else:
        layer = read_mapping(source) if isinstance(source, (str, Path)) else _deep_copy(source or {})
    data = apply_overrides(_merge(base or {}, layer), list(overrides), problems)
    config = from_dict(Config, data, "", problems)
    ConfigError.collect([*problems, *_request_problems(config, {p.where for p in problems})])
    return ConfigRequest(config, frozenset(leaf_paths(data)), label)


def _request_problems(config: Config, reported: set[str]) -> list[Problem]:
    """What can be judged before the unset fields are filled, reported with the type and key problems so
    the user sees them all at once: every field's range, every name (optimizer, schedule, loss, task) and a
    built-in task's options (its ``model:`` and ``data.options`` keys and values, its own rules): a field left
    unset keeps a default these rules pass, so they judge only what the user wrote (`train` reported a task's
    options in a second round, once the rest was fixed). A field already reported (a wrong type) is not judged
    again."""
    problems: list[Problem] = []
    check_ranges(config, "", problems)
    for name in ("names-registered", "task-options"):
        try:
            problems.extend(CONFIG_RULES.get(name)(config, None))
        except (TypeError, AttributeError):  # a field of the wrong type, reported by conversion
            continue
    return [p for p in problems if p.where not in reported]


def _merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = _deep_copy(base)
    for k, v in layer.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=list))


def dump(config: Config, fmt: str = "yaml") -> str:
    """Serialise a config as YAML (key order as in the schema) or JSON."""
    data = to_dict(config)
    if fmt == "json":
        return json.dumps(data, indent=2)
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def save_config(config: Config, path: str | Path) -> None:
    p = Path(path)
    p.write_text(dump(config, "json" if p.suffix == ".json" else "yaml"), encoding="utf-8")
