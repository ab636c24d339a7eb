"""Rules for the batch: the effective batch each guide wants, then how it fits in GPU memory (micro-batch
x gradient accumulation x devices; 000: accumulate if and only if the wanted batch does not fit)."""

from __future__ import annotations

import math
from typing import Any

from trainwell.advise._rules_common import FINETUNE, INF, LIGHT, SCRATCH, SMALL_DATA, S
from trainwell.advise.rules import Draft, Match, rule


# --- batch (the effective batch wanted) --------------------------------------------------------------
def _given_batch(d: Draft) -> dict[str, Any]:
    return {"_want_batch": d.profile.batch_size}


rule(
    "batch.given",
    "batch",
    Match(test=lambda d: d.profile.batch_size is not None, test_doc="--batch-size given"),
    _given_batch,
    "the effective batch you intend",
    "your profile (--batch-size)",
    {"batch_size": 128},
    effect_doc="wanted batch = --batch-size",
)
rule(
    "batch.resnet-imagenet",
    "batch",
    Match(models=S({"resnet"}), optimizers=S({"sgd"})),
    {"_want_batch": 256},
    "ResNet + SGD: the ImageNet recipe's batch, which its LR 0.1 was tuned at",
    "001 §Quick Reference: ResNet-50 on ImageNet",
    {"model": "resnet", "dataset_size": 1_281_167, "num_classes": 1000},
    "wanted batch = 256",
)
rule(
    "batch.vit-scratch",
    "batch",
    Match(models=S({"vit"}), modes=SCRATCH, dataset=(100_000, INF)),
    {"_want_batch": 1024},
    "ViT from scratch on a large dataset: the recipe's batch, which its LR 1e-3 was tuned at",
    "001 §Quick Reference: ViT from Scratch",
    {"model": "vit", "dataset_size": 1_281_167},
    "wanted batch = 1024",
)
rule(
    "batch.gpt",
    "batch",
    Match(models=S({"llm"}), modes=SCRATCH),
    {"_want_batch": 512},
    "GPT-style pretraining batch",
    "001 §Quick Reference: GPT-style Pretraining",
    {"model": "llm"},
    "wanted batch = 512",
)
rule(
    "batch.llm-sft",
    "batch",
    Match(models=S({"llm"}), modes=FINETUNE),
    {"_want_batch": 64},
    "LLM fine-tuning: effective batch 64 (1 per device x 8 accumulation x 8 GPUs)",
    "003 §5 Batch Size Settings",
    {"model": "llm", "mode": "finetune"},
    "wanted batch = 64",
)
rule(
    "batch.small-data",
    "batch",
    Match(dataset=(0, SMALL_DATA)),
    {"_want_batch": 16},
    "small dataset: a small batch (≤ 16) regularizes through gradient noise",
    "001 §Batch Size: small batches (≤16); 004 §Small Dataset, Custom CNN: batch 16",
    {"dataset_size": 1000},
    "wanted batch = 16",
)
rule(
    "batch.bert",
    "batch",
    Match(models=S({"transformer"}), modes=FINETUNE),
    {"_want_batch": 32},
    "BERT-class fine-tuning batch",
    "001 §Quick Reference: BERT Fine-tuning",
    {"model": "transformer", "mode": "finetune"},
    "wanted batch = 32",
)
rule(
    "batch.default",
    "batch",
    Match(),
    {"_want_batch": 32},
    "the balanced default batch",
    "004 §Batch Size Guidelines: 32 default; 000 §4.1.1: 32 or 64",
    {"model": "mlp"},
    "wanted batch = 32",
)


# --- batch-fit (GPU memory -> micro-batch and accumulation) ------------------------------------------
# Largest per-device batch by model weight and memory (GB): 001's hardware table (16 GB: 32-256,
# 40 GB+: 64-512), upper ends for light models, lower ends for heavy ones; 003: 1 per device for LLMs.
MEMORY_CAP: dict[str, tuple[int, int, int]] = {"light": (128, 256, 512), "heavy": (16, 32, 64), "llm": (1, 1, 1)}


def per_device_cap(model: str, memory_gb: float) -> int:
    weight = "light" if model in LIGHT else "llm" if model == "llm" else "heavy"
    below16, from16, from40 = MEMORY_CAP[weight]
    return below16 if memory_gb < 16 else from16 if memory_gb < 40 else from40


def _want(d: Draft) -> int:
    want = int(d.get("_want_batch", 32))
    n = d.profile.dataset_size
    return min(want, n) if n else want  # a batch larger than the dataset is one full-batch step


def _fit(d: Draft) -> dict[str, Any]:
    gpus = d.profile.gpus or 1
    want = _want(d)
    cap = per_device_cap(d.profile.model, float(d.profile.gpu_memory or 0))
    accumulation = max(1, math.ceil(want / (cap * gpus)))
    size = max(1, math.ceil(want / (accumulation * gpus)))
    fits = "fits" if accumulation == 1 else f"does not fit ({cap} per device on {d.profile.gpu_memory:g} GB): accumulate {accumulation}"
    return {
        "batch.size": size,
        "batch.accumulation": accumulation,
        **_processes(gpus),
        "_why": f"effective batch {want} = {size} per device x {accumulation} accumulation x {gpus} device(s); {fits}",
    }


def _processes(gpus: int) -> dict[str, Any]:
    """A batch split over several devices holds only when the run has that many processes
    (`trainwell train --nproc N`): the config says so, and the engine checks it."""
    return {"distributed.processes": gpus} if gpus > 1 else {}


def _no_memory(d: Draft) -> dict[str, Any]:
    gpus = d.profile.gpus or 1
    want = _want(d)
    size = max(1, math.ceil(want / gpus))
    return {
        "batch.size": size,
        "batch.accumulation": 1,
        **_processes(gpus),
        "_why": f"effective batch {want} = {size} per device x {gpus} device(s)",
    }


rule(
    "batch.fit-memory",
    "batch-fit",
    Match(test=lambda d: d.profile.gpu_memory is not None, test_doc="GPU memory known"),
    _fit,
    "micro-batch by GPU memory; gradient accumulation only when the wanted batch does not fit",
    "001 §Batch Size: hardware table; 000 §4.1.2 Gradient Accumulation (if and only if); 003 §5 effective batch",
    {"model": "transformer", "mode": "finetune", "gpu_memory": 8},
    "size = min(cap(model, memory), wanted), accumulation = ⌈wanted / size⌉",
)
rule(
    "batch.fit-unknown",
    "batch-fit",
    Match(),
    _no_memory,
    "no memory limit known: the wanted batch as one micro-batch",
    "000 §4.1.2: accumulate only when the batch does not fit",
    {"model": "mlp"},
    "size = wanted, accumulation = 1",
)
