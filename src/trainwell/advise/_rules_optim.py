"""Rules for the optimizer, the learning rate and weight decay (001, 003, 004, 000).

The peak LR comes from one law (:mod:`trainwell.advise.lr_law`): the guide's value for the family, mode
and optimizer, rescaled to the model's width, the run's optimizer steps and the effective batch. The SGD
conflict dissolves in it: 001's 0.1 is for ResNet-50 at batch 256, 004's 1e-2 for a custom CNN at batch
32, and 0.1 x 32/256 = 0.0125.
"""

from __future__ import annotations

from typing import Any

from trainwell.advise._rules_common import CONV, FINETUNE, SCRATCH, SMALL_DATA, TF, TRANSFORMERS, S
from trainwell.advise.rules import Draft, Match, rule


def _sgd_worth_it(d: Draft) -> bool:
    """004: SGD for large datasets (5000+ per class); 001's SGD recipe is ImageNet (1.28M images, ~1.3k per class)."""
    per_class, size = d.profile.per_class, d.profile.dataset_size or 0
    large = (per_class is not None and per_class >= 5000) or size >= 1_000_000
    return large and d.epochs >= 30


# --- optimizer ---------------------------------------------------------------------------------------
rule(
    "optimizer.sgd-cnn-large-data",
    "optimizer",
    Match(models=CONV, modes=SCRATCH, test=_sgd_worth_it, test_doc="(≥ 5000 examples per class or ≥ 1M examples) and ≥ 30 epochs"),
    {"optimizer.name": "sgd", "optimizer.momentum": 0.9, "optimizer.nesterov": True},
    "a CNN from scratch on a large dataset with time to converge: SGD + Nesterov momentum 0.9 generalizes best",
    "001 §Optimizer Choice: CNN from scratch; 004 §Optimizer Comparison: SGD for 5000+ per class",
    {"model": "resnet", "dataset_size": 1_281_167, "num_classes": 1000},
)
rule(
    "optimizer.adamw-gpt",
    "optimizer",
    Match(models=S({"llm"}), modes=SCRATCH),
    {"optimizer.name": "adamw", "optimizer.betas": [0.9, 0.95]},
    "GPT-style pretraining: AdamW with beta2 = 0.95 (a shorter second-moment memory is more stable at scale)",
    "001 §Quick Reference: GPT-style Pretraining",
    {"model": "llm"},
)
rule(
    "optimizer.adamw",
    "optimizer",
    Match(),
    {"optimizer.name": "adamw"},
    "AdamW: adaptive steps with decoupled weight decay; the default for transformers, fine-tuning and small data",
    "000 §2.1.1 Decided Optimizer: AdamW; 001 §Optimizer Choice",
    {"model": "mlp"},
)


# --- lr: the LR law (advise/lr_law.py) for every context the budget table did not already decide ---------
def _band(d: Draft, optimizer: str) -> tuple[float, float]:
    """The guides' usual band for this optimizer, mode and batch: the one lint judges the config by."""
    from trainwell.advise.lr_bands import band

    mode = d.profile.mode
    found = band(optimizer, training_mode="frozen" if mode == "frozen" else "full", pretrained=mode != "scratch", batch=d.effective_batch)
    return found[0] if found else (0.0, float("inf"))


def _law(d: Draft) -> dict[str, Any]:
    from trainwell.advise.lr_bands import WARN_FACTOR
    from trainwell.advise.lr_law import load_table, predict

    p, optimizer = d.profile, str(d.get("optimizer.name"))
    table = load_table()
    law = predict(p.model, p.mode, optimizer, width=p.width, steps=d.total_steps, batch=d.effective_batch, table=table)
    low, high = _band(d, optimizer)
    evidence = table.measure.get(law.group)
    if evidence is not None:
        why = f"{law.explain(cap_note=False)}; measured instead: the corpus shows the range test beating the law for {law.group} ({evidence.get('why', '')})"
        source = f"{law.provenance}; {evidence.get('evidence', '')}"
    elif not low / WARN_FACTOR <= law.lr <= high * WARN_FACTOR:
        side = "above" if law.lr > high else "below"
        why = (
            f"{law.explain(cap_note=False)}; that is {side} the guides' band {low:g}-{high:g} for this optimizer and batch by more than "
            f"{WARN_FACTOR:g}x, beyond their experience: measured by the range test, with {law.lr:.3g} as the fallback"
        )
        source = law.provenance
    else:
        return {"optimizer.lr": law.lr, "_why": law.explain(), "_source": law.provenance, "_batch_lr_factor": law.factors.get("batch", 1.0)}
    return {
        "optimizer.lr": "find",
        "lr_find.fallback": law.lr,
        "_why": why,
        "_source": source,
        "_batch_lr_factor": law.factors.get("batch", 1.0),
    }


rule(
    "lr.law",
    "lr",
    Match(),
    _law,
    "the LR law: the guide's value for this family, mode and optimizer, rescaled to the model's width (μP), "
    "the run's optimizer steps and the batch",
    "trainwell.advise.lr_law (Yang et al. 2022 μP; Bjorck et al. 2025 LR horizons; Goyal et al. 2017 / Malladi et al. 2022 batch scaling)",
    {"model": "mlp"},
    "optimizer.lr = lr_law.predict(family, mode, optimizer, width, total steps, effective batch); 'find' (the law as lr_find.fallback) "
    "where the corpus shows the range test beats the law, or where the law leaves the guides' band by more than lint's 3x",
)


# --- lr-scale: a guide row that fixes an LR at its own batch (003's budget table) follows your batch --------
def _scale(d: Draft) -> dict[str, Any]:
    from trainwell.advise.lr_law import kind_of, load_table
    from trainwell.optim.scaling import scale_lr

    name = str(d.get("optimizer.name"))
    base, ref = float(d.get("optimizer.lr")), int(d.get("_lr_batch"))
    scaled = scale_lr(base, ref, d.effective_batch, name)
    value, why = scaled.lr, f"guide LR {base:g} at batch {ref}; {scaled.reason}"
    table = load_table()
    key = f"{kind_of(name)}:{d.profile.mode}"
    low, high = table.caps[key]
    if not low <= value <= high:  # the same band the LR law clips to
        value = min(max(value, low), high)
        why += f"; clipped to {value:g}, the guides' band {low:g}-{high:g} ({table.sources.get('cap:' + key, '')})"
    return {"optimizer.lr": float(f"{value:.3g}"), "_why": why, "_source": scaled.source}


rule(
    "lr.batch-scaling",
    "lr-scale",
    Match(
        test=lambda d: d.get("_lr_batch") is not None and d.effective_batch != d.get("_lr_batch"),
        test_doc="a table row fixed the LR at another batch than the effective batch",
    ),
    _scale,
    "the LR is tied to the batch: rescaled with the scaling rule (linear for SGD, square root for Adam)",
    "001 §Batch Size: linear scaling rule; trainwell.optim.scaling",
    {"model": "llm", "mode": "finetune", "epochs": 1, "batch_size": 128},
    "optimizer.lr = scale_lr(lr, lr_batch, effective batch)",
)


# --- weight decay (decoupled for AdamW; 001: "always use decoupled weight decay") --------------------
rule(
    "wd.sgd-cnn",
    "weight-decay",
    Match(optimizers=S({"sgd"})),
    {"optimizer.weight_decay": 1e-4},
    "SGD on a CNN: 1e-4",
    "001 §Weight Decay: SGD + CNN (ImageNet) 1e-4; 004 §L2: SGD 1e-4–1e-3",
    {"model": "resnet", "dataset_size": 1_281_167, "num_classes": 1000},
)
rule(
    "wd.pretraining",
    "weight-decay",
    Match(models=TRANSFORMERS, modes=SCRATCH),
    {"optimizer.weight_decay": 0.1},
    "transformer/ViT pretraining: 0.1",
    "001 §Weight Decay: AdamW + Transformer (pretraining) 0.1; 001 §Quick Reference: ViT, GPT",
    {"model": "llm"},
)
rule(
    "wd.vit-finetune",
    "weight-decay",
    Match(models=S({"vit"}), modes=FINETUNE),
    {"optimizer.weight_decay": 0.05},
    "ViT fine-tuning: the low end of 0.05-0.3",
    "001 §Weight Decay: AdamW + ViT 0.05–0.3",
    {"model": "vit", "mode": "finetune"},
)
rule(
    "wd.transformer-finetune",
    "weight-decay",
    Match(models=TF, modes=FINETUNE),
    {"optimizer.weight_decay": 0.01},
    "transformer fine-tuning: 0.01",
    "001 §Weight Decay: AdamW + Transformer (fine-tuning) 0.01; 000 §3.1",
    {"model": "transformer", "mode": "finetune"},
)
rule(
    "wd.small-data",
    "weight-decay",
    Match(dataset=(0, SMALL_DATA)),
    {"optimizer.weight_decay": 0.05},
    "smaller dataset -> larger weight decay: 0.05, inside AdamW's 0.01-0.1",
    "001 §Weight Decay: rule of thumb; 004 §L2 Regularization: AdamW 0.01–0.1",
    {"dataset_size": 1000},
)
rule(
    "wd.adamw-default",
    "weight-decay",
    Match(),
    {"optimizer.weight_decay": 0.01},
    "AdamW's decoupled weight decay: 0.01",
    "000 §3.1 Weight Decay; 004 §L2 Regularization: AdamW 0.01–0.1",
    {"model": "mlp"},
)

rule(
    "wd.exclude-bias-norm",
    "no-decay",
    Match(),
    {"optimizer.no_decay": ["bias", "norm"]},
    "biases and normalization weights are exempt from weight decay",
    "001 §Weight Decay: exclude biases and norm layers",
    {"model": "mlp"},
)
