"""Map the metric names every logger invents onto the doctor's few canonical ones.

HF writes ``eval_loss``, Lightning ``valid_loss`` or ``val_loss_epoch``, TensorBoard ``eval/loss``,
Keras ``val_loss``; all become ``val_loss``. Train-side names become ``train_loss``, ``lr`` or
``grad_norm``; anything else is a train metric, an extra series, or bookkeeping to drop.
"""

from __future__ import annotations

import math
import re
from typing import Literal

Kind = Literal["train_loss", "lr", "grad_norm", "eval", "train_metric", "epoch", "step", "extra", "ignore"]

_EVAL_PREFIXES = ("eval_", "val_", "valid_", "validation_", "dev_")
_TRAIN_PREFIXES = ("train_", "training_")
_SUFFIXES = ("_step", "_epoch", "_batch")  # Lightning logs on_step / on_epoch copies; hand-written loops a per-batch one
# Timing and throughput bookkeeping that HF, Lightning and Keras log next to the metrics.
_BOOKKEEPING = re.compile(
    r"(runtime|samples_per_second|steps_per_second|per_second|total_flos|num_input_tokens_seen|seconds|_time$|^time$|^samples$|_samples$"
    r"|duration|timestamp|elapsed|^time_|^unnamed|^index$)"  # hand-written logs' timers; pandas' index column
)
# Row counters that are not metrics: the optimizer step (the x axis of a step-indexed log) and the other indexes a
# hand-written loop numbers its rows by (an RL episode, a self-play round, a batch within an epoch).
_STEP_NAMES = ("step", "global_step", "steps", "iteration", "iterations", "iter")
INDEX_NAMES = ("episode", "episodes", "round", "rounds", "generation", "generations", "batch", "batch_idx")
_ALIASES = {"acc": "accuracy", "f1_score": "f1"}
# The objective under an aggregate's name: a multi-term loss (PINNs, detection, multi-task) logs its terms and
# their mean or total, and that aggregate is the loss the optimizer minimises. A VAE's ELBO loss (the negative evidence
# lower bound: reconstruction plus KL terms, each also logged) is such a total.
_AGGREGATE_LOSSES = ("loss", "mean_loss", "avg_loss", "average_loss", "total_loss", "elbo_loss", "neg_elbo", "nelbo")


def _flat(name: str) -> str:
    """'eval/loss' -> 'eval_loss', 'Train Loss' -> 'train_loss'."""
    return re.sub(r"[/\s\-.]+", "_", name.strip().lower()).strip("_")


def _strip_suffix(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def classify(raw: str) -> tuple[Kind, str]:
    """(kind, canonical name) for one logged key."""
    if raw.lower().startswith("lr-") or raw.lower().startswith("lr_"):  # Lightning LearningRateMonitor: lr-Adam, lr-SGD/pg1
        return "lr", "lr"
    namespaced = _namespaced(raw)
    if namespaced is not None:
        return namespaced
    name = _flat(raw)
    if name in ("epoch", "epochs"):
        return "epoch", "epoch"
    if name in _STEP_NAMES:
        return "step", "step"
    if name in INDEX_NAMES:
        return "step", name
    if _BOOKKEEPING.search(name):
        return "ignore", name
    if name.startswith("test_"):
        return "extra", name
    for prefix in _EVAL_PREFIXES:
        if name.startswith(prefix):
            rest = _strip_suffix(name[len(prefix) :])
            # A run folder's TensorBoard copy prefixes its own names: 'eval/val_loss' is val_loss, 'eval/epoch' the epoch.
            rest = next((rest[len(p) :] for p in _EVAL_PREFIXES if rest.startswith(p) and len(rest) > len(p)), rest)
            if rest in ("epoch", "epochs", "step", "samples"):
                return ("epoch", "epoch") if rest.startswith("epoch") else ("ignore", rest)
            rest = "loss" if rest in _AGGREGATE_LOSSES else rest
            return "eval", "val_" + _ALIASES.get(rest, rest)
    bare = name
    for prefix in _TRAIN_PREFIXES:
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
            break
    bare = _strip_suffix(bare)
    if bare in ("epoch", "epochs"):  # 'train/epoch' of a run folder's TensorBoard copy
        return "epoch", "epoch"
    if bare in _AGGREGATE_LOSSES:
        return "train_loss", "train_loss"
    if bare in ("lr", "learning_rate"):
        return "lr", "lr"
    if bare in ("grad_norm", "gradient_norm", "grad_norm_total"):
        return "grad_norm", "grad_norm"
    if "loss" in bare:  # G_loss, D_loss, physics terms: not the objective the checks reason about
        return "extra", name
    return "train_metric", _ALIASES.get(bare, bare)


# What a name under a stage's namespace is read as: only the series the checks reason about, so 'losses/value_loss'
# (PPO's term) or 'charts/episodic_return' keep their reading from the whole name.
_NAMESPACED_KINDS = ("train_loss", "eval", "epoch", "step")


def _namespaced(raw: str) -> tuple[Kind, str] | None:
    """A metric logged under a stage's namespace ('finetuning/train_loss_step', 'stage2/val_acc': Lightning's
    self.log(f"{stage}/...") ) is read as the name after it, when the namespace is no split word (train/, val/: those
    are the name's own prefix) and the rest names a loss, an evaluation or the x axis."""
    head, sep, rest = raw.partition("/")
    flat_head = _flat(head) + "_"
    if not sep or not rest or not head or flat_head in _EVAL_PREFIXES or flat_head in _TRAIN_PREFIXES or flat_head == "test_":
        return None
    kind, canon = classify(rest)
    return (kind, canon) if kind in _NAMESPACED_KINDS else None


def _side_and_bare(raw: str) -> tuple[str, str]:
    """('val', 'o1_accuracy') for 'val_o1_accuracy': one eval or train prefix split off a flattened name."""
    name = _flat(raw)
    for side, prefixes in (("val", _EVAL_PREFIXES), ("train", _TRAIN_PREFIXES)):
        for prefix in prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                return side, name[len(prefix) :]
    return "train", name


def output_heads(keys: list[str]) -> list[str]:
    """The outputs of a multi-output model, from Keras' names for them: the total ``loss`` beside one ``<output>_loss``
    per output, and per-output metrics (``<output>_accuracy``, ``val_<output>_accuracy``). Two or more outputs with a
    metric of their own; a multi-term loss (``recon_loss``, ``kld_loss``) with no per-term metric is not a model's outputs,
    nor are several evaluation sets (HF's ``eval_<set>_loss``, ``eval_<set>_accuracy``)."""
    sided = [_side_and_bare(k) for k in keys]
    bare = [b for _, b in sided]
    if "loss" not in bare:
        return []
    # Train-side per-output losses: HF's eval_<set>_loss for several eval sets is held-out data sets, not outputs.
    heads = sorted(
        {b[: -len("_loss")] for side, b in sided if side == "train" and b.endswith("_loss") and b != "loss" and not b.startswith("test_")}
    )
    with_metric = [h for h in heads if any(b.startswith(h + "_") and not b.endswith("_loss") for b in bare)]
    return heads if len(heads) >= 2 and with_metric else []


def lone_loss_name(raw: str) -> str | None:
    """The name of a train-side loss that is not under an aggregate's name ('nll_loss' for 'train/nll_loss_step'), or
    None: the candidates for a run's objective when it logs no 'loss' (Collector.build takes one when it is alone)."""
    side, bare = _side_and_bare(raw)
    if side != "train" or "loss" not in bare or bare.startswith("test_") or classify(raw)[0] != "extra":
        return None
    return _strip_suffix(bare)


def head_of(raw: str, heads: list[str]) -> str | None:
    """The output a key belongs to ('fused' for 'val_fused_accuracy'), or None."""
    bare = _side_and_bare(raw)[1]
    return next((h for h in heads if bare.startswith(h + "_")), None)


def percent_to_fraction(name: str, values: list[float]) -> tuple[list[float], bool]:
    """Accuracy logged in percent (0..100) becomes a fraction, so chance and gap rules share one scale."""
    finite = [v for v in values if math.isfinite(v)]
    if ("accuracy" in name or name.endswith("acc")) and finite and 1.0 < max(finite) <= 100.0:
        return [v / 100.0 for v in values], True
    return values, False
