"""Supervised fine-tuning of a causal language model (seed 003's workload), full or with a LoRA adapter.

``model.name_or_path`` is a folder (or hub name) that ``AutoModelForCausalLM``/``AutoTokenizer`` load;
``data.path`` a JSONL file of ``{"prompt", "response"}`` or chat ``{"messages"}`` examples (chat examples are
rendered with the tokenizer's chat template). The loss is next-token cross-entropy on the response tokens
only: prompt, system and user tokens get the label -100, so the model is not trained to write its prompts.
Loss means are per supervised token (``count_items``), so accumulation windows and ``val_loss`` weigh every
response token equally however the tokens fall into micro-batches (what HF Trainer fixed in PR #34191), and
``val_perplexity`` is ``exp(val_loss)``.

``data.options``: ``max_length`` (tokens, default 512 or the model's limit; longer examples are cut at the
right, counted as truncated, and dropped when no response token is left), ``packing`` (concatenate examples
into rows of ``max_length``: fewer padding tokens; each example keeps its own position ids, from 0, and
attends only to itself, so a packed example's loss is its unpacked loss: see ``pack``), ``val_path`` (else a seeded ``data.val_fraction`` split), ``val_limit`` and
``train_on_inputs`` (axolotl's name: train the prompt tokens too, as plain language modelling does; the
training set only, ``val_loss`` still scores responses) and ``generate_eval`` (N: greedy-decode the first N validation prompts and report ``val_exact_match``, the share
whose answer equals the reference after trimming whitespace and case; for short-answer tasks; a prompt that
would leave no room for the answer within ``max_length`` keeps its end and is counted in ``generation_prompts_cut``).

This module imports torch: the catalog names it by string and imports it only when training starts.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from trainwell.compat import version_of
from trainwell.errors import ConfigError, DataError, Problem, require
from trainwell.tasks import _data
from trainwell.tasks._sft_data import check_one_format, is_chat, read_sft_jsonl
from trainwell.tasks.base import StateDictFiles, Task, TaskFacts
from trainwell.tasks.catalog import model_options
from trainwell.tasks.lora import ADAPTER_DIR, AdapterFiles, apply_lora, check_options, trainable_parameters

if TYPE_CHECKING:
    from trainwell.config.schema import Config

FEATURE = "the causal-lm task"
IGNORE = -100  # the label torch's cross_entropy skips (ignore_index)
DEFAULT_MAX_LENGTH = 512
PACKING_SINCE = (4, 54)  # transformers builds the per-example causal mask from position ids from this version on


# ---- tokenising ------------------------------------------------------------------------------------------
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


# ---- loss and metrics ------------------------------------------------------------------------------------
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


# ---- model -----------------------------------------------------------------------------------------------
def load_model(name_or_path: Any) -> tuple[Any, torch.nn.Module]:
    """Tokenizer and model. A local folder is read without touching the network; fp32 master weights
    (``training.precision`` autocasts; an optimizer over bf16 weights loses small updates). A LoRA run's
    frozen base goes to bf16 later, on a GPU under bf16 (``Task.hold_frozen``)."""
    transformers = require("transformers", "llm", FEATURE)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ConfigError(
            problems=[
                Problem(
                    "model.name_or_path",
                    "must name a causal LM: a folder from save_pretrained or a hub name",
                    name_or_path,
                    "e.g. model.name_or_path=./tiny-gpt2",
                )
            ]
        )
    local = Path(name_or_path).expanduser().is_dir()
    source = str(Path(name_or_path).expanduser()) if local else name_or_path
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local)
        model = transformers.AutoModelForCausalLM.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            problems=[
                Problem(
                    "model.name_or_path",
                    "must load with AutoModelForCausalLM and AutoTokenizer",
                    name_or_path,
                    f"point it at a folder holding config.json, the weights and the tokenizer files ({str(exc)[:200]})",
                )
            ]
        ) from None
    if any(p.dtype != torch.float32 for p in model.parameters()):
        model = model.float()
    model.config.use_cache = False  # no key/value cache while training: it only costs memory
    return tokenizer, model


def _options(config: Config) -> dict[str, Any]:
    mo = model_options(config)
    problems = check_options(mo)
    if config.loss.name != "cross_entropy" or config.loss.class_weights != "none":
        problems.append(
            Problem(
                "loss.name",
                "the causal-lm task trains with next-token cross-entropy on response tokens",
                config.loss.name if config.loss.name != "cross_entropy" else f"class_weights={config.loss.class_weights}",
                "leave loss.name: cross_entropy without class_weights (label_smoothing is honoured)",
            )
        )
    ConfigError.collect(problems)
    return mo


def _path(value: str | None, where: str) -> Path:
    if not value or not Path(value).expanduser().is_file():
        raise DataError(
            problems=[Problem(where, "must name a JSONL file of prompt/response or chat examples", value, "e.g. data.path=train.jsonl")]
        )
    return Path(value).expanduser()


def _rows(config: Config, opts: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    train_path = _path(config.data.path, "data.path")
    rows = read_sft_jsonl(train_path)
    check_one_format(rows, str(train_path))
    if opts.get("val_path"):
        val_path = _path(str(opts["val_path"]), "data.options.val_path")
        val = read_sft_jsonl(val_path)
        check_one_format(rows + val, f"{train_path} and {val_path}")
        train = rows
    else:
        order = np.random.default_rng(config.seed).permutation(len(rows))
        n_val = max(1, round(len(rows) * config.data.val_fraction)) if len(rows) > 1 else 0
        val, train = [rows[i] for i in sorted(order[:n_val])], [rows[i] for i in sorted(order[n_val:])]
    if config.data.limit is not None and config.data.limit < len(train):
        keep = np.random.default_rng(config.seed + 1).permutation(len(train))[: config.data.limit]
        train = [train[i] for i in sorted(keep)]
    val_limit = opts.get("val_limit")
    return train, val[: int(val_limit)] if val_limit else val


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


def _check_tokenizer(tokenizer: Any, chat: bool) -> int:
    problems = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        problems.append(Problem("tokenizer", "needs a pad or an EOS token to pad batches", None, "save the tokenizer with an eos_token"))
    if chat and not getattr(tokenizer, "chat_template", None):
        problems.append(
            Problem("tokenizer", "chat examples need a tokenizer with a chat_template", None, "use prompt/response examples or set one")
        )
    ConfigError.collect(problems)
    return int(pad)


def build(config: Config) -> Task:
    return _build(config, None)


@dataclass
class Rebuild:
    """``Task.rebuild`` of a causal-lm task: the task again for another config (what the recommender filled
    in: the LoRA rank, alpha, dropout), reusing the weights already loaded when ``name_or_path`` and gradient
    checkpointing are unchanged, so `trainwell train` without a config file reads the model once.

    The LoRA layers of the first build are taken out with peft's ``unload()`` (the base's own weights were
    never changed: nothing has trained yet) and the adapter is made anew. Loading draws nothing from torch's
    RNG, so the new adapter's initial weights are those a fresh build would draw
    (tests/tasks/test_tasks_causal_lm.py compares with a run of the written config.yaml).
    """

    source: Any
    checkpointing: bool
    tokenizer: Any
    model: torch.nn.Module
    lora: bool

    def __call__(self, config: Config) -> Task:
        mo = model_options(config)
        if mo.get("name_or_path") != self.source or bool(mo.get("gradient_checkpointing", False)) != self.checkpointing:
            return build(config)
        base = self.model.unload() if self.lora else self.model  # type: ignore[operator]
        base.requires_grad_(True)  # as loaded: peft froze it, and a full fine-tuning trains every weight
        return _build(config, (self.tokenizer, base))


def _build(config: Config, loaded: tuple[Any, torch.nn.Module] | None) -> Task:
    mo = _options(config)
    opts = dict(config.data.options)
    train_rows, val_rows = _rows(config, opts)
    tokenizer, model = loaded or load_model(mo["name_or_path"])
    chat = is_chat(train_rows)
    pad_id = _check_tokenizer(tokenizer, chat)
    limit = int(getattr(model.config, "max_position_embeddings", 0) or getattr(model.config, "n_positions", 0) or DEFAULT_MAX_LENGTH)
    max_length = int(_data.option(opts, "max_length", min(DEFAULT_MAX_LENGTH, limit)))
    if max_length > limit:
        raise ConfigError(
            problems=[Problem("data.options.max_length", f"must fit the model's {limit} positions", max_length, f"use at most {limit}")]
        )
    encoder = Encoder(tokenizer, max_length, chat)
    train_on_inputs = bool(opts.get("train_on_inputs", False))
    train_enc, val_enc = encoder(train_rows, train_on_inputs), encoder(val_rows)  # validation always scores responses
    if not train_enc:
        raise DataError(
            problems=[Problem("data.options.max_length", "must leave response tokens to train on", max_length, "raise max_length")]
        )
    packing = bool(opts.get("packing", False))
    if packing:
        check_packing(model, len(tokenizer))
    train_set = pack(train_enc, max_length) if packing else train_enc
    n_gen = min(int(opts.get("generate_eval", 0) or 0), len(val_rows))
    pairs = [encoder.prompt_and_answer(r) for r in val_rows[:n_gen]]
    answers = [answer for _, answer in pairs]
    new_tokens = max((len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers), default=0) + 2
    # A model with learned positions (GPT-2) fails past its last one, so a prompt and the answer generated after
    # it must fit max_length: a longer prompt keeps its end, where the question is (generation pipelines cut
    # at the left too), and is counted.
    room = max(1, max_length - new_tokens)
    prompts = [prompt[-room:] for prompt, _ in pairs]
    extra = Generation(tokenizer, prompts, answers, new_tokens, tokenizer.eos_token_id, pad_id) if n_gen else perplexity_only

    if bool(mo.get("gradient_checkpointing", False)):
        model.gradient_checkpointing_enable()  # type: ignore[operator]
    lora = mo["adapter"] == "lora"
    if lora:
        if bool(mo.get("gradient_checkpointing", False)):
            model.enable_input_require_grads()  # type: ignore[operator]
        model = apply_lora(model, mo)
    trainable, total = trainable_parameters(model)
    summary = {
        **encoder.counts,
        "max_length": max_length,
        "packing": packing,
        "train_on_inputs": train_on_inputs,
        "train_rows": len(train_set),
        "train_supervised_tokens": sum(sum(label != IGNORE for label in r.labels[1:]) for r in train_enc),
        "val_examples": len(val_enc),
        "generation_prompts_cut": sum(len(prompt) > room for prompt, _ in pairs),
        "adapter": mo["adapter"],
        "trainable_parameters": trainable,
        "parameters": total,
    }
    return Task(
        name="causal-lm",
        model=model,
        train_data=LMDataset(train_set),
        val_data=LMDataset(val_enc) if val_enc else None,
        kind="classification",
        collate_fn=make_collate(pad_id),
        facts=TaskFacts("llm", "finetune", len(train_enc), None, None),
        loss=CausalLMLoss(config.loss.label_smoothing),
        count_items=supervised_tokens,
        extra_metrics=extra,
        model_files=AdapterFiles() if lora else StateDictFiles(),
        save_final=FinalSave(tokenizer, lora, bool(mo.get("merge_at_end", False))),
        data_summary=summary,
        rebuild=Rebuild(mo["name_or_path"], bool(mo.get("gradient_checkpointing", False)), tokenizer, model, lora),
        hold_frozen=lora,  # the frozen base may be stored in bf16 on a GPU (engine/precision.py)
    )


@dataclass
class FinalSave:
    """The trained model in the format transformers/peft load: ``adapter/`` (LoRA; plus ``merged/`` with
    merge_at_end) or ``model/`` (full fine-tuning), each with the tokenizer."""

    tokenizer: Any
    lora: bool
    merge: bool

    def __call__(self, model: torch.nn.Module, run_dir: Path) -> dict[str, Any]:
        saved: dict[str, Any] = {}
        targets: list[tuple[str, Any]] = [(ADAPTER_DIR if self.lora else "model", model)]
        if self.lora and self.merge:
            # A copy: the returned model stays the adapter model that was trained (costs one model's memory).
            targets.append(("merged", copy.deepcopy(model).merge_and_unload()))  # type: ignore[operator]
        for name, module in targets:
            folder = run_dir / name
            config = getattr(module, "config", None)
            if config is not None:
                config.use_cache = True  # the saved model generates with a cache, as its original did
            module.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
            saved[name] = str(folder)
        base_config = getattr(model, "config", None)
        if base_config is not None:
            base_config.use_cache = False
        return saved
