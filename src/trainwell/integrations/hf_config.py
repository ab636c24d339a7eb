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
    from trainwell.advise.hf_import import UNNAMED_TASK, from_hf
    from trainwell.config.io import config_from_dict

    data = {k: v for k, v in args.to_dict().items() if v is not None}
    precision, precision_note = trainer_precision(args)
    data["fp16"], data["bf16"] = precision == "fp16", precision == "bf16"  # what the Trainer does, not what was asked
    task = f"hf:{type(model).__name__}" if model is not None else UNNAMED_TASK
    dropped: list[str] = []
    while True:  # each pass drops the keys the last one could not import; the mapping shrinks, so this ends
        try:
            conversion = from_hf(data, task)
            break
        except ConfigError as exc:
            keys = {p.where.split(".")[0] for p in exc.problems} & set(data)
            if not keys:
                raise
            dropped.extend(f"{k}={data.pop(k)!r}" for k in sorted(keys))
    out = dict(conversion.data)
    out["task"] = task  # the run the callback records is the HF model it watches, a TRL SFT file's included
    notes = [*conversion.notes, *(f"not imported (trainwell has no such value): {d}" for d in dropped)]
    return config_from_dict(out), notes + ([precision_note] if precision_note else [])


def trainer_precision(args: Any) -> tuple[str, str | None]:
    """(the precision the Trainer computes in, a note when that is not what the arguments ask for).

    ``fp16=True`` on CPU: HF accepts it, but the Trainer's Accelerator neither autocasts to fp16 nor scales
    the loss on CPU, so the run is fp32 (tests/integrations pins this: transformers 5.x, accelerate 1.16).
    bf16 on CPU is a real bf16 autocast."""
    if getattr(args, "bf16", False):
        return "bf16", None
    if getattr(args, "fp16", False):
        device = getattr(getattr(args, "device", None), "type", "cpu")
        if device == "cpu":
            return (
                "fp32",
                "fp16=True on CPU: the Trainer's Accelerator does not autocast to fp16 or scale the loss on CPU, so it trains in fp32",
            )
        return "fp16", None
    return "fp32", None
