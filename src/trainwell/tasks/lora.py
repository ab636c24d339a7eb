"""LoRA adapters through ``peft``: which modules to adapt per model family, wrapping the model, and the files
a checkpoint and the end of a run write (the peft format, so ``PeftModel.from_pretrained`` loads them).

The table and the option checks are torch-free (the recommender, lint and export read them); peft and torch
are imported inside the functions that need them.

Defaults per family: the attention projections, the modules the LoRA paper adapts (Hu et al. 2021, §4.2
and §7.1: adapting the query and value projections alone does well; QLoRA, Dettmers et al. 2023, adapts all
linear layers for its best results). GPT-2 fuses q, k and v into one ``c_attn`` Conv1D; Llama-family models
name them ``q_proj``/``k_proj``/``v_proj``/``o_proj``; BERT ``query``/``value``. A family not listed gets
peft's own table (``target_modules: null``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Problem, require

if TYPE_CHECKING:
    import torch

FEATURE = "LoRA adapters (model.adapter: lora)"
ADAPTERS = ("none", "lora")
ADAPTER_DIR = "adapter"  # inside a checkpoint folder and the run folder
_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj")
LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "gpt2": ("c_attn",),
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "mixtral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "phi3": ("qkv_proj", "o_proj"),
    "bert": ("query", "value"),
}
CONV1D_FAMILIES = ("gpt2",)  # weights stored (in, out): peft needs fan_in_fan_out=True


def check_options(options: dict[str, Any]) -> list[Problem]:
    """Every problem with the adapter options of ``model:`` at once."""
    problems = []
    adapter = options.get("adapter", "none")
    if adapter not in ADAPTERS:
        problems.append(Problem("model.adapter", f"must be one of {', '.join(ADAPTERS)}", adapter, "use none (full fine-tuning) or lora"))
    for key, low in (("lora_r", 1), ("lora_alpha", 0)):
        value = options.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low or (key == "lora_r" and int(value) != value):
            rule = "a positive integer (the adapter rank)" if key == "lora_r" else "a number >= 0 (the scale is alpha / r)"
            problems.append(Problem(f"model.{key}", f"must be {rule}", value, "e.g. lora_r: 16, lora_alpha: 32"))
    dropout = options.get("lora_dropout")
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
        problems.append(Problem("model.lora_dropout", "must be a number in [0, 1)", dropout, "e.g. lora_dropout: 0.05"))
    targets = options.get("lora_target_modules")
    if targets not in ("auto", "all-linear") and not (isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets)):
        problems.append(
            Problem(
                "model.lora_target_modules",
                "must be auto (the family's default), all-linear, or a list of module names",
                targets,
                "e.g. lora_target_modules: [q_proj, v_proj]",
            )
        )
    return problems


def target_modules(model_type: str, configured: Any) -> list[str] | str | None:
    """The modules to adapt: the configured list, 'all-linear', the family default, or None (peft's table)."""
    if configured != "auto":
        return configured  # type: ignore[no-any-return]
    targets = LORA_TARGETS.get(model_type)
    return list(targets) if targets else None


def apply_lora(model: torch.nn.Module, options: dict[str, Any], task_type: str = "CAUSAL_LM") -> torch.nn.Module:
    """Wrap ``model`` with a LoRA adapter; only the adapter's weights keep requires_grad.

    ``task_type`` is peft's: ``SEQ_CLS`` for a sequence classifier, whose new head must train too (peft
    then keeps a trainable copy of ``classifier``/``score`` in ``modules_to_save``; without it the head
    stays at its random initialisation and the adapter alone cannot move the predictions far)."""
    peft = require("peft", "llm", FEATURE)
    model_type = str(getattr(getattr(model, "config", None), "model_type", ""))
    config = peft.LoraConfig(
        r=int(options["lora_r"]),
        lora_alpha=float(options["lora_alpha"]),
        lora_dropout=float(options["lora_dropout"]),
        target_modules=target_modules(model_type, options["lora_target_modules"]),
        fan_in_fan_out=model_type in CONV1D_FAMILIES,
        task_type=task_type,
    )
    try:
        return peft.get_peft_model(model, config)  # type: ignore[no-any-return]
    except ValueError as exc:  # peft names the target modules it could not find
        raise ConfigError(
            problems=[
                Problem(
                    "model.lora_target_modules",
                    f"must name modules of this {model_type or 'model'}",
                    options["lora_target_modules"],
                    f"list module names of the model, or use all-linear ({exc})",
                )
            ]
        ) from None


def trainable_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


class AdapterFiles:
    """Checkpoint weights of a LoRA run: only the adapter, in peft's format (``adapter/`` holding
    ``adapter_config.json`` and ``adapter_model.safetensors``). The frozen base model is not copied into every
    checkpoint: it is rebuilt from ``model.name_or_path``."""

    def save(self, model: torch.nn.Module, folder: Path) -> None:
        model.save_pretrained(folder / ADAPTER_DIR)  # type: ignore[operator]

    def load(self, model: torch.nn.Module, folder: Path, device: torch.device) -> None:
        peft = require("peft", "llm", FEATURE)
        safetensors = require("safetensors.torch", "llm", FEATURE)
        state = safetensors.load_file(str(folder / ADAPTER_DIR / "adapter_model.safetensors"), device=str(device))
        result = peft.set_peft_model_state_dict(model, state)
        missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
        if missing:
            raise ValueError(f"adapter weights that fit no module of this model: {missing[:3]}")
