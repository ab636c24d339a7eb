"""Rules for the optimizer, the learning rate and weight decay (001, 003, 004, 000).

Each LR rule also records the effective batch its guide value was tuned at (``_lr_batch``), so the LR
can be rescaled when you intend another batch. Note how the SGD conflict dissolves: 001's 0.1 is for
ResNet-50 at batch 256, 004's 1e-2 is for a custom CNN at batch 32, and 0.1 x 32/256 = 0.0125.
"""

from __future__ import annotations

from typing import Any

from trainwell.advise._rules_common import CONV, FINETUNE, INF, SCRATCH, SMALL_DATA, TF, TRANSFORMERS, S
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


# --- lr (peak LR; ``_lr_batch`` = the effective batch the value was tuned at) ------------------------
def lr(value: float, batch: int) -> dict[str, Any]:
    return {"optimizer.lr": value, "_lr_batch": batch}


rule(
    "lr.sgd-resnet",
    "lr",
    Match(models=S({"resnet"}), optimizers=S({"sgd"})),
    lr(0.1, 256),
    "SGD on ResNet with BatchNorm: 0.1 at batch 256",
    "001 §Quick Reference: ResNet-50 on ImageNet; 001 §Practical Tuning Strategy",
    {"model": "resnet", "dataset_size": 1_281_167, "num_classes": 1000},
)
rule(
    "lr.sgd-cnn",
    "lr",
    Match(optimizers=S({"sgd"})),
    lr(1e-2, 32),
    "SGD + momentum on a custom CNN: 1e-2 at batch 32 (the linear-scaled 0.1 @ 256)",
    "004 §Quick Reference: SGD+Momentum 1e-2 for CNNs from scratch; 002 Example 2",
    {"model": "cnn", "dataset_size": 60000, "num_classes": 10, "epochs": 50},
)
rule(
    "lr.gpt",
    "lr",
    Match(models=S({"llm"}), modes=SCRATCH),
    lr(3e-4, 512),
    "GPT-style pretraining peak LR",
    "001 §Quick Reference: GPT-style Pretraining",
    {"model": "llm"},
)
rule(
    "lr.vit-scratch",
    "lr",
    Match(models=S({"vit"}), modes=SCRATCH),
    lr(1e-3, 1024),
    "ViT from scratch: 1e-3 at batch 1024",
    "001 §Quick Reference: ViT from Scratch",
    {"model": "vit"},
)
rule(
    "lr.transformer-scratch",
    "lr",
    Match(models=TF, modes=SCRATCH),
    lr(3e-4, 32),
    "a transformer from scratch: the top of 3e-4-1e-4",
    "004 §LR Ranges by Model Type: Transformer from scratch; 001 §Learning Rate",
    {"model": "transformer"},
)
FEW_STEPS = 500  # total optimizer steps below which a fine-tuning run is "very short"


def _few_steps(d: Draft) -> bool:
    total = d.total_steps
    return total is not None and total < FEW_STEPS


rule(
    "lr.finetune-few-steps",
    "lr",
    Match(models=TF, modes=FINETUNE, test=_few_steps, test_doc=f"< {FEW_STEPS} optimizer steps in the run"),
    lr(1e-4, 32),
    "a very short fine-tuning run (few hundred optimizer steps): 1e-4, as the guides' shortest budgets use; "
    "at 2e-5-5e-5 so few steps leave the model near chance (measured: benchmarks/recommend.py, SST-2 400 x 2 epochs)",
    "003 §Quick Reference Table: 1-2 epochs 1e-4–2e-4; 004 §Transfer Learning Rule: 1e-4; 001 §Learning Rate: AdamW fine-tuning up to 5e-4",
    {"model": "transformer", "mode": "finetune", "dataset_size": 400, "epochs": 2},
)
rule(
    "lr.finetune-small-data",
    "lr",
    Match(models=TF, modes=FINETUNE, dataset=(0, 10_000)),
    lr(5e-5, 32),
    "fine-tuning on < 10k examples gives few optimizer steps: the top of the 2e-5-5e-5 fine-tuning default",
    "001 §Learning Rate: AdamW (fine-tuning) 2e-5–5e-5; 003 §Quick Reference: 5 epochs 5e-5",
    {"model": "transformer", "mode": "finetune", "dataset_size": 2000, "epochs": 5},
)
rule(
    "lr.finetune-short",
    "lr",
    Match(models=TF, modes=FINETUNE, epochs=(0, 3)),
    lr(3e-5, 32),
    "fine-tuning for 1-2 epochs: the standard 3e-5 (fewer epochs tolerate a higher LR)",
    "000 §2.2.1 Learning Rate; 003 §1: lower the LR as epochs increase",
    {"model": "transformer", "mode": "finetune", "epochs": 2},
)
rule(
    "lr.bert-finetune",
    "lr",
    Match(models=TF, modes=FINETUNE, epochs=(3, 20)),
    lr(2e-5, 32),
    "BERT-class fine-tuning for 3+ epochs",
    "001 §Quick Reference: BERT Fine-tuning",
    {"model": "transformer", "mode": "finetune", "dataset_size": 20000, "epochs": 5},
)
rule(
    "lr.finetune-very-long",
    "lr",
    Match(models=TF, modes=FINETUNE, epochs=(20, INF)),
    lr(1e-5, 32),
    "fine-tuning for 20+ epochs: a very low LR to avoid overfitting",
    "003 §Quick Reference Table: 20+ epochs 1e-5",
    {"model": "transformer", "mode": "finetune", "dataset_size": 20000, "epochs": 20},
)
rule(
    "lr.vit-finetune",
    "lr",
    Match(models=S({"vit"}), modes=FINETUNE),
    lr(1e-4, 32),
    "ViT fine-tuning: 10x below the 1e-3 from-scratch LR",
    "004 §LR Ranges by Model Type: Vision Transformer fine-tuning; 004 §Transfer Learning",
    {"model": "vit", "mode": "finetune"},
)
rule(
    "lr.transfer-10x",
    "lr",
    Match(modes=FINETUNE),
    lr(1e-4, 32),
    "transfer learning: 10x lower than the 1e-3 from-scratch LR, so pretrained features survive",
    "004 §Transfer Learning Rule; 004 §Imbalanced Dataset, Transfer Learning: AdamW 1e-4",
    {"model": "resnet", "mode": "finetune"},
)
rule(
    "lr.frozen-head",
    "lr",
    Match(modes=S({"frozen"})),
    lr(1e-3, 32),
    "feature extraction trains only the new head: the from-scratch LR",
    "004 §LR Ranges by Model Type: Transfer (frozen) 1e-3–1e-4",
    {"model": "cnn", "mode": "frozen"},
)
rule(
    "lr.adamw-scratch",
    "lr",
    Match(),
    lr(1e-3, 32),
    "AdamW from scratch: 1e-3 (at batch 32)",
    "001 §Learning Rate: AdamW (from scratch) default 1e-3; 004 §Batch Size: batch 32, LR 1e-3",
    {"model": "mlp"},
)


# --- lr-scale (only when you name the batch you intend) ----------------------------------------------
ADAM_CAP = 5e-3


def _scale(d: Draft) -> dict[str, Any]:
    from trainwell.optim.scaling import scale_lr

    base, ref = float(d.get("optimizer.lr")), int(d.get("_lr_batch"))
    scaled = scale_lr(base, ref, d.effective_batch, str(d.get("optimizer.name")))
    value, why = scaled.lr, f"guide LR {base:g} at batch {ref}; {scaled.reason}"
    if d.get("optimizer.name") in ("adam", "adamw") and value > ADAM_CAP:
        value, why = ADAM_CAP, why + f"; capped at {ADAM_CAP:g} for Adam (004 §Batch Size)"
    return {"optimizer.lr": float(f"{value:.3g}"), "_why": why, "_source": scaled.source}


rule(
    "lr.batch-scaling",
    "lr-scale",
    Match(
        test=lambda d: d.profile.batch_size is not None and d.effective_batch != d.get("_lr_batch"),
        test_doc="--batch-size differs from the batch the LR was tuned at",
    ),
    _scale,
    "the LR is tied to the batch: rescaled with the scaling rule (linear for SGD, square root for Adam)",
    "001 §Batch Size: linear scaling rule; trainwell.optim.scaling",
    {"model": "mlp", "batch_size": 128},
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
