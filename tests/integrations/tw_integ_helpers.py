"""Tiny models for the integration tests: a randomly initialised 2-layer BERT from a transformers config
(10-class "first token mod 10" task, 256 examples) and a small Lightning MLP on a learnable toy task."""

from __future__ import annotations

from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

N_LABELS = 10


class TokenData(torch.utils.data.Dataset):  # type: ignore[misc]
    """Rows of 8 token ids; the label is the first token mod 10 (learnable, so a sane LR makes progress)."""

    def __init__(self, ids: Any) -> None:
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.ids[i]
        return {"input_ids": row, "attention_mask": torch.ones_like(row), "labels": row[0] % N_LABELS}


def tiny_bert(seed: int = 0) -> Any:
    config = transformers.BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=16, num_labels=N_LABELS,
    )  # fmt: skip
    torch.manual_seed(seed)
    return transformers.BertForSequenceClassification(config)


def token_data() -> tuple[TokenData, TokenData]:
    ids = torch.randint(1, 64, (256, 8), generator=torch.Generator().manual_seed(0))
    return TokenData(ids[:200]), TokenData(ids[200:])


def hf_trainer(out: Any, lr: float, steps: int, make: Any = None, **args: Any) -> Any:
    """A Trainer on the tiny BERT: CPU, no checkpoints, a log every 2 steps and an evaluation every 20.
    ``make`` builds it from the Trainer's keyword arguments (default ``transformers.Trainer``)."""
    train, val = token_data()
    settings = {
        "output_dir": str(out), "learning_rate": lr, "max_steps": steps, "logging_steps": 2, "eval_strategy": "steps",
        "eval_steps": 20, "per_device_train_batch_size": 16, "report_to": [], "use_cpu": True, "save_strategy": "no",
        "disable_tqdm": True, "seed": 0, "log_level": "error", **args,
    }  # fmt: skip
    make = make or transformers.Trainer
    return make(model=tiny_bert(), args=transformers.TrainingArguments(**settings), train_dataset=train, eval_dataset=val)
