"""`trainwell recommend`: describe the job, get a full valid config where every value says why.

    trainwell recommend --model transformer --mode finetune --dataset-size 20000 --epochs 5 --format json
    trainwell recommend --task digits -o digits.yaml && trainwell train digits.yaml

YAML output carries each reason as a comment above its field; JSON output is
{"config": {...}, "reasons": [{"field", "value", "rule", "why", "source"}], "profile": {...}};
``--format hf-args`` / ``lightning`` print ready-to-paste framework code (integrations/snippets.py).
Torch is never imported here.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from trainwell.advise._profile import ADAPTERS, DURATIONS, METRICS, MODELS, MODES

_FACTS = (
    "model",
    "mode",
    "dataset_size",
    "num_classes",
    "imbalance",
    "epochs",
    "duration",
    "gpu_memory",
    "gpus",
    "bf16",
    "batch_size",
    "params",
    "trainable_params",
    "width",
    "depth",
    "adapter",
    "metric",
)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task",
        help="a built-in task (fills model, mode, dataset size, classes, imbalance, model size), or 'pkg.module:function': "
        "your task is built and its TaskFacts and model are read",
    )
    p.add_argument("--model", choices=MODELS, help="model family (default mlp, or the task's)")
    p.add_argument("--mode", choices=MODES, help="train from scratch, fine-tune, or train a head on a frozen backbone")
    p.add_argument(
        "--adapter",
        choices=ADAPTERS,
        help="LLM fine-tuning: a LoRA adapter or every weight (different LR ranges and clipping; default: read from the model, else lora)",
    )
    p.add_argument("--dataset-size", type=int, help="training examples")
    p.add_argument("--num-classes", type=int, help="number of classes")
    p.add_argument("--imbalance", type=float, help="largest class count / smallest class count (1 = balanced)")
    p.add_argument(
        "--metric",
        choices=METRICS,
        help="what the model will be scored on: accuracy keeps imbalanced classes unweighted, f1_macro weights them "
        "(default: 004's loss table by the imbalance ratio)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="epoch budget")
    budget.add_argument("--duration", choices=DURATIONS, help="budget in words when you have no epoch count")
    p.add_argument("--gpu-memory", type=float, help="GB of memory per GPU (sets the micro-batch and accumulation)")
    p.add_argument("--gpus", type=int, help="number of GPUs")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="whether the hardware supports bf16")
    p.add_argument("--batch-size", type=int, help="the effective batch you intend; the LR is rescaled to it")
    model = p.add_argument_group("the model (read from it when trainwell has it: --task, train, the Python API)")
    model.add_argument("--params", type=int, help="parameter count")
    model.add_argument("--trainable-params", type=int, help="trainable parameter count (default: all)")
    model.add_argument(
        "--width", type=int, help="hidden width: units per hidden layer, channels, d_model or LSTM size (the LR law scales by it)"
    )
    model.add_argument("--depth", type=int, help="layers with weights, input to output")
    p.add_argument(
        "--format",
        choices=("yaml", "json", "hf-args", "lightning"),
        default="yaml",
        help="output format: yaml, json, or ready-to-paste code (hf-args: transformers.TrainingArguments(...); "
        "lightning: L.Trainer(...) + configure_optimizers), each value with its reason as a comment",
    )
    p.add_argument("-o", "--output", help="also write the commented YAML config here (train it with `trainwell train FILE`)")
    p.set_defaults(run=_run, check=problems)


def profile_from_args(args: argparse.Namespace) -> Any:
    from trainwell.advise.recommender import Profile

    facts = {k: getattr(args, k) for k in _FACTS if getattr(args, k) is not None}
    if args.task and ":" in args.task:
        # A user task knows its own facts: build it (its function imports torch) and read them; flags win.
        from trainwell.advise.model_facts import task_profile_facts
        from trainwell.config import load_config

        return Profile.from_task(args.task, **{**task_profile_facts(load_config(None, [f"task={args.task}"])), **facts})
    if args.task:
        return Profile.from_task(args.task, **facts)
    return Profile(**facts)


def problems(args: argparse.Namespace) -> list[Any]:
    """The profile's problems with these flags (Profile's own checks), for a command line that has others: all
    are reported at once. A user task is not built for it: that runs the user's code, which `_run` does."""
    from trainwell.errors import ConfigError

    if args.task and ":" in args.task:
        return []
    try:
        profile_from_args(args)
    except ConfigError as exc:
        return exc.problems
    return []


def _run(args: argparse.Namespace) -> int:
    from trainwell.advise.recommender import recommend

    rec = recommend(profile_from_args(args))
    text = commented_yaml(rec)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    if args.format == "json":
        from trainwell.cli.common import print_json

        print_json({**rec.to_dict(), "profile": dataclasses.asdict(rec.profile) if rec.profile else {}})
    elif args.format in ("hf-args", "lightning"):
        from trainwell.integrations.snippets import FORMATS

        sys.stdout.write(FORMATS[args.format](rec))
    else:
        sys.stdout.write(text)
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _scalar(value: Any) -> str:
    import yaml

    return str(yaml.safe_dump(value, default_flow_style=True, width=10_000)).strip().removesuffix("...").strip()


def _emit(data: dict[str, Any], prefix: str, indent: int, reasons: dict[str, Any], out: list[str]) -> None:
    pad = "  " * indent
    for key, value in data.items():
        path = f"{prefix}{key}"
        reason = reasons.get(path)
        if reason is not None:
            out.append(f"{pad}# {reason.why} — {reason.source}")
        if isinstance(value, dict) and value:
            out.append(f"{pad}{key}:")
            _emit(value, f"{path}.", indent + 1, reasons, out)
        else:
            out.append(f"{pad}{key}: {_scalar(value)}")


def commented_yaml(rec: Any) -> str:
    """The recommended config as YAML, each field the recommender set preceded by its reason."""
    from trainwell.config.structure import to_dict

    lines = ["# trainwell recommend: every commented value was set by a rule (why — source); the rest are defaults."]
    if rec.profile is not None:
        facts = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(rec.profile).items() if v is not None)
        lines.append(f"# profile: {facts}")
    _emit(to_dict(rec.config), "", 0, {r.field: r for r in rec.reasons}, lines)
    return "\n".join(lines) + "\n"
