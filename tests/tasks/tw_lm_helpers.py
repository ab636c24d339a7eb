"""A tiny causal LM built offline for the causal-lm tests: a byte-level BPE tokenizer trained here with the
``tokenizers`` library (300 tokens, a chat template), a 2-layer GPT-2 or Llama config with random weights,
both saved with ``save_pretrained``, and JSONL files of short instruction examples."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

POSITIVE = ["great", "fun", "lovely", "moving", "sharp", "warm", "smart", "bright"]
NEGATIVE = ["dull", "boring", "flat", "messy", "weak", "slow", "bland", "stale"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def examples(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """(prompt, answer) pairs: a review of three words, the answer is the sentiment of its words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(["positive", "negative"])
        words = rng.sample(POSITIVE if label == "positive" else NEGATIVE, 3)
        out.append((f"Review: a {' '.join(words)} film. Sentiment:", label))
    return out


def write_jsonl(path: Path, n: int, chat: bool = False, seed: int = 0) -> Path:
    rows: list[dict[str, Any]] = []
    for prompt, answer in examples(n, seed):
        if chat:
            rows.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]})
        else:
            rows.append({"prompt": prompt, "response": " " + answer})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_tiny_lm(folder: Path, family: str = "gpt2", seed: int = 0) -> Path:
    """Save a tokenizer and a randomly initialised 2-layer causal LM (about 40k parameters) into ``folder``."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    texts = [p + " " + a for p, a in examples(200, seed=99)]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    eos = tokenizer.eos_token_id
    torch.manual_seed(seed)
    if family == "gpt2":
        config: Any = transformers.GPT2Config(
            vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=eos, eos_token_id=eos,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # randomness comes from lora_dropout alone
        )  # fmt: skip
    else:
        config = transformers.LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
            bos_token_id=eos,
            eos_token_id=eos,
            pad_token_id=eos,
        )
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


def lm_config(model_path: Path, data_path: Path, **sections: Any) -> dict[str, Any]:
    """A causal-lm config that trains in about a second; sections merge one level deep."""
    cfg: dict[str, Any] = {
        "task": "causal-lm",
        "seed": 3,
        "report": False,
        "doctor": {"live": False},
        "data": {"path": str(data_path), "val_fraction": 0.25, "options": {"max_length": 32}},
        "model": {"name_or_path": str(model_path), "adapter": "lora", "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.1},
        "optimizer": {"lr": 1e-2, "weight_decay": 0.0},
        "schedule": {"name": "linear", "warmup": 0.1},
        "batch": {"size": 4},
        "training": {"max_steps": 12, "max_grad_norm": 1.0, "precision": "fp32", "device": "cpu", "threads": 1},
        "evaluation": {"strategy": "steps", "every": 4, "metric": "val_loss", "mode": "min"},
        "logging": {"every": 2, "tensorboard": "off", "progress": "off"},
        "early_stopping": {"patience": None},
        "checkpoint": {"strategy": "steps", "every": 4, "keep": 2, "load_best_at_end": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg
