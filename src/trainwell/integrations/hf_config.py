"""HF ``TrainingArguments`` -> trainwell ``Config`` for the HF callback and finder (no transformers import:
it reads ``args.to_dict()`` through ``advise.hf_import``, the import ``trainwell import --from hf`` uses)."""

from __future__ import annotations

from typing import Any

from trainwell.config.schema import Config
from trainwell.errors import ConfigError


def config_from_args(args: Any, model: Any = None) -> tuple[Config, list[str]]:
    """A trainwell Config for a TrainingArguments (or SFTConfig) object, with notes on what did not carry
    over. A setting trainwell cannot express (an optimizer or schedule it lacks) is dropped with a note:
    the callback must never stop someone's training because trainwell does not know a value."""
    from trainwell.advise.hf_import import from_hf
    from trainwell.config.io import config_from_dict

    data = {k: v for k, v in args.to_dict().items() if v is not None}
    dropped: list[str] = []
    while True:  # each pass drops the keys the last one could not import; the mapping shrinks, so this ends
        try:
            conversion = from_hf(data)
            break
        except ConfigError as exc:
            keys = {p.where.split(".")[0] for p in exc.problems} & set(data)
            if not keys:
                raise
            dropped.extend(f"{k}={data.pop(k)!r}" for k in sorted(keys))
    out = dict(conversion.data)
    out["task"] = f"hf:{type(model).__name__}" if model is not None else "hf:model"
    notes = [*conversion.notes, *(f"not imported (trainwell has no such value): {d}" for d in dropped)]
    return config_from_dict(out), notes
