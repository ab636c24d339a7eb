"""The causal-lm task's loss and validation metrics: next-token cross-entropy averaged over response tokens,
perplexity, and a greedy-generation exact match for short answers.

This module imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from trainwell.tasks._sft_tokens import IGNORE


class CausalLMLoss(torch.nn.Module):
    """Mean next-token cross-entropy over the supervised tokens (labels != -100) of a batch."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # Position t predicts token t+1: drop the last logit and the first label.
        shifted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
        target = labels[:, 1:].reshape(-1)
        total = torch.nn.functional.cross_entropy(
            shifted, target, ignore_index=IGNORE, reduction="sum", label_smoothing=self.label_smoothing
        )
        return total / (target != IGNORE).sum().clamp(min=1)


def supervised_tokens(labels: torch.Tensor) -> int:
    """Tokens a batch's loss averages over: the weight of a micro-batch and of an evaluation batch."""
    return int((labels[:, 1:] != IGNORE).sum())


def normalise(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass
class Generation:
    """Greedy decoding of validation prompts for ``val_exact_match``."""

    tokenizer: Any
    prompts: list[list[int]]
    answers: list[str]
    max_new_tokens: int
    eos_id: int | None
    pad_id: int

    def __call__(self, model: torch.nn.Module, metrics: dict[str, float]) -> dict[str, float]:
        out = {"perplexity": math.exp(min(metrics["val_loss"], 50.0))}  # capped: exp overflows past ~709
        if not self.prompts:
            return out
        device = next(model.parameters()).device
        hits = 0
        for prompt, answer in zip(self.prompts, self.answers):
            ids = torch.tensor([prompt], device=device)
            generated = model.generate(  # type: ignore[operator]
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                use_cache=True,
                eos_token_id=self.eos_id,
                pad_token_id=self.pad_id,
            )
            text = self.tokenizer.decode(generated[0, len(prompt) :], skip_special_tokens=True)
            first_line = text.strip().split("\n")[0]
            hits += normalise(first_line) == normalise(answer)
        out["exact_match"] = hits / len(self.prompts)
        return out


def perplexity_only(model: torch.nn.Module, metrics: dict[str, float]) -> dict[str, float]:
    return {"perplexity": math.exp(min(metrics["val_loss"], 50.0))}
