"""The recommender: a Profile in, a complete valid Config out, with a reason for every field it set.

``recommend(profile)`` walks the rule stages of :mod:`trainwell.advise.rules` in order; in each stage the
first rule whose condition holds sets its fields. Everything not set keeps the schema's default (guide
000's optimal stack). The config is validated with the run's estimated total steps before it is
returned, so a recommendation is always trainable. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainwell.advise._profile import DURATIONS, MODELS, MODES, Profile
from trainwell.advise.rules import STAGES, Draft, Rule, rules_in
from trainwell.config.paths import set_path
from trainwell.config.schema import Config

__all__ = ["DURATIONS", "MODELS", "MODES", "Profile", "Reason", "Recommendation", "recommend"]


@dataclass(frozen=True)
class Reason:
    """Why one config field has its value: the rule that set it, in words, and the guide it comes from."""

    field: str
    value: Any
    rule: str
    why: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "rule": self.rule, "why": self.why, "source": self.source}


@dataclass
class Recommendation:
    config: Config
    reasons: list[Reason] = field(default_factory=list)
    profile: Profile | None = None
    rules: list[str] = field(default_factory=list)  # every rule that fired, in decision order

    def reason_for(self, field_path: str) -> Reason | None:
        return next((r for r in self.reasons if r.field == field_path), None)

    @property
    def fields(self) -> list[str]:
        return [r.field for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        """{"config": {...}, "reasons": [{"field", "value", "rule", "why", "source"}]}: the JSON output."""
        from trainwell.config.structure import to_dict

        return {"config": to_dict(self.config), "reasons": [r.to_dict() for r in self.reasons]}


def _fire(rule: Rule, draft: Draft, reasons: dict[str, Reason]) -> None:
    effect = rule.apply(draft)
    draft.fired.append(rule.id)
    why = str(effect.pop("_why", "")) or rule.why
    extra = effect.pop("_source", "")
    source = f"{rule.source}; {extra}" if extra else rule.source
    if why != rule.why:
        why = f"{rule.why}: {why}"
    for key, value in effect.items():
        if key.startswith("_"):
            draft.notes[key] = value
            continue
        draft.values[key] = value
        reasons[key] = Reason(key, value, rule.id, why, source)


def decide(profile: Profile) -> tuple[Draft, list[Reason]]:
    """Run every stage; returns the decisions and their reasons (in stage order)."""
    draft = Draft(profile)
    reasons: dict[str, Reason] = {}
    for stage in STAGES:
        if stage.fields and all(f in draft.values for f in stage.fields):
            continue  # an earlier table row already decided this (003's epoch-budget table)
        for rule in rules_in(stage.name):
            if rule.when(draft):
                _fire(rule, draft, reasons)
                break
        else:
            if stage.required:
                raise RuntimeError(f"no recommender rule matched stage '{stage.name}' for {profile}")
    return draft, list(reasons.values())


def recommend(profile: Profile) -> Recommendation:
    """A complete, validated Config for ``profile`` and a Reason for every field the rules set."""
    from trainwell.config.io import config_from_dict, validate
    from trainwell.config.structure import to_dict
    from trainwell.errors import ConfigError

    draft, reasons = decide(profile)
    data: dict[str, Any] = to_dict(Config())
    for key, value in draft.values.items():
        set_path(data, key, value)
    config = config_from_dict(data)
    # Validate again with the estimated run length (warmup must end before training does).
    ConfigError.collect(validate(config, total_steps=draft.total_steps))
    return Recommendation(config, reasons, profile, list(draft.fired))
