"""The LR band the guides' experience covers, chosen by training mode before optimizer.

The optimizer registry's ``lr_range`` covers training from scratch (its top moved with the effective batch,
as the guides' own scaling rule says); fine-tuning, adapters and preference optimisation each live in their
own band, so a LoRA run at 2e-4 or a DPO run at 5e-6 is not flagged for doing what its method calls for.
Lint judges a config's LR by it (advise/lint/lr_ranges.py); the recommender asks it where the LR law leaves
the guides' experience. Torch-free and cheap to import (the recommender must start in < 0.3 s).
"""

from __future__ import annotations

# stage names (LLaMA-Factory `stage`, TRL trainer kinds) whose LRs sit far below SFT's
PREFERENCE_STAGES = frozenset({"dpo", "orpo", "kto", "simpo", "ipo", "ppo", "cpo", "preference"})
ADAPTIVE = frozenset({"adam", "adamw"})

Band = tuple[tuple[float, float], str]

# The top of the from-scratch band moves with the effective batch, as the guides' own scaling rule says:
# 004 §Batch Size "batch 32, LR 1e-3; 64 -> 2e-3; 128 -> 4e-3 (but cap around 5e-3 for Adam)"; for SGD
# 001's 0.1 is ResNet-50's at batch 256, linear (Goyal et al. 2017) up to 8k (001: breaks down above ~4k-8k).
# Adam's top is 0.03 at any batch, the LR law's cap (advise/lr_law.json): on trainwell's calibration corpus
# small CNNs, LSTMs, transformers from scratch and frozen-encoder heads had sweep-best Adam LRs of 0.01-0.16,
# far past 004's "cap around 5e-3 for Adam" (benchmarks/results/corpus_lr_law.json 'cap'); lint warns 3x beyond it.
BATCH_SCALED: dict[str, tuple[int, float]] = {"sgd": (256, 3.2)}
ADAM_TOP = 0.03


def scratch_band(family: str, effective_batch: int | None) -> Band:
    """The registry's from-scratch band for ``family``, its top scaled to the effective batch (never below the table's)."""
    from trainwell.optim.optimizers import OPTIMIZERS

    info = OPTIMIZERS.get(family)
    (low, high), context = info.lr_range, f"{family} ({info.source.split(';')[0]})"
    if family in ADAPTIVE:
        high = max(high, ADAM_TOP)
        context += f", up to {ADAM_TOP:g} (trainwell's calibration corpus; 004 capped Adam at 5e-3)"
    if family in BATCH_SCALED and effective_batch:
        reference, ceiling = BATCH_SCALED[family]
        if effective_batch > reference:
            high = min(ceiling, high * effective_batch / reference)
            context += f", top scaled linearly to batch {effective_batch} (cap {ceiling:g})"
    return (low, high), context


WARN_FACTOR = 3.0  # outside the band by more than this is a warning; closer, an info


def band(
    family: str | None,
    *,
    stage: str | None = None,
    training_mode: str | None = None,
    pretrained: bool | None = None,
    batch: int | None = None,
) -> Band | None:
    """((low, high), what the band is for), or None when the optimizer family is not registered.

    Lint judges a config's LR by it, and the recommender asks it where the guides' experience ends.
    """
    from trainwell.optim.optimizers import OPTIMIZERS

    if family is None or family not in OPTIMIZERS:
        return None
    if stage in PREFERENCE_STAGES and family in ADAPTIVE:
        # TRL's DPOConfig defaults to 1e-6; published DPO/KTO runs use 5e-7–5e-6.
        return (1e-7, 2e-5), f"preference optimisation ({stage}) with {family}"
    if training_mode in ("lora", "qlora") and family in ADAPTIVE:
        # 003: 2e-4 (1 epoch) to 1e-4 (2 epochs); QLoRA paper: 2e-4 for 7B-13B, 1e-4 for 33B+.
        return (5e-5, 5e-4), f"{training_mode.upper()} adapters with {family}"
    if pretrained and training_mode in (None, "full") and family in ADAPTIVE:
        return (1e-5, 5e-4), f"full fine-tuning of a pretrained model with {family} (001: AdamW fine-tuning 1e-5–5e-4)"
    if pretrained and training_mode in (None, "full") and family == "sgd":
        return (1e-4, 1e-3), "fine-tuning with SGD (004: unfrozen transfer learning 1e-3–1e-4)"
    return scratch_band(family, batch)
