"""Tokenising supervised fine-tuning examples for the causal-lm task: prompt/response or chat examples cut
into trained and untrained pieces, token ids with labels (-100 on prompt tokens), truncation at
``max_length``, packing examples into rows that keep them apart, and batching.

This module imports torch; ``trainwell.tasks.causal_lm`` builds the task from it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset

from trainwell.compat import version_of
from trainwell.errors import ConfigError, DataError, Problem, require

FEATURE = "the causal-lm task"
IGNORE = -100  # the label torch's cross_entropy skips (ignore_index)
PACKING_SINCE = (4, 54)  # transformers builds the per-example causal mask from position ids from this version on


def chat_segments(tokenizer: Any, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, trained) pieces: every assistant turn is trained, the rest not.

    Each cut is where the template's rendering of the turns so far ends, so the pieces concatenate to the
    whole rendered conversation. A template whose rendering of a prefix is not a prefix of the whole cannot
    be cut this way, and is refused.
    """

    def render(turns: list[dict[str, str]], prompt: bool) -> str:
        if not turns:
            return ""
        text: str = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=prompt)
        return text

    pieces: list[tuple[str, bool]] = []
    done = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before, after = render(messages[:i], True), render(messages[: i + 1], False)
        if not (before.startswith(done) and after.startswith(before)):
            raise DataError(
                problems=[
                    Problem(
                        "tokenizer chat template",
                        "must render each conversation prefix as a prefix of the whole conversation",
                        repr(after[:80]),
                        "use a prompt/response file, or a template without history-dependent rewriting",
                    )
                ]
            )
        pieces += [(before[len(done) :], False), (after[len(before) :], True)]
        done = after
    full = render(messages, False)
    if len(full) > len(done):
        pieces.append((full[len(done) :], False))
    return [(text, trained) for text, trained in pieces if text]


def prompt_segments(row: dict[str, Any], eos: str | None) -> list[tuple[str, bool]]:
    return [(row["prompt"], False), (row["response"] + (eos or ""), True)]


@dataclass
class Encoded:
    ids: list[int]
    labels: list[int]
    truncated: bool
    positions: list[int] | None = None  # a packed row's per-example position ids; None: 0..len-1


def encode(tokenizer: Any, pieces: list[tuple[str, bool]], max_length: int, first_special: bool) -> Encoded:
    """Token ids and labels (-100 on untrained pieces), cut at ``max_length``.

    Pieces are tokenised one by one so the boundary between prompt and response is exact; the first piece
    gets the tokenizer's own special tokens (a BOS for Llama-style tokenizers) unless a chat template
    already wrote them.
    """
    ids: list[int] = []
    labels: list[int] = []
    for i, (text, trained) in enumerate(pieces):
        piece = tokenizer(text, add_special_tokens=first_special and i == 0)["input_ids"]
        ids += piece
        labels += piece if trained else [IGNORE] * len(piece)
    truncated = len(ids) > max_length
    return Encoded(ids[:max_length], labels[:max_length], truncated)


def pack(examples: list[Encoded], max_length: int) -> list[Encoded]:
    """First-fit packing of whole examples into rows of at most ``max_length`` tokens, in data order.

    Examples must not see each other: each restarts its position ids at 0, and the collated batch carries
    those ``position_ids`` without an attention mask, from which transformers (>= 4.54, ``masking_utils.
    find_packed_sequence_indices``) builds a block-diagonal causal mask, as TRL's padding-free packing and
    ``DataCollatorWithFlattening`` rely on. ``check_packing`` refuses a model whose attention ignores that.
    Each example's first label is ignored, as unpacked (nothing predicts a row's first token): otherwise the
    previous example's last token would be trained to predict it.
    """
    rows: list[Encoded] = []
    for ex in examples:
        labels = [IGNORE, *ex.labels[1:]]
        row = next((r for r in rows if len(r.ids) + len(ex.ids) <= max_length), None)
        if row is None:
            rows.append(Encoded(list(ex.ids), labels, ex.truncated, list(range(len(ex.ids)))))
        else:
            assert row.positions is not None
            row.ids += ex.ids
            row.labels += labels
            row.positions += range(len(ex.ids))
    return rows


def check_packing(model: torch.nn.Module, vocab: int) -> None:
    """Refuse packing when this model's attention lets a packed example see the one before it.

    Two short token runs go through the model packed (per-example position ids, no attention mask) and
    alone; the second's logits must match. Whether they do depends on the transformers version and the
    model's attention code, so it is measured rather than assumed from the model's family; an older
    transformers than ``PACKING_SINCE`` is refused first, by name (the pyproject floor of the llm extra is lower).
    """
    transformers = require("transformers", "llm", FEATURE)
    if version_of(transformers) < PACKING_SINCE:
        raise ConfigError(
            problems=[
                Problem(
                    "data.options.packing",
                    f"needs transformers >= {PACKING_SINCE[0]}.{PACKING_SINCE[1]} (it keeps packed examples apart by their position ids)",
                    f"transformers {transformers.__version__}",
                    f"pip install 'transformers>={PACKING_SINCE[0]}.{PACKING_SINCE[1]}', or set packing: false",
                )
            ]
        )
    ids = torch.arange(1, 8) % max(2, vocab)
    first, second = ids[:4], ids[4:]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            positions = torch.cat([torch.arange(4), torch.arange(3)])[None]
            # no key/value cache: transformers reads packed boundaries only without one (training runs without)
            packed = model(input_ids=ids[None], position_ids=positions, use_cache=False).logits
            alone = model(input_ids=second[None], use_cache=False).logits
            alone_first = model(input_ids=first[None], use_cache=False).logits
    finally:
        model.train(was_training)
    gap = max(float((packed[0, 4:] - alone[0]).abs().max()), float((packed[0, :4] - alone_first[0]).abs().max()))
    if not gap <= 1e-4 * max(1.0, float(alone.abs().max())):
        raise ConfigError(
            problems=[
                Problem(
                    "data.options.packing",
                    "needs a model whose attention keeps packed examples apart (per-example position ids)",
                    True,
                    f"set packing: false, or use transformers >= 4.54 with a model built on its masking utilities "
                    f"(a packed example's logits differed from its own by {gap:.3g})",
                )
            ]
        )


class LMDataset(Dataset[tuple[dict[str, torch.Tensor], torch.Tensor]]):
    """Item ``i`` is ``({"input_ids"}, labels)``, unpadded; ``collate`` pads a batch to its longest row."""

    def __init__(self, rows: list[Encoded]) -> None:
        self.ids = [torch.tensor(r.ids, dtype=torch.long) for r in rows]
        self.labels = [torch.tensor(r.labels, dtype=torch.long) for r in rows]
        self.positions = [None if r.positions is None else torch.tensor(r.positions, dtype=torch.long) for r in rows]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        positions = self.positions[i]
        inputs = {"input_ids": self.ids[i]} if positions is None else {"input_ids": self.ids[i], "position_ids": positions}
        return inputs, self.labels[i]


def make_collate(pad_id: int) -> Any:
    """Pad a batch at the right to its longest row. Unpacked rows get an attention mask; packed rows get
    their ``position_ids`` and no mask (a mask would stop transformers reading the example boundaries
    from the positions). Their padding continues the last example's positions: causal attention keeps
    real tokens from seeing the padding after them, and padded labels are ignored."""

    def collate(batch: list[tuple[dict[str, torch.Tensor], torch.Tensor]]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        width = max(len(item[1]) for item in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        packed = "position_ids" in batch[0][0]
        positions = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (inputs, target) in enumerate(batch):
            n = len(target)
            ids[row, :n], mask[row, :n], labels[row, :n] = inputs["input_ids"], 1, target
            if packed:
                last = int(inputs["position_ids"][-1])
                positions[row, :n] = inputs["position_ids"]
                positions[row, n:] = torch.arange(last + 1, last + 1 + width - n)
        if packed:
            return {"input_ids": ids, "position_ids": positions}, labels
        return {"input_ids": ids, "attention_mask": mask}, labels

    return collate


@dataclass
class Encoder:
    tokenizer: Any
    max_length: int
    chat: bool
    counts: dict[str, int] = field(default_factory=lambda: {"examples": 0, "truncated": 0, "dropped": 0})

    def pieces(self, row: dict[str, Any]) -> list[tuple[str, bool]]:
        if self.chat:
            return chat_segments(self.tokenizer, row["messages"])
        return prompt_segments(row, self.tokenizer.eos_token)

    def __call__(self, rows: list[dict[str, Any]], train_all: bool = False) -> list[Encoded]:
        """Encoded examples; ``train_all`` (train_on_inputs) trains the prompt tokens too."""
        out = []
        for row in rows:
            enc = encode(self.tokenizer, self.pieces(row), self.max_length, not self.chat)
            if train_all:  # truncation and dropping are judged on the response, as for the masked labels
                enc = Encoded(enc.ids, list(enc.ids) if any(label != IGNORE for label in enc.labels[1:]) else enc.labels, enc.truncated)
            self.counts["examples"] += 1
            self.counts["truncated"] += enc.truncated
            if all(label == IGNORE for label in enc.labels[1:]):
                self.counts["dropped"] += 1  # nothing left to learn from: every response token was cut
                continue
            out.append(enc)
        return out

    def prompt_and_answer(self, row: dict[str, Any]) -> tuple[list[int], str]:
        """The whole prompt to generate from (uncut: ``_build`` fits it to the model) and the reference answer
        (the last assistant turn)."""
        pieces = self.pieces(row)
        last = max(i for i, (_, trained) in enumerate(pieces) if trained)
        prompt = encode(self.tokenizer, pieces[:last], sys.maxsize, not self.chat).ids
        answer = row["messages"][-1]["content"] if self.chat and row["messages"][-1]["role"] == "assistant" else pieces[last][0]
        eos = self.tokenizer.eos_token
        if eos and answer.endswith(eos):
            answer = answer[: -len(eos)]
        return prompt, answer
