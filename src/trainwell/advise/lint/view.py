"""The neutral view lint checks read (the findings they return are ``trainwell.findings.Finding``).

Every dialect reader (trainwell, HF TrainingArguments, axolotl, torchtune, Lightning, Hydra, ...)
turns its file into one ``ConfigView``: the facts lint knows how to judge, each with the key it came
from. A fact absent from ``view.sources`` is *unknown*, and checks stay silent about it rather than
guess; a fact filled from a framework default is marked as such, so a message can say
"HF default" instead of pointing at a key the user never wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from trainwell.findings import Finding
from trainwell.values import to_float


@dataclass
class ConfigView:
    """What one config file says about training, in one vocabulary whatever its dialect."""

    path: str
    dialect: str
    raw: dict[str, Any]
    optimizer: str | None = None  # as written, e.g. "paged_adamw_8bit", "torch.optim.Adam"
    optimizer_family: str | None = None  # trainwell family: adamw, adam, sgd, rmsprop, adafactor, lion, lamb
    lr: float | None = None
    weight_decay: float | None = None
    warmup_ratio: float | None = None
    warmup_steps: int | None = None
    scheduler: str | None = None  # trainwell schedule name where one matches, else as written
    max_grad_norm: float | None = None  # None or 0 (when known) means no clipping
    precision: str | None = None  # fp32, bf16, fp16, auto
    batch_size: int | None = None  # per device / micro-batch
    accumulation: int | None = None
    epochs: float | None = None
    max_steps: int | None = None
    eval_strategy: str | None = None  # steps, epoch, no
    eval_every: float | None = None  # steps (strategy steps) or epochs (strategy epoch)
    save_strategy: str | None = None
    save_every: float | None = None
    save_total_limit: int | None = None
    load_best: bool | None = None
    metric: str | None = None
    mode: str | None = None  # min or max
    patience: int | None = None
    seed: int | None = None
    logging_steps: float | None = None
    model_name: str | None = None
    model_kind: str | None = None  # llm, transformer, vit, cnn, resnet, mlp, rnn
    model_family: str | None = None  # HF family (bert, roberta, t5, whisper, wav2vec2, detr, vit, clip, llama ...)
    model_params_b: float | None = None  # parameter count in billions, parsed from the name
    training_mode: str | None = None  # full, lora, qlora, frozen
    pretrained: bool | None = None
    stage: str | None = None  # sft, dpo, orpo, kto, pt, rm, ppo ...
    loraplus_ratio: float | None = None  # LoRA+: the B matrices train at lr x this ratio
    search_space: list[SearchParam] = field(default_factory=list)  # a sweeper's sampled hyperparameters (Hydra/Optuna)
    partial: bool = False  # one piece of a composition (Hydra): absent values may come from elsewhere
    sources: dict[str, str] = field(default_factory=dict)  # fact -> key in the file, or "<framework> default"
    unknown: list[str] = field(default_factory=list)  # keys lint does not understand (reported as info)
    notes: list[Finding] = field(default_factory=list)  # findings a reader produces (validation, dialect hints)

    def known(self, fact: str) -> bool:
        return fact in self.sources

    def where(self, fact: str) -> str:
        return self.sources.get(fact, fact)

    def key(self, fact: str) -> str:
        """The key to edit for a fact: its source without the "(framework default)" remark."""
        return self.where(fact).split(" (")[0]

    def is_default(self, fact: str) -> bool:
        """True when the fact was filled from a framework default rather than written in the file."""
        return " default" in self.sources.get(fact, "")

    def set(self, fact: str, value: Any, source: str) -> None:
        setattr(self, fact, value)
        self.sources[fact] = source

    def default(self, fact: str, value: Any, key: str, framework: str) -> None:
        """Fill a fact the file left out with its framework's default; the source names the key to add."""
        if fact not in self.sources:
            self.set(fact, value, f"{key} ({framework} default)")

    @property
    def is_transformer(self) -> bool:
        return self.model_kind in ("llm", "transformer", "vit")

    def total_steps(self) -> int | None:
        """Total optimizer steps when the file states them (max_steps); epochs alone do not say."""
        return self.max_steps if self.max_steps and self.max_steps > 0 else None

    def warmup_known_zero(self) -> bool:
        """True when the file (or its framework's defaults) says there is no warmup at all."""
        if not (self.known("warmup_ratio") or self.known("warmup_steps")):
            return False
        return not (self.warmup_ratio or 0) > 0 and not (self.warmup_steps or 0) > 0

    def clipping_off(self) -> bool:
        return self.known("max_grad_norm") and not (self.max_grad_norm or 0) > 0


# --- classification helpers shared by the readers -------------------------------------------------


@dataclass(frozen=True)
class SearchParam:
    """One hyperparameter a sweeper samples: a continuous interval (log-scaled or not), or a list of choices."""

    name: str  # the dotted key it overrides, e.g. model.optimizer.lr
    where: str  # the key in the file that defines it
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[float, ...] = ()


# HF model families, matched on hub names, ``model_type`` values and architecture class names (lower-cased),
# BEFORE the generic kinds below: facebook/detr-resnet-50 is a DETR transformer with a ResNet backbone, not a
# ResNet; google/mt5-small is a T5, microsoft/trocr-base a vision-encoder-decoder transformer. Order matters
# (roberta before bert, deberta before both). (pattern, family, kind)
_MODEL_FAMILIES: tuple[tuple[str, str, str], ...] = (
    (r"whisper", "whisper", "transformer"),
    (r"wav2vec2|hubert|wavlm|data2vec_?-?audio|unispeech|seamless_?m4t|speecht5|speech_?to_?text", "wav2vec2", "transformer"),
    (r"trocr|vision_?-?encoder_?-?decoder|donut|nougat", "trocr", "transformer"),
    (r"detr|yolos|owl_?-?vit|owlv2|grounding_?-?dino", "detr", "transformer"),
    (r"(?<![a-z])clip|siglip|blip", "clip", "vit"),
    (r"(?<![a-z])vit|deit|beit|swin|dinov2|segformer|mask2former", "vit", "vit"),
    (r"(?<![a-z])mt5|umt5|byt5|(?<![a-z0-9])t5", "t5", "transformer"),
    (r"(?<![a-z])m?bart|pegasus|marian|opus-mt|m2m_?100|nllb", "bart", "transformer"),
    (r"deberta", "deberta", "transformer"),
    (r"roberta|camembert|xlm-?r(?![a-z])", "roberta", "transformer"),
    (r"bert|electra|ernie|minilm|mpnet", "bert", "transformer"),
    (r"gpt-?2|gpt_?neo|gpt-?j|gpt_bigcode|codegen", "gpt2", "llm"),
    (r"llama|mistral|mixtral|qwen|gemma|phi-?\d|falcon|smollm|olmo|deepseek|zephyr|pythia|starcoder", "llama", "llm"),
)

# Order matters: the first pattern that matches wins ("swin" before "bert"; "deberta" is an encoder).
_MODEL_KINDS: tuple[tuple[str, str], ...] = (
    (r"simple_?dense_?net", "mlp"),  # lightning-hydra-template's fully connected MNIST net, not a DenseNet CNN
    (
        r"lora_llama|qlora_llama|llama|mistral|mixtral|qwen|gemma|phi-?\d|falcon|smollm|gpt|opt-\d|bloom|deepseek|zephyr|olmo|pythia|starcoder|yi-",
        "llm",
    ),
    (r"swin|(?<![a-z])vit|deit|beit|dinov2|(?<![a-z])clip|siglip", "vit"),
    (r"bert|roberta|electra|(?<![a-z])xlm|(?<![a-z0-9])t5|(?<![a-z])bart|minilm|mpnet|transformer|encoder|decoder", "transformer"),
    (r"resnet|resnext|wide_resnet", "resnet"),
    (r"efficientnet|convnext|mobilenet|vgg|densenet|regnet|cnn|conv", "cnn"),
    (r"lstm|gru|rnn", "rnn"),
    (r"mlp|dense|linear|perceptron", "mlp"),
)
_SIZE_TOKEN = re.compile(r"(\d+(?:[._]\d+)?)([bm])$", re.I)


def model_family(name: str) -> tuple[str, str] | None:
    """(family, kind) of an HF model from a hub name, ``model_type`` or architecture class name, or None."""
    low = name.lower()
    for pattern, family, kind in _MODEL_FAMILIES:
        if re.search(pattern, low):
            return family, kind
    return None


def model_kind(name: str) -> str | None:
    """llm / vit / transformer / resnet / cnn / rnn / mlp from a model name or class path, or None."""
    found = model_family(name)
    if found:
        return found[1]
    low = name.lower()
    for pattern, kind in _MODEL_KINDS:
        if re.search(pattern, low):
            return kind
    return None


def model_params_b(name: str) -> float | None:
    """Parameter count in billions from names such as 'Llama-3.2-1B', 'SmolLM2-1.7B', 'llama3_2_1b'."""
    for token in re.split(r"[-/\s]", name):
        m = _SIZE_TOKEN.search(token.split("_")[-1])
        if m:
            value = float(m.group(1).replace("_", "."))
            return value if m.group(2).lower() == "b" else value / 1000.0
    return None


def describe_model(view: ConfigView, name: str, source: str) -> None:
    """Fill model_name, model_kind and model_params_b from one name or class path."""
    view.set("model_name", name, source)
    kind = model_kind(name)
    if kind:
        view.set("model_kind", kind, source)
    family = model_family(name)
    if family:
        view.set("model_family", family[0], source)
    size = model_params_b(name)
    if size is not None:
        view.set("model_params_b", size, source)


# Optimizer names across HF `optim`, axolotl, torch/bitsandbytes class paths -> trainwell families.
_OPTIMIZER_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"adamw|galore_adam|stable_adamw|grokadamw|ademamix", "adamw"),
    (r"adafactor", "adafactor"),
    (r"lion", "lion"),
    (r"lamb", "lamb"),
    (r"adam(?!ax|grad|delta)", "adam"),
    (r"sgd", "sgd"),
    (r"rmsprop", "rmsprop"),
    # Muon orthogonalises the update of 2-D weights (Jordan et al. 2024): its LR scale is not AdamW's, so it is
    # its own family and the AdamW band is not applied to it.
    (r"muon", "muon"),
)


def optimizer_family(name: str) -> str | None:
    """The trainwell family an optimizer name belongs to ('adamw_bnb_8bit' -> adamw), or None."""
    low = name.lower().rsplit(".", 1)[-1] if "." in name else name.lower()
    for pattern, family in _OPTIMIZER_FAMILIES:
        if re.search(pattern, low):
            return family
    return None


def describe_optimizer(view: ConfigView, name: str, source: str) -> None:
    view.set("optimizer", name, source)
    family = optimizer_family(name)
    if family:
        view.set("optimizer_family", family, source)


# Scheduler names (HF lr_scheduler_type, axolotl lr_scheduler, torch classes, torchtune functions).
_SCHEDULERS: tuple[tuple[str, str], ...] = (
    (r"reduce_?lr_?on_?plateau|reducelronplateau", "reduce_on_plateau"),
    (r"cosine_with_restarts|cosine_with_hard_restarts|cosineannealingwarmrestarts", "cosine_with_restarts"),
    (r"cosine", "cosine"),
    (r"constant_with_warmup|constant_schedule_with_warmup", "constant_with_warmup"),
    (r"constant", "constant"),
    (r"one_?cycle", "one_cycle"),
    (r"polynomial", "polynomial"),
    (r"inverse_sqrt", "inverse_sqrt"),
    (r"warmup_stable_decay|wsd", "warmup_stable_decay"),
    (r"multisteplr|multistep", "multistep"),
    (r"steplr", "step"),
    (r"exponential", "exponential"),
    (r"linear", "linear"),
)


def scheduler_name(name: str) -> str:
    """The trainwell schedule name for a scheduler name or class path, or the name itself."""
    low = name.lower()
    for pattern, ours in _SCHEDULERS:
        if re.search(pattern, low):
            return ours
    return name


def integer(value: Any) -> int | None:
    f = to_float(value)
    return int(f) if f is not None and f.is_integer() else None


def positive_integer(value: Any) -> int | None:
    """An integer above 0; None otherwise (HF's max_steps -1 and Lightning's -1 both mean "no limit")."""
    n = integer(value)
    return n if n is not None and n > 0 else None


def flag(value: Any) -> bool | None:
    """True/False from a bool or a YAML-ish string; None when it is neither (e.g. 'auto')."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    if isinstance(value, int):
        return bool(value)
    return None
