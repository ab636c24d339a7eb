"""The LR range lint compares against, chosen by training mode before optimizer.

The optimizer registry's ``lr_range`` covers training from scratch; fine-tuning, adapters and
preference optimisation each live in their own band, so a LoRA run at 2e-4 or a DPO run at 5e-6 is
not flagged for doing exactly what its method calls for.
"""

from __future__ import annotations

from trainwell.advise.lint.view import ConfigView

# stage names (LLaMA-Factory `stage`, TRL trainer kinds) whose LRs sit far below SFT's
PREFERENCE_STAGES = frozenset({"dpo", "orpo", "kto", "simpo", "ipo", "ppo", "cpo", "preference"})
ADAPTIVE = frozenset({"adam", "adamw"})

Band = tuple[tuple[float, float], str]


def lr_range(view: ConfigView) -> Band | None:
    """((low, high), what the band is for), or None when the optimizer family is not registered."""
    from trainwell.optim.optimizers import OPTIMIZERS

    family = view.optimizer_family
    if family is None or family not in OPTIMIZERS:
        return None
    if view.stage in PREFERENCE_STAGES and family in ADAPTIVE:
        # TRL's DPOConfig defaults to 1e-6; published DPO/KTO runs use 5e-7–5e-6.
        return (1e-7, 2e-5), f"preference optimisation ({view.stage}) with {family}"
    if view.training_mode in ("lora", "qlora") and family in ADAPTIVE:
        # 003: 2e-4 (1 epoch) to 1e-4 (2 epochs); QLoRA paper: 2e-4 for 7B-13B, 1e-4 for 33B+.
        return (5e-5, 5e-4), f"{view.training_mode.upper()} adapters with {family}"
    if view.pretrained and view.training_mode in (None, "full") and family in ADAPTIVE:
        return (1e-5, 5e-4), f"full fine-tuning of a pretrained model with {family} (001: AdamW fine-tuning 1e-5–5e-4)"
    if view.pretrained and view.training_mode in (None, "full") and family == "sgd":
        return (1e-4, 1e-3), "fine-tuning with SGD (004: unfrozen transfer learning 1e-3–1e-4)"
    info = OPTIMIZERS.get(family)
    return info.lr_range, f"{family} ({info.source.split(';')[0]})"
