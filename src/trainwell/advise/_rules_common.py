"""Shared vocabulary of the rule tables: model families, modes and thresholds the guides key on."""

from __future__ import annotations

import math

INF = math.inf
S = frozenset
TRANSFORMERS = S({"transformer", "vit", "llm"})
TF = S({"transformer"})  # BERT-class encoders (001's "BERT fine-tuning" rows)
CONV = S({"cnn", "resnet"})
LIGHT = S({"mlp", "cnn", "rnn"})  # models small enough that memory rarely caps the batch
FINETUNE = S({"finetune"})
SCRATCH = S({"scratch"})
SMALL_DATA = 5000  # 003 §When to Use 10+ Epochs: "very small dataset (< 5k samples)"
