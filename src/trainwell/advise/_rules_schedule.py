"""Rules for the schedule and warmup, clipping, dropout and freezing.

Warmup counts from the guides (GPT 2000 steps, BERT/ViT 10k steps) are for pretraining runs of
hundreds of thousands of steps; when trainwell knows the run's total steps it caps the count at 000's
10 %, and when it does not, it uses the 10 % ratio itself, so warmup always ends before training does.
"""

from __future__ import annotations

from typing import Any

from trainwell.advise._rules_common import CONV, FINETUNE, LIGHT, SCRATCH, TF, TRANSFORMERS, S
from trainwell.advise.rules import Draft, Match, rule


# --- schedule and warmup -----------------------------------------------------------------------------
def _warmup_count(count: int) -> Any:
    def effect(d: Draft) -> dict[str, Any]:
        total = d.total_steps
        if total is None:
            return {
                "schedule.name": "cosine",
                "schedule.warmup": 0.1,
                "_why": f"cosine with warmup; the guide's {count} steps need the run length, unknown here: 10 % of the steps (000)",
            }
        steps = min(count, max(1, int(0.1 * total)))
        capped = "" if steps == count else f" (the guide's {count} capped at 10 % of the {total} steps, 000)"
        warmup: float = steps if steps >= 1 and steps < total else 0.1
        return {"schedule.name": "cosine", "schedule.warmup": warmup, "_why": f"cosine with {steps} warmup steps{capped}"}

    return effect


def _no_epochs_given(d: Draft) -> bool:
    return d.profile.epochs is None and d.profile.duration is None


rule(
    "schedule.plateau-finetune",
    "schedule",
    Match(
        models=S({"mlp", "cnn", "resnet", "rnn"}),
        modes=FINETUNE,
        test=_no_epochs_given,
        test_doc="no --epochs or --duration (unknown duration)",
    ),
    {
        "schedule.name": "reduce_on_plateau",
        "schedule.warmup": 0.0,
        "schedule.plateau_patience": 5,
        "schedule.plateau_factor": 0.5,
        "schedule.min_lr": 1e-6,
    },
    "fine-tuning with an unknown duration: let validation drive the LR (factor 0.5 after 5 flat evaluations, floor 1e-6)",
    "001 §Scheduler Choice: fine-tuning, unknown duration -> ReduceLROnPlateau; 004 §Learning Rate Schedulers (factor 0.5, patience 5)",
    {"model": "resnet", "mode": "finetune"},
)


def _gpt(d: Draft) -> dict[str, Any]:
    return {**_warmup_count(2000)(d), "schedule.min_lr_ratio": 0.1}


rule(
    "schedule.gpt-warmup",
    "schedule",
    Match(models=S({"llm"}), modes=SCRATCH),
    _gpt,
    "GPT pretraining: cosine with 2000 warmup steps, decaying to 10 % of the peak (not to 0)",
    "001 §Warmup Steps: GPT pretraining 2,000–4,000; 001 §Quick Reference; Brown et al. 2020 (GPT-3 §B: cosine to 10 % of the peak); "
    "Hoffmann et al. 2022 (Chinchilla: cosine to 10 %)",
    {"model": "llm", "dataset_size": 10_000_000},
    "cosine to 10 % of the peak, warmup = min(2000, 10 % of steps)",
)
rule(
    "schedule.vit-scratch-warmup",
    "schedule",
    Match(models=S({"vit"}), modes=SCRATCH),
    _warmup_count(10_000),
    "ViT from scratch: cosine with 10k warmup steps",
    "001 §Warmup Steps: ViT from scratch 10,000; 001 §Quick Reference",
    {"model": "vit", "dataset_size": 1_281_167},
    "cosine, warmup = min(10000, 10 % of steps)",
)
rule(
    "schedule.transformer-pretrain-warmup",
    "schedule",
    Match(models=TF, modes=SCRATCH),
    _warmup_count(10_000),
    "transformer pretraining: cosine with 10k warmup steps",
    "001 §Warmup Steps: BERT pretraining ~10,000",
    {"model": "transformer", "dataset_size": 100_000},
    "cosine, warmup = min(10000, 10 % of steps)",
)
rule(
    "schedule.bert-finetune",
    "schedule",
    Match(models=TF, modes=FINETUNE, epochs=(0, 6)),
    {"schedule.name": "cosine", "schedule.warmup": 0.06},
    "BERT-class fine-tuning for ≤ 5 epochs: cosine with 6 % warmup",
    "001 §Quick Reference: BERT Fine-tuning (warmup 6 %); 001 §Warmup Steps: 6–10 %",
    {"model": "transformer", "mode": "finetune", "epochs": 3},
)
rule(
    "schedule.long-finetune",
    "schedule",
    Match(models=S({"transformer", "vit"}), modes=FINETUNE),
    {"schedule.name": "cosine", "schedule.warmup": 0.1},
    "transformer fine-tuning for more epochs: cosine with 10 % warmup",
    "000 §2.2.3 Warm-up Proportion 10 %; 003 §3: 10+ epochs 0.1",
    {"model": "vit", "mode": "finetune"},
)
rule(
    "schedule.frozen-cosine",
    "schedule",
    Match(modes=S({"frozen"})),
    {"schedule.name": "cosine", "schedule.warmup": 0.1},
    "a head on a frozen backbone: cosine after 10 % warmup, the stack the LR law's frozen-mode constants were "
    "fitted on (the law's head LRs reach 1e-2 to 1e-1); on trainwell's corpus it moved test accuracy +2.7 and -0.8 points "
    "on the two frozen-MiniLM settings against 004's constant LR (seeds 0-1); its warmup alone, switched off, gave "
    "+1.95 and -0.1: two settings, too few to drop it",
    "trainwell corpus (benchmarks/corpus/fit.py fits the law on cosine + 10 % warmup sweeps); 000 §2.2.3 Warm-up "
    "Proportion 10 %; 004 §Scheduler Strategies suggests a constant LR for frozen backbones",
    {"model": "transformer", "mode": "frozen", "dataset_size": 1000, "epochs": 10},
)
rule(
    "schedule.transfer-cosine",
    "schedule",
    Match(modes=FINETUNE),
    {"schedule.name": "cosine", "schedule.warmup": 0.0},
    "transfer fine-tuning with a known budget: cosine annealing, no warmup",
    "004 §Imbalanced Dataset, Transfer Learning: Cosine Annealing",
    {"model": "resnet", "mode": "finetune", "epochs": 30},
)
LARGE_BATCH_FACTOR = 4.0  # the batch term raised the LR this much or more: warm up (Goyal et al. 2017)
GOYAL_WARMUP_EPOCHS = 5


def _large_batch_warmup(d: Draft) -> dict[str, Any]:
    ratio = min(GOYAL_WARMUP_EPOCHS / max(1, d.epochs), 0.1)
    factor = float(d.get("_batch_lr_factor", 1.0))
    return {
        "schedule.name": "cosine",
        "schedule.warmup": round(ratio, 4),
        "_why": f"the batch raised the LR {factor:.3g}x: {ratio:.1%} of the steps of gradual warmup "
        f"(Goyal et al.'s {GOYAL_WARMUP_EPOCHS} epochs, at most 000's 10 %)",
    }


rule(
    "schedule.large-batch-warmup",
    "schedule",
    Match(
        models=LIGHT | CONV,
        modes=SCRATCH,
        test=lambda d: float(d.get("_batch_lr_factor", 1.0)) >= LARGE_BATCH_FACTOR,
        test_doc=f"the batch term raised the LR ≥ {LARGE_BATCH_FACTOR:g}x",
    ),
    _large_batch_warmup,
    "a large batch with a linearly (SGD) or square-root (Adam) scaled LR: cosine after gradual warmup, which the linear "
    "scaling rule needs at large batch",
    "Goyal et al. 2017 §2.2 (gradual warmup over 5 epochs); 001 §Batch Size: for very large batches use warmup; 000 §2.2.3: 10 %",
    {"model": "resnet", "dataset_size": 50000, "num_classes": 10, "batch_size": 4096},
    "cosine, warmup = min(5 epochs, 10 %) of the steps",
)
ADAM = S({"adam", "adamw"})
rule(
    "schedule.adam-scratch-warmup",
    "schedule",
    Match(models=LIGHT | CONV, modes=SCRATCH, optimizers=ADAM),
    {"schedule.name": "cosine", "schedule.warmup": 0.1},
    "Adam from scratch: cosine after 10 % warmup. The LR law's constants were fitted on corpus sweeps run with 10 % "
    "warmup, and its LRs (1e-2 and above for small models) are only safe with it: on trainwell's calibration corpus, "
    "switching it off cost test accuracy on 8 of 26 settings from scratch and helped on 6 (mean points: transformers "
    "-5.12, CNNs -1.51, LSTMs -1.15, MLPs -0.15; seeds 0-1 paired); before it, the recommended CNNs lost 4.6-6.1 "
    "points to the oracle. Over the MLPs, CNNs and RNNs it covers: -0.42 points on average; held out Fashion-MNIST "
    "the rest give -0.25, at the noise, which keeps 001's none",
    "trainwell corpus (benchmarks/results/corpus.json 'ablations': warmup); Liu et al. 2020 (RAdam) §3: Adam's "
    "early steps have high-variance updates that warmup damps; 000 §2.2.3 Warm-up Proportion 10 %; 001 §Warmup Steps "
    "(optional for CNNs at the guides' low LRs)",
    {"model": "cnn", "dataset_size": 3000, "epochs": 3},
)
rule(
    "schedule.cosine-no-warmup",
    "schedule",
    Match(models=LIGHT | CONV, modes=SCRATCH),
    {"schedule.name": "cosine", "schedule.warmup": 0.0},
    "SGD from scratch with a fixed epoch budget: cosine annealing; warmup is optional for CNNs at SGD's LRs, so start without it",
    "001 §Scheduler Choice: CNN, fixed epochs -> CosineAnnealingLR; 001 §Warmup Steps: for CNNs warmup is optional",
    {"model": "resnet", "dataset_size": 1_281_167, "num_classes": 1000},
)


# --- clipping ----------------------------------------------------------------------------------------
rule(
    "clip.llm-sft",
    "clipping",
    Match(models=S({"llm"}), modes=FINETUNE),
    {"training.max_grad_norm": 0.3},
    "LLM fine-tuning: max_grad_norm 0.3, tested stable for SFT",
    "003 §6 Gradient Clipping",
    {"model": "llm", "mode": "finetune"},
)
rule(
    "clip.transformer",
    "clipping",
    Match(models=TRANSFORMERS),
    {"training.max_grad_norm": 1.0},
    "transformers: always clip at 1.0, a cheap safety net",
    "001 §Gradient Clip Value: Transformers 1.0; 000 §3.3",
    {"model": "transformer"},
)
rule(
    "clip.rnn",
    "clipping",
    Match(models=S({"rnn"})),
    {"training.max_grad_norm": 1.0},
    "RNNs/LSTMs explode without clipping: 1.0, the low end of 1.0-5.0",
    "001 §Gradient Clip Value: RNNs / LSTMs 1.0–5.0",
    {"model": "rnn"},
)
rule(
    "clip.cnn-adam",
    "clipping",
    Match(models=CONV, modes=SCRATCH, optimizers=ADAM),
    {"training.max_grad_norm": 1.0},
    "a CNN trained from scratch with Adam: clip at 1.0, the stack the LR law was fitted on; on trainwell's corpus "
    "switching it off cost the two Fashion-MNIST CNNs 1.2 and 1.3 points and moved the USPS one by -0.05 (seeds 0-1 "
    "paired): the evidence is one dataset's (held out Fashion-MNIST, USPS alone keeps 001's none)",
    "trainwell corpus (benchmarks/results/corpus.json 'ablations': clipping); 000 §3.3 Gradient Clipping",
    {"model": "cnn", "dataset_size": 3000, "epochs": 3},
)
rule(
    "clip.cnn-off",
    "clipping",
    Match(models=CONV),
    {"training.max_grad_norm": None},
    "CNNs with BatchNorm rarely need clipping, and a 1.0 cap would throttle SGD's large early gradients",
    "001 §Gradient Clip Value: CNNs not usually needed",
    {"model": "resnet", "dataset_size": 1_281_167, "num_classes": 1000},
)
rule(
    "clip.default",
    "clipping",
    Match(),
    {"training.max_grad_norm": 1.0},
    "clip the gradient norm at 1.0 as a safety measure",
    "000 §3.3 Gradient Clipping; 001 §Practical Tuning Strategy",
    {"model": "mlp"},
)


# --- dropout (only where the task takes a `dropout` model option) ------------------------------------
def _task_option(option: str) -> Any:
    def test(d: Draft) -> bool:
        from trainwell.tasks.catalog import TASKS

        task = str(d.get("task", ""))
        return task in TASKS and option in TASKS.get(task).model_defaults

    return test


HAS_DROPOUT = _task_option("dropout")
rule(
    "dropout.transformer-scratch-short",
    "dropout",
    Match(models=TRANSFORMERS, modes=SCRATCH, epochs=(0, 6), test=HAS_DROPOUT, test_doc="task has a dropout option"),
    {"model.dropout": 0.0},
    "no dropout on a transformer trained from scratch for 5 epochs or fewer: such a run underfits. On trainwell's "
    "calibration corpus switching 001's 0.1 off changed test accuracy by +1.72 points on SST-2, +0.15 on emotion "
    "(+3.60 and -3.30 under two earlier recommendations) and 0.00 on SMS (seeds 0-1 paired, mean over the "
    "recommendations ablated): +0.62 on average. Held out SST-2, the other two are within noise, so the decision rests "
    "mostly on one dataset",
    "trainwell corpus, benchmarks/results/corpus.json 'ablations' (dropout, transformer family); 001 §Dropout Rate: "
    "Transformer 0.1 (for long runs; LM pre-training commonly drops it too)",
    {"model": "transformer", "dataset_size": 2000, "epochs": 3},
)
rule(
    "dropout.transformer",
    "dropout",
    Match(models=TRANSFORMERS, test=HAS_DROPOUT, test_doc="task has a dropout option"),
    {"model.dropout": 0.1},
    "transformer attention/FFN dropout 0.1",
    "001 §Dropout Rate: Transformer 0.1; 004 §Dropout: 0.1–0.2",
    {"model": "transformer", "mode": "finetune"},
)
rule(
    "dropout.resnet-none",
    "dropout",
    Match(models=S({"resnet"}), test=HAS_DROPOUT, test_doc="task has a dropout option"),
    {"model.dropout": 0.0},
    "standard ResNets use no dropout: BatchNorm and weight decay regularise them",
    "He et al. 2016 (Deep Residual Learning) §3.4: no dropout, following Ioffe & Szegedy 2015; 001 §Dropout Rate: tune dropout last",
    {"model": "resnet"},
)
rule(
    "dropout.cnn",
    "dropout",
    Match(models=CONV, test=HAS_DROPOUT, test_doc="task has a dropout option"),
    {"model.dropout": 0.2},
    "CNN dropout 0.2 (001's 0.1-0.2 meets 004's 0.25-0.3)",
    "001 §Dropout Rate: CNN 0.1–0.2; 004 §Dropout: conv 0.25–0.3",
    {"model": "cnn"},
)
rule(
    "dropout.fc",
    "dropout",
    Match(models=S({"mlp"}), test=HAS_DROPOUT, test_doc="task has a dropout option"),
    {"model.dropout": 0.0},
    "no dropout on an MLP: on trainwell's calibration corpus, switching off 001's 0.3 raised test accuracy on 10 of 18 MLP "
    "settings and lowered it on none (mean +0.78 points, seeds 0-1 paired); add dropout only when the doctor sees overfitting",
    "trainwell corpus, benchmarks/results/corpus.json 'ablations' (rule ablations on 18 MLP settings); "
    "001 §Dropout Rate: FC layers 0.3–0.5 and 004 §Dropout: dense 0.5–0.7 not borne out on small MLPs",
    {"model": "mlp"},
)

# --- freeze (feature extraction) ---------------------------------------------------------------------
rule(
    "freeze.backbone",
    "freeze",
    Match(modes=S({"frozen"}), test=_task_option("freeze_backbone"), test_doc="task has a freeze_backbone option"),
    {"model.freeze_backbone": True},
    "feature extraction: the pretrained backbone stays frozen, only the head trains",
    "004 §LR Ranges by Model Type: Transfer (frozen) = feature extraction",
    {"model": "transformer", "mode": "frozen"},
)
