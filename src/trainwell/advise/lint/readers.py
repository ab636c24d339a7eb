"""Dialect readers: detect which tool a config file belongs to and turn it into a ConfigView.

Each dialect is registered with a ``detect(data) -> score`` and a ``read(view)``; the highest score
wins, so adding a dialect never edits a chain of ifs. Readers never raise on odd values: a value
they cannot interpret stays unknown, and keys outside the dialect's vocabulary are listed in
``view.unknown`` for the runner to report as info.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from trainwell.advise.lint.view import ConfigView, describe_model, describe_optimizer, model_family, model_kind
from trainwell.config.paths import get_path
from trainwell.findings import Finding, Severity
from trainwell.registry import Registry

Converter = Callable[[Any], Any]
# (fact, candidate keys (dotted paths), converter). The first key present wins.
Table = tuple[tuple[str, tuple[str, ...], Converter], ...]


@dataclass(frozen=True)
class Dialect:
    name: str
    title: str  # for people: "HF TrainingArguments / TRL"
    detect: Callable[[dict[str, Any]], int]  # 0 = not this dialect, higher = more certain
    read: Callable[[ConfigView], None]


DIALECTS: Registry[Dialect] = Registry("config dialect")


def apply_table(view: ConfigView, data: dict[str, Any], table: Table, prefix: str = "") -> set[str]:
    """Set every fact the table finds (non-null values that convert); return the keys it consumed."""
    used: set[str] = set()
    for fact, keys, convert in table:
        for key in keys:
            value = get_path(data, key)
            if value is None:
                continue
            used.add(key)
            converted = convert(value)
            if converted is not None and not view.known(fact):
                view.set(fact, converted, prefix + key)
            break
    return used


def strategy(value: Any) -> str | None:
    """HF IntervalStrategy spelling ('steps', 'epoch', 'no'); 'best' counts as per-evaluation saving."""
    text = str(value).lower().replace("intervalstrategy.", "").replace("savestrategy.", "")
    return text if text in ("steps", "epoch", "no", "best") else None


def precision_name(value: Any) -> str | None:
    """fp32 / bf16 / fp16 / auto from the many spellings (32, '16-mixed', 'bf16-true', 'bfloat16', 'auto')."""
    text = str(value).lower()
    if text == "auto":
        return "auto"
    if "bf16" in text or "bfloat16" in text:
        return "bf16"
    if text in ("16", "16-mixed", "16-true", "fp16", "float16", "half"):
        return "fp16"
    if text in ("32", "32-true", "fp32", "float32", "64", "64-true", "no"):
        return "fp32"
    return None


def unknown_keys(data: dict[str, Any], known: Iterable[str], prefix: str = "") -> list[str]:
    """Top-level keys of ``data`` outside ``known``, with a path prefix for nested sections."""
    vocabulary = set(known)
    return [f"{prefix}{k}" for k in data if k not in vocabulary]


def model_hints_from_keys(view: ConfigView, section: dict[str, Any], where: str) -> None:
    """Guess the model kind from constructor arguments (nhead, num_attention_heads -> transformer)."""
    if view.known("model_kind"):
        return
    attention = [k for k in section if str(k).lower() in ("nhead", "num_heads", "n_head", "num_attention_heads", "num_decoder_layers")]
    if attention:
        view.set("model_kind", "transformer", f"{where}.{attention[0]}" if where else str(attention[0]))
        return
    for key in ("class_path", "_target_", "_component_", "model_name", "name"):
        value = section.get(key)
        if isinstance(value, str) and model_kind(value):
            describe_model(view, value, f"{where}.{key}")
            return


def read_model_name(view: ConfigView, data: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """Fill the model facts from the first name key present; a hub id ('org/name') means pretrained."""
    for key in keys:
        value = get_path(data, key)
        if isinstance(value, str) and value:
            describe_model(view, value, key)
            if "/" in value or view.is_transformer:
                view.set("pretrained", True, key)
            _read_model_type(view, data)
            return key
    _read_model_type(view, data)
    return None


def _read_model_type(view: ConfigView, data: dict[str, Any]) -> None:
    """HF ``model_type`` ('whisper') or ``architectures`` (['DetrForObjectDetection']) name the family when
    the model's own name does not (a local checkpoint path, or no name at all)."""
    if view.known("model_family"):
        return
    names = [data.get("model_type")] + (data["architectures"] if isinstance(data.get("architectures"), list) else [])
    for key, name in zip(["model_type"] + ["architectures"] * (len(names) - 1), names):
        if isinstance(name, str) and model_family(name):
            family, kind = model_family(name)  # type: ignore[misc]
            view.set("model_family", family, key)
            view.set("model_kind", kind, key)
            return


def read_optimizer_name(view: ConfigView, value: Any, source: str) -> None:
    if isinstance(value, str) and value:
        describe_optimizer(view, value, source)


def _detect_nothing(data: dict[str, Any]) -> int:
    return 1  # the fallback: every key unknown, so lint reports what it could not read


def _read_nothing(view: ConfigView) -> None:
    view.unknown = list(view.raw)
    view.notes.append(
        Finding(
            rule="unknown-dialect",
            severity=Severity.INFO,
            message="lint does not recognise this config's format; nothing was checked",
            value=sorted(view.raw)[:12],
            fix="lint reads trainwell, HF TrainingArguments/TRL, LLaMA-Factory, axolotl, torchtune, LightningCLI and Hydra configs",
            source="trainwell lint",
        )
    )


DIALECTS.register("unknown", Dialect("unknown", "unrecognised format", _detect_nothing, _read_nothing))
