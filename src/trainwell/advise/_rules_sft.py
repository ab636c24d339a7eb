"""Rules for supervised fine-tuning of language models (the ``causal-lm`` task), LoRA or full.

003 is a guide for LoRA SFT (its fixes say "increase LoRA rank r=16 → r=32"; its setting is a 7B
vision-language model), so its epoch table's learning rates (2e-4 down to 1e-5) are LoRA-range. Full
fine-tuning updates every weight and uses lower rates: 000's 3e-5 "for fine-tuning large pre-trained
models" and 001's AdamW fine-tuning range 2e-5–5e-5. The adapter is the profile's ``adapter`` (``--adapter``),
else read from the model (a trainable share under half means an adapter), else LoRA, 003's own setting.

Schedule, warmup and weight decay follow 003's table for both (they depend on the epoch budget, not on
which weights train); the clip is 003's 0.3 for LoRA SFT and 000/001's 1.0 for full fine-tuning. The
micro-batch comes from memory: weights (fp32 masters, as trainwell keeps them) plus gradients and AdamW's
two moments for the trained parameters only, then activations per sequence.
"""

from __future__ import annotations

import math
from typing import Any

from trainwell.advise._profile import Profile
from trainwell.advise._rules_common import FINETUNE, INF, S
from trainwell.advise._rules_schedule import _task_option
from trainwell.advise.rules import Draft, Match, rule

LLM = S({"llm"})
HAS_ADAPTER = _task_option("adapter")
SEQ_LEN = 512  # the causal-lm task's default max_length: the activation estimate's sequence length
USABLE = 0.9  # of a device's memory: the rest goes to the CUDA context, allocator fragmentation and buffers
LORA_SHARE = 0.01  # trainable share assumed for a LoRA run when the count is unknown (r=16 on q,k,v,o of a
# 7B Llama is 0.25 %; 1 % errs on the safe side)


def adapter_of(p: Profile) -> str:
    """lora | full: the profile's, else the model's trainable share, else 003's LoRA."""
    if p.adapter is not None:
        return p.adapter
    if p.params and p.trainable_params is not None:
        return "lora" if p.trainable_params < 0.5 * p.params else "full"
    return "lora"


def _is(adapter: str) -> Any:
    return lambda d: adapter_of(d.profile) == adapter


# --- task: a language model to fine-tune gets the causal-lm task -------------------------------------
rule(
    "task.causal-lm",
    "task",
    Match(models=LLM, modes=FINETUNE),
    {"task": "causal-lm"},
    "no --task: LLM fine-tuning is the causal-lm task (set model.name_or_path and data.path)",
    "trainwell.tasks.catalog; 003 (its workload is SFT)",
    {"model": "llm", "mode": "finetune"},
    before="task.closest-builtin",
)

# --- budget: 003's epoch table (LoRA) and the full fine-tuning rates -----------------------------------
# epochs [lo, hi) -> LoRA LR (003), full LR, scheduler, warmup ratio, weight decay, 003's words for the row
BUDGET_TABLE: tuple[tuple[tuple[int, float], float, float, str, float, float, str], ...] = (
    (
        (1, 2),
        2e-4,
        5e-5,
        "linear",
        0.03,
        0.0,
        "quick experiments: aggressive LR for fast adaptation; no weight decay, not needed for short training",
    ),
    ((2, 5), 1e-4, 3e-5, "linear", 0.03, 0.0, "standard training: a balanced LR; weight decay 0.0 (optional at 2 epochs)"),
    (
        (5, 10),
        5e-5,
        2e-5,
        "cosine",
        0.05,
        0.01,
        "best quality: a lower LR against overfitting over many epochs; weight decay 0.01 to prevent it",
    ),
    (
        (10, 20),
        3e-5,
        1e-5,
        "cosine",
        0.1,
        0.05,
        "maximum quality: a very conservative LR; weight decay 0.05, more as training grows longer",
    ),
    ((20, INF), 1e-5, 1e-5, "cosine", 0.1, 0.1, "research only: the lowest LR; weight decay 0.1, more as training grows longer"),
)
FULL_SOURCES = {
    1: "001 §Learning Rate: AdamW (fine-tuning) 2e-5–5e-5, its upper end for the shortest budget",
    2: "000 §2.2.1 Learning Rate: 3e-5 for fine-tuning large pre-trained models",
    5: "001 §Learning Rate: AdamW (fine-tuning) 2e-5–5e-5, its lower end; 001 §Quick Reference: BERT fine-tuning lr=2e-5",
    10: "003 §1: lower the LR as epochs increase, to its 20+ row's 1e-5 (below 001's 2e-5 floor)",
    20: "003 §Quick Reference Table: 20+ epochs 1e-5",
}


def _label(lo: int, hi: float) -> str:
    span = f"{lo}+" if hi == INF else f"{lo}" if hi == lo + 1 else f"{lo}-{int(hi) - 1}"
    return f"{span} epoch{'' if span == '1' else 's'}"


for (lo, hi), lora_lr, full_lr, sched, warm, wd, words in BUDGET_TABLE:
    schedule = {"schedule.name": sched, "schedule.warmup": warm, "optimizer.weight_decay": wd}
    rule(
        f"budget.003-{lo}-epochs",
        "budget",
        Match(models=LLM, modes=FINETUNE, epochs=(lo, hi), test=_is("lora"), test_doc="LoRA"),
        # 003's rows are tuned at its effective batch of 64 (1 per device x 8 accumulation x 8 GPUs).
        {"optimizer.lr": lora_lr, "_lr_batch": 64, **schedule},
        f"LoRA SFT for {_label(lo, hi)} ({words}): 003's row, LR {lora_lr:g}, {sched}, {warm:g} warmup, weight decay {wd:g}",
        "003 §Quick Reference Table (LoRA SFT of a 7B model)",
        {"model": "llm", "mode": "finetune", "epochs": lo},
    )
    rule(
        f"budget.full-{lo}-epochs",
        "budget",
        Match(models=LLM, modes=FINETUNE, epochs=(lo, hi), test=_is("full"), test_doc="full fine-tuning"),
        {"optimizer.lr": full_lr, "_lr_batch": 64, **schedule},
        f"full fine-tuning for {_label(lo, hi)}: every weight moves, so the LR is the fine-tuning range's ({full_lr:g}"
        + (f", not LoRA's {lora_lr:g}" if lora_lr != full_lr else ", where 003's LoRA row already is")
        + f"); schedule, warmup and weight decay from 003's row ({words})",
        f"{FULL_SOURCES[lo]}; 003 §Quick Reference Table (schedule, warmup, weight decay); 000 §4.1.1 batch 32 or 64",
        {"model": "llm", "mode": "finetune", "epochs": lo, "adapter": "full"},
    )


# --- adapter: LoRA's rank, alpha and dropout, or full fine-tuning ----------------------------------------
def _lora(d: Draft) -> dict[str, Any]:
    params = d.profile.params
    dropout, size = (0.1, f"{params / 1e9:.3g}B parameters ≤ 13B") if params and params <= 13e9 else (0.05, "")
    if params and params > 13e9:
        size = f"{params / 1e9:.3g}B parameters > 13B"
    dropout_why = (
        f"dropout {dropout:g} ({size})" if size else f"dropout {dropout:g} (model size unknown: QLoRA's value for its large models)"
    )
    return {
        "model.adapter": "lora",
        "model.lora_r": 16,
        "model.lora_alpha": 16,
        "model.lora_dropout": dropout,
        "model.lora_target_modules": "auto",
        "_why": f"r 16 (raise to 32 when both losses stay high), alpha 16 kept when r changes, {dropout_why}, "
        "the family's attention projections",
    }


rule(
    "adapter.lora",
    "adapter",
    Match(models=LLM, modes=FINETUNE, test=lambda d: HAS_ADAPTER(d) and _is("lora")(d), test_doc="LoRA, task has adapter options"),
    _lora,
    "LoRA: rank 16, alpha = the first rank tried (the scale alpha/r then needs no LR retuning when r changes)",
    "003 §Underfitting: LoRA rank r=16 → r=32; Hu et al. 2021 (LoRA) §4.1: alpha set to the first r tried and not tuned; "
    "Dettmers et al. 2023 (QLoRA) App. B: dropout 0.1 up to 13B, 0.05 above",
    {"model": "llm", "mode": "finetune", "params": 7_000_000_000},
    "lora_r = 16, lora_alpha = 16, lora_dropout = 0.1 (≤ 13B) or 0.05, target modules = the family's default",
)
rule(
    "adapter.full",
    "adapter",
    Match(
        models=LLM, modes=FINETUNE, test=lambda d: HAS_ADAPTER(d) and _is("full")(d), test_doc="full fine-tuning, task has adapter options"
    ),
    {"model.adapter": "none"},
    "full fine-tuning: every weight trains, no adapter",
    "your profile (--adapter full, or a model whose parameters all train)",
    {"model": "llm", "mode": "finetune", "adapter": "full"},
)


# --- batch-fit: what one device holds for SFT --------------------------------------------------------
def _memory(d: Draft) -> dict[str, Any]:
    p = d.profile
    assert p.params is not None and p.gpu_memory is not None  # the rule's condition
    gpus = p.gpus or 1
    n = p.dataset_size
    want = min(int(d.get("_want_batch", 64)), n) if n else int(d.get("_want_batch", 64))
    adapter = adapter_of(p)
    trained = p.trainable_params if p.trainable_params is not None else (p.params if adapter == "full" else int(p.params * LORA_SHARE))
    # fp32 weights (4 B each), and for the trained ones an fp32 gradient and AdamW's two fp32 moments (12 B).
    static = (4 * p.params + 12 * trained) / 1e9
    usable = USABLE * p.gpu_memory
    parts = (
        f"weights {4 * p.params / 1e9:.3g} GB + gradients and AdamW moments of {trained:,} trained parameters {12 * trained / 1e9:.3g} GB"
    )
    if static > usable:
        accumulation = max(1, math.ceil(want / gpus))
        return {
            "batch.size": 1,
            "batch.accumulation": accumulation,
            "_why": f"{parts} = {static:.3g} GB does not fit {usable:.3g} GB usable of {p.gpu_memory:g} GB; 1 per device x "
            f"{accumulation} accumulation, and the model needs LoRA, more memory or a smaller model",
        }
    if p.width:
        # Activations of one sequence ≈ 34·s·h bytes per layer (Korthikanti et al. 2022, eq. 1, 16-bit, without the
        # attention scores that SDPA/flash attention do not store), with layers·h ≈ params / (12·h).
        per_seq = 34 * SEQ_LEN * p.params / (12 * p.width) / 1e9
        fits = max(1, min(math.ceil(want / gpus), int((usable - static) / per_seq)))
        micro = 2 ** int(math.log2(fits))  # a power of two: it divides 003's 64, so the effective batch stays 64
        how = f"{(usable - static):.3g} GB left for activations at ≈ {per_seq:.3g} GB per {SEQ_LEN}-token sequence"
    else:
        micro, how = 1, "width unknown, so 003's 1 per device (give --width to size the micro-batch)"
    accumulation = max(1, math.ceil(want / (micro * gpus)))
    size = max(1, math.ceil(want / (accumulation * gpus)))
    return {
        "batch.size": size,
        "batch.accumulation": accumulation,
        "_why": f"{parts} = {static:.3g} GB of {usable:.3g} GB usable; {how}: effective batch {want} = {size} x {accumulation} "
        f"accumulation x {gpus} device(s)",
    }


rule(
    "batch.fit-sft-memory",
    "batch-fit",
    Match(
        models=LLM,
        modes=FINETUNE,
        test=lambda d: d.profile.gpu_memory is not None and d.profile.params is not None,
        test_doc="GPU memory and parameter count known",
    ),
    _memory,
    "SFT micro-batch from memory: fp32 weights, plus gradients and AdamW state for the trained parameters only, then activations",
    "003 §5 Batch Size Settings (1 per device, accumulate to 64); 000 §4.1.2 (accumulate if and only if it does not fit); "
    "Korthikanti et al. 2022 (activation memory)",
    {"model": "llm", "mode": "finetune", "params": 1_000_000_000, "gpu_memory": 24, "width": 2048},
    "size = what fits after weights + trained-parameter state, accumulation = ⌈64 / size⌉",
    before="batch.fit-memory",
)

# --- clipping: 003's 0.3 is its LoRA SFT setting; full fine-tuning keeps the transformer default -----------
rule(
    "clip.full-sft",
    "clipping",
    Match(models=LLM, modes=FINETUNE, test=_is("full"), test_doc="full fine-tuning"),
    {"training.max_grad_norm": 1.0},
    "full fine-tuning of a transformer: clip at 1.0 (003's 0.3 was tested for its LoRA SFT, where only the adapter moves)",
    "000 §3.3 Gradient Clipping: 1.0; 001 §Gradient Clip Value: Transformers (LLMs, BERT) 1.0",
    {"model": "llm", "mode": "finetune", "adapter": "full"},
    before="clip.llm-sft",
)
