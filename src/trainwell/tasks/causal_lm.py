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

This module imports torch: the catalog names it by string and imports it only when training starts. Tokenising,
packing and batching are in ``_sft_tokens``; the loss and metrics in ``_sft_metrics``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trainwell.errors import ConfigError, DataError, Problem, require
from trainwell.tasks import _data
from trainwell.tasks._sft_data import check_one_format, is_chat, read_sft_jsonl
from trainwell.tasks._sft_metrics import CausalLMLoss, Generation, perplexity_only, supervised_tokens
from trainwell.tasks._sft_tokens import FEATURE, IGNORE, Encoder, LMDataset, check_packing, make_collate, pack
from trainwell.tasks.base import StateDictFiles, Task, TaskFacts
from trainwell.tasks.catalog import data_options, model_options, task_problems
from trainwell.tasks.lora import ADAPTER_DIR, AdapterFiles, apply_lora, trainable_parameters

if TYPE_CHECKING:
    from trainwell.config.schema import Config

DEFAULT_MAX_LENGTH = 512


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
    # build_task checked the options already; a Rebuild comes here without it
    ConfigError.collect(task_problems(config))
    return model_options(config)


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
    if opts["val_path"]:
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
    val_limit = opts["val_limit"]
    return train, val[: int(val_limit)] if val_limit else val


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
    opts = data_options(config)
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
    train_on_inputs = bool(opts["train_on_inputs"])
    train_enc, val_enc = encoder(train_rows, train_on_inputs), encoder(val_rows)  # validation always scores responses
    if not train_enc:
        raise DataError(
            problems=[Problem("data.options.max_length", "must leave response tokens to train on", max_length, "raise max_length")]
        )
    packing = bool(opts["packing"])
    if packing:
        check_packing(model, len(tokenizer))
    train_set = pack(train_enc, max_length) if packing else train_enc
    n_gen = min(int(opts["generate_eval"] or 0), len(val_rows))
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
