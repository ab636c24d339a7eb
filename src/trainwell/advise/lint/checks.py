"""Lint checks: one registered function per rule, each reading a ConfigView and returning findings.

A check judges only facts the view knows (``view.known``); a check about something *missing* (seed,
checkpoint limit, warmup) stays silent on partial views (Hydra pieces), where the value may be set in
another file of the composition. Every check carries the source its rule comes from.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from trainwell.advise.lint.view import ConfigView
from trainwell.config.rules import expected_mode, load_best_conflict, warmup_overrun
from trainwell.findings import Finding, Severity, SeverityName
from trainwell.registry import Registry

S_000 = "000"
S_001 = "001"
S_002 = "002"
S_003 = "003"
S_004 = "004"


@dataclass(frozen=True)
class LintCheck:
    id: str
    severity: Severity  # the most severe finding this check can return
    summary: str
    source: str
    run: Callable[[ConfigView], list[Finding]]

    def finding(self, message: str, where: str, value: object, fix: str, severity: Severity | SeverityName | None = None) -> Finding:
        return Finding(
            rule=self.id,
            severity=Severity.parse(severity or self.severity),
            message=message,
            fix=fix,
            source=self.source,
            where=where,
            value=value,
        )


CHECKS: Registry[LintCheck] = Registry("lint check")


def check(
    id: str, severity: Severity | SeverityName, summary: str, source: str
) -> Callable[[Callable[[LintCheck, ConfigView], list[Finding]]], LintCheck]:
    """Register ``fn(check, view)`` as a lint check; the check object builds findings with its own id and source."""

    def wrap(fn: Callable[[LintCheck, ConfigView], list[Finding]]) -> LintCheck:
        # `entry` is looked up when the check runs, by which time it names the registered check.
        entry = LintCheck(id, Severity.parse(severity), summary, source, lambda view: fn(entry, view))
        return CHECKS.register(id, entry, summary)

    return wrap


# The key (or block) to write the fix into, in each dialect's own words.
_WARMUP_FIX = {
    "trainwell": "set schedule.warmup: 0.1",
    "torchtune": "add lr_scheduler: {_component_: torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup, num_warmup_steps: N}",
    "lightning": "add a warmup scheduler (LinearLR then cosine, via SequentialLR)",
    "hydra": "add a warmup scheduler (LinearLR then cosine, via SequentialLR)",
}
_CLIP_KEY = {
    "trainwell": "training.max_grad_norm",
    "torchtune": "clip_grad_norm",
    "lightning": "trainer.gradient_clip_val",
    "hydra": "trainer.gradient_clip_val",
}


@check("adam-l2-decay", "warning", "Adam (L2 in the gradient) with weight decay: use AdamW",
       f"{S_001} §Weight Decay Strength ('Always use decoupled weight decay'); {S_000} §2.1.1; Loshchilov & Hutter 2019")  # fmt: skip
def _adam_l2(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.optimizer_family != "adam" or not (v.weight_decay or 0) > 0:
        return []
    return [c.finding(f"{v.optimizer} with weight_decay={v.weight_decay} adds L2 to the gradient, which Adam's "
                      "adaptive scaling weakens for large-gradient weights; decoupled decay regularises as intended",
                      v.where("optimizer"), v.optimizer, "switch to AdamW (torch.optim.AdamW) and keep the weight decay")]  # fmt: skip


@check("transformer-no-warmup", "warning", "a transformer trained with no LR warmup",
       f"{S_001} §Warmup Steps ('Non-negotiable for transformers'); {S_000} §2.2.3")  # fmt: skip
def _no_warmup(c: LintCheck, v: ConfigView) -> list[Finding]:
    # A frozen backbone has no pretrained weights for a cold Adam to wreck: only a new head trains.
    if not v.is_transformer or not v.warmup_known_zero() or v.scheduler == "reduce_on_plateau" or v.training_mode == "frozen":
        return []
    where = v.where("warmup_ratio") if v.known("warmup_ratio") else v.where("warmup_steps")
    fix = _WARMUP_FIX.get(v.dialect, "set warmup_ratio: 0.1") + " (warm up over 6–10 % of the steps)"
    return [c.finding(f"{v.model_kind} model (from {v.where('model_kind')}) with no warmup: Adam's second-moment estimate starts at zero and "
                      "the first full-LR updates can wreck pretrained weights", where, 0, fix)]  # fmt: skip


@check("no-clipping", "warning", "a transformer trained without gradient clipping",
       f"{S_001} §Gradient Clip Value (transformers: 1.0, always); {S_000} §3.3")  # fmt: skip
def _no_clip(c: LintCheck, v: ConfigView) -> list[Finding]:
    if not v.is_transformer or not v.clipping_off():
        return []
    fix = f"set {v.key('max_grad_norm')}: 1.0"
    if v.raw.get("optimizer_in_bwd") is True:
        fix += " (torchtune cannot clip with optimizer_in_bwd: True; set it to False first)"
    return [c.finding(f"{v.model_kind} model (from {v.where('model_kind')}) with no gradient clipping: one bad batch can spike the loss or turn it NaN",
                      v.where("max_grad_norm"), v.max_grad_norm, fix)]  # fmt: skip


@check("load-best-no-eval", "error", "load_best_model_at_end with evaluation or saving switched off",
       "HF TrainingArguments docs (load_best_model_at_end requires eval_strategy and save_strategy to match)")  # fmt: skip
def _load_best_no_eval(c: LintCheck, v: ConfigView) -> list[Finding]:
    if not v.load_best or load_best_conflict(v.eval_strategy or "", v.save_strategy or "", None, None) != "off":
        return []
    off = "eval_strategy" if v.eval_strategy == "no" else "save_strategy"
    return [c.finding(f"load_best_model_at_end needs evaluations to pick the best and checkpoints to load it, but {off} is 'no'",
                      v.where(off), "no",
                      "evaluate and save on the same cadence (e.g. both 'epoch'), or drop load_best_model_at_end")]  # fmt: skip


@check("load-best-cadence", "error", "load_best_model_at_end with different save and eval cadences",
       "HF TrainingArguments docs (save_steps must be a round multiple of eval_steps)")  # fmt: skip
def _load_best_cadence(c: LintCheck, v: ConfigView) -> list[Finding]:
    ev, sv = v.eval_strategy, v.save_strategy
    if not v.load_best or ev in (None, "no") or sv in (None, "no", "best"):
        return []
    # HF ignores eval_steps/save_steps under the epoch strategy, so only step cadences are compared
    steps = ev == "steps"
    conflict = load_best_conflict(ev, sv, v.eval_every if steps else None, v.save_every if steps else None)
    if conflict == "strategy":
        return [c.finding(f"eval_strategy '{ev}' differs from save_strategy '{sv}': the best evaluation may have no checkpoint",
                          v.where("save_strategy"), sv, f"set save_strategy to '{ev}'")]  # fmt: skip
    if conflict == "cadence":
        return [c.finding(f"save every {v.save_every:g} steps is not a multiple of eval every {v.eval_every:g}",
                          v.where("save_every"), v.save_every, f"save every {v.eval_every:g} steps (or a multiple of it)")]  # fmt: skip
    return []


@check("metric-mode", "error", "the monitored metric's mode contradicts its name (val_acc with mode min)",
       "trainwell.config.rules.expected_mode; Lightning ModelCheckpoint/EarlyStopping docs (mode); HF greater_is_better")  # fmt: skip
def _metric_mode(c: LintCheck, v: ConfigView) -> list[Finding]:
    if not v.metric or v.mode not in ("min", "max"):
        return []
    want = expected_mode(v.metric)
    if want is None or want == v.mode:
        return []
    better = "higher" if want == "max" else "lower"
    derived = " (HF derives greater_is_better=True for any metric not ending in 'loss')" if v.where("mode").startswith("HF default") else ""
    fix = f"set greater_is_better: {str(want == 'max').lower()}" if v.dialect in ("hf", "llamafactory", "axolotl") else f"set mode: {want}"
    return [c.finding(f"'{v.metric}' is better when {better}, but the mode is '{v.mode}'{derived}: the worst checkpoint would be kept "
                      "and early stopping would fire on improvement", v.where("mode"), v.mode, fix)]  # fmt: skip


@check("fp16-on-bf16-hardware", "warning", "fp16 where bf16 would do, if the GPU supports bf16 (warning for LLMs, else info)",
       f"{S_000} §4.3.1 Mixed Precision (BF16 on Ampere/Hopper/TPU; FP16 needs loss scaling)")  # fmt: skip
def _fp16(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.precision != "fp16":
        return []
    modern = v.model_kind == "llm"
    bf16_hint = any("bfloat16" in str(val).lower() for val in v.raw.values())
    severity: SeverityName = "warning" if modern or bf16_hint else "info"
    why = "the model was pretrained in bf16 and can overflow fp16's range" if modern else "bf16 needs no loss scaling and does not overflow"
    return [c.finding(f"fp16 mixed precision: if the GPU supports bf16 (NVIDIA Ampere or newer, TPU), prefer bf16 — {why}",
                      v.where("precision"), "fp16", "use bf16 on Ampere+ GPUs; keep fp16 (with loss scaling) on older ones",
                      severity)]  # fmt: skip


@check("accumulation-batch-fits", "info", "batch 1 with heavy accumulation on a small model",
       f"{S_000} §4.1.2 Gradient Accumulation ('if and only if' the wanted batch does not fit)")  # fmt: skip
def _accumulation(c: LintCheck, v: ConfigView) -> list[Finding]:
    # Encoder-size transformers (BERT, ViT-Base) and classic nets are well under 0.5B parameters.
    sized = v.model_params_b is not None
    small = (sized and (v.model_params_b or 0) < 0.5) or (
        not sized and v.model_kind in ("mlp", "cnn", "resnet", "rnn", "transformer", "vit")
    )
    if v.batch_size != 1 or (v.accumulation or 1) < 8 or not small:
        return []
    return [c.finding(f"per-device batch 1 with {v.accumulation} accumulation steps on a small model: a larger micro-batch "
                      "probably fits and runs the same effective batch several times faster", v.where("accumulation"), v.accumulation,
                      "find the largest micro-batch that fits (trainwell batch-find) and lower the accumulation to keep the effective batch")]  # fmt: skip


@check("patience-vs-cadence", "warning", "early-stopping patience too short for the evaluation cadence",
       f"{S_004} §Early Stopping (patience 5–20); {S_003} §Complete Configuration Examples (patience 3 at 1000-step evaluations)")  # fmt: skip
def _patience(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.patience is None or v.eval_strategy in (None, "no"):
        return []
    out: list[Finding] = []
    if v.patience <= 2:
        out.append(c.finding(f"patience {v.patience}: one or two noisy evaluations stop training", v.where("patience"), v.patience,
                             "use patience 3+ for step evaluations, 5–15 for per-epoch evaluations"))  # fmt: skip
    warm = v.warmup_steps or 0
    total = v.total_steps()
    if v.warmup_ratio and total:
        warm = int(v.warmup_ratio * total)
    if v.eval_strategy == "steps" and v.eval_every and warm and v.patience * v.eval_every <= warm:
        out.append(c.finding(f"patience {v.patience} x eval every {v.eval_every:g} steps = {v.patience * v.eval_every:g} steps, "
                             f"within the {warm}-step warmup: training can stop before the LR peaks", v.where("patience"), v.patience,
                             f"raise patience above {int(warm // v.eval_every) + 1} evaluations"))  # fmt: skip
    return out


@check("warmup-exceeds-total", "error", "warmup as long as (or longer than) the whole run",
       "trainwell.config.rules.warmup_overrun (config rule warmup-below-total); HF get_scheduler (warmup must end before training does)")  # fmt: skip
def _warmup_total(c: LintCheck, v: ConfigView) -> list[Finding]:
    total = v.total_steps()
    overrun = warmup_overrun(v.warmup_ratio, v.warmup_steps, total)
    if overrun == "ratio":
        return [
            c.finding(
                "warmup ratio >= 1: the LR never reaches its peak", v.where("warmup_ratio"), v.warmup_ratio, "use a ratio such as 0.1"
            )
        ]
    if overrun == "steps" and total and v.warmup_steps:
        return [c.finding(f"{v.warmup_steps} warmup steps but only {total} steps in total: the LR never reaches its peak",
                          v.where("warmup_steps"), v.warmup_steps, f"warm up for about {max(1, total // 10)} steps (10 %)")]  # fmt: skip
    return []


@check("warmup-both-set", "info", "warmup_ratio and warmup_steps both set (HF uses warmup_steps)",
       "HF TrainingArguments docs (warmup_steps overrides any effect of warmup_ratio)")  # fmt: skip
def _warmup_both(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.is_default("warmup_ratio") or v.is_default("warmup_steps") or not (v.warmup_ratio or 0) > 0 or not (v.warmup_steps or 0) > 0:
        return []
    return [c.finding(f"warmup_ratio={v.warmup_ratio} is ignored because warmup_steps={v.warmup_steps} is set",
                      v.where("warmup_steps"), v.warmup_steps, "keep one of them")]  # fmt: skip


_LIMIT_KEYS = {
    "torchtune": "checkpointer.keep_last_n_checkpoints",
    "lightning": "ModelCheckpoint save_top_k",
    "trainwell": "checkpoint.keep",
}


@check("checkpoint-limit", "info", "periodic checkpoints with no limit on how many are kept",
       f"{S_000} §5.2 Checkpoint Management (save_total_limit 3–5)")  # fmt: skip
def _save_limit(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.partial or not v.known("save_strategy") or v.save_total_limit is not None or v.known("save_total_limit"):
        return []
    many = v.save_strategy == "steps" or (v.save_strategy == "epoch" and (v.epochs or 0) > 5)
    if not many:
        return []
    every = f" every {v.save_every:g} steps" if v.save_strategy == "steps" and v.save_every else ""
    key = _LIMIT_KEYS.get(v.dialect, "save_total_limit")
    return [c.finding(f"a checkpoint is saved{every} and none is ever deleted: a long run can fill the disk",
                      key, None, f"set {key}: 3")]  # fmt: skip


@check("seed-missing", "warning", "no fixed seed", f"{S_000} §5.1 Reproducibility Seed")
def _seed(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.partial or v.seed is not None or v.dialect == "unknown":
        return []
    where = v.where("seed") if v.known("seed") else "seed"
    return [c.finding("no fixed seed: two runs of this config will differ and a result cannot be reproduced", where,
                      v.raw.get("seed", v.raw.get("seed_everything")), "set seed: 42 (and record it with the results)")]  # fmt: skip


@check("no-evaluation", "info", "no evaluation during training", f"{S_000} §4.2.1 Evaluation Strategy; §3.2 Early Stopping")
def _no_eval(c: LintCheck, v: ConfigView) -> list[Finding]:
    if v.partial or v.eval_strategy != "no" or v.load_best:
        return []
    return [c.finding("no evaluation during training: overfitting goes unnoticed and neither early stopping nor best-checkpoint "
                      "selection is possible", v.where("eval_strategy"), "no",
                      "hold out a validation split and evaluate every few hundred steps or every epoch")]  # fmt: skip


@check("lr-range", "warning", "learning rate outside the usual band for the optimizer and training mode (info when < 3x outside)",
       f"trainwell.optim.optimizers.OPTIMIZERS lr_range ({S_001} §Learning Rate); {S_003} §Quick Reference Table (LoRA 1e-4–2e-4); TRL DPOConfig docs (1e-6)")  # fmt: skip
def _lr_range(c: LintCheck, v: ConfigView) -> list[Finding]:
    from trainwell.advise.lint.lr_ranges import lr_range
    from trainwell.advise.lr_bands import WARN_FACTOR

    if v.lr is None or v.optimizer_family is None:
        return []
    found = lr_range(v)
    if found is None:
        return []
    (low, high), context = found
    if low <= v.lr <= high:
        return []
    factor = low / v.lr if v.lr < low else v.lr / high
    side = "below" if v.lr < low else "above"
    severity: SeverityName = "warning" if factor > WARN_FACTOR else "info"
    target = low if v.lr < low else high
    return [c.finding(f"lr {v.lr:g} is {factor:.1f}x {side} the usual {low:g}–{high:g} for {context}", v.where("lr"), v.lr,
                      f"start near {target:g} (or run trainwell lr-find)", severity)]  # fmt: skip


# --- model families (001's tables by model type) -----------------------------------------------------------

# Weight decay the guides give by family with AdamW: 001 §Weight Decay Strength quick reference.
_FAMILY_DECAY: dict[str, tuple[tuple[float, float], str]] = {
    "vit": ((0.05, 0.3), "AdamW + ViT 0.05–0.3"),
    "clip": ((0.05, 0.3), "AdamW + ViT 0.05–0.3 (CLIP/SigLIP image towers are ViTs)"),
}
# BERT-style encoders fine-tuned: 001 §Warmup Steps (BERT fine-tuning 6–10 % of total steps) and §Common
# Configurations (BERT fine-tuning: weight_decay 0.01, warmup 6 %).
_ENCODERS = ("bert", "roberta", "deberta")
_ENCODER_WARMUP = (0.06, 0.10)
_ENCODER_DECAY = 0.01


@check("family-expectations", "info", "warmup or weight decay far from what the guides give for the model's family",
       f"{S_001} §Weight Decay Strength (AdamW + ViT 0.05–0.3; transformer fine-tuning 0.01); §Warmup Steps (BERT fine-tuning 6–10 %)")  # fmt: skip
def _family(c: LintCheck, v: ConfigView) -> list[Finding]:
    from trainwell.advise.lr_bands import WARN_FACTOR

    out: list[Finding] = []
    family = v.model_family
    if family in _FAMILY_DECAY and v.optimizer_family == "adamw" and v.known("weight_decay") and not v.is_default("weight_decay"):
        (low, high), said = _FAMILY_DECAY[family]
        wd = v.weight_decay or 0.0
        if wd < low / WARN_FACTOR or wd > high * WARN_FACTOR:
            out.append(c.finding(f"weight_decay {wd:g} for a {family} model (from {v.where('model_family')}); the guides give {said}",
                                 v.where("weight_decay"), wd, f"set {v.key('weight_decay')}: {low if wd < low else high:g}"))  # fmt: skip
    if family in _ENCODERS and v.training_mode in (None, "full") and v.warmup_ratio and not v.is_default("warmup_ratio"):
        low, high = _ENCODER_WARMUP
        if v.warmup_ratio < low / WARN_FACTOR or v.warmup_ratio > high * WARN_FACTOR:
            out.append(c.finding(f"warmup_ratio {v.warmup_ratio:g} for fine-tuning a {family} encoder; the guides give 6–10 % of the steps",
                                 v.where("warmup_ratio"), v.warmup_ratio, f"set {v.key('warmup_ratio')}: {low:g}"))  # fmt: skip
    if family in _ENCODERS and v.training_mode in (None, "full") and v.known("weight_decay") and not v.is_default("weight_decay"):
        wd = v.weight_decay or 0.0
        if wd > _ENCODER_DECAY * 10 * WARN_FACTOR:  # above pretraining's 0.1 by the warn factor
            out.append(c.finding(f"weight_decay {wd:g} for fine-tuning a {family} encoder; the guides give 0.01 (0.1 is pretraining's)",
                                 v.where("weight_decay"), wd, f"set {v.key('weight_decay')}: {_ENCODER_DECAY:g}"))  # fmt: skip
    return out


# --- sweeper search spaces ---------------------------------------------------------------------------------

_LOG_SCALED = ("lr", "learning_rate", "weight_decay", "wd")
# A continuous range this wide (high / low) sampled uniformly puts 90 % of its trials in the top decade.
_LOG_SPAN = 10.0


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower()


@check("search-space-scale", "warning", "an LR or weight-decay search range of a decade or more sampled on a linear scale",
       f"{S_002} §Grid Search with Hyperopt (lr and weight_decay sampled loguniform); Bergstra & Bengio 2012 (scale-type parameters on a log scale)")  # fmt: skip
def _search_scale(c: LintCheck, v: ConfigView) -> list[Finding]:
    out: list[Finding] = []
    for p in v.search_space:
        if _leaf(p.name) not in _LOG_SCALED:
            continue
        if p.low is not None and p.high is not None and p.low > 0 and not p.log and p.high / p.low >= _LOG_SPAN:
            share = 0.9 * p.high / (p.high - p.low)  # uniform on [low, high]: the share above high / 10
            out.append(c.finding(f"{p.name} is sampled uniformly over {p.low:g}–{p.high:g} ({math.log10(p.high / p.low):.0f} decades): "
                                 f"{share:.0%} of the trials land in the top decade and the small values are barely tried",
                                 p.where, f"interval({p.low:g}, {p.high:g})", f"tag(log, interval({p.low:g}, {p.high:g})) (Optuna sweeper), or log: true"))  # fmt: skip
        elif p.choices and len(p.choices) >= 3 and min(p.choices) > 0 and max(p.choices) / min(p.choices) >= 100:
            ordered = sorted(p.choices)
            steps = [b - a for a, b in itertools.pairwise(ordered)]
            if max(steps) - min(steps) <= 0.05 * max(steps):  # evenly spaced on a linear scale (to 5 %)
                out.append(c.finding(f"{p.name} tries {len(ordered)} evenly spaced values from {ordered[0]:g} to {ordered[-1]:g}: "
                                     "all but one sit in the top decades", p.where, list(ordered),
                                     "space the choices by factors (e.g. 1e-5, 1e-4, 1e-3)"))  # fmt: skip
    return out


# 001 §Weight Decay Strength's quick reference spans 1e-4 (SGD + CNN) to 0.3 (AdamW + ViT): a decoupled weight decay
# search outside that span tries values no recipe in the guides uses.
_DECAY_SPAN = (1e-4, 0.3)


@check("search-space-range", "warning", "an LR or weight-decay search range that misses, or far overshoots, the guides' band",
       f"trainwell.advise.lr_bands (the band lr-range uses: {S_001} §Learning Rate; {S_003} §Quick Reference Table); "
       f"{S_001} §Weight Decay Strength (1e-4 SGD+CNN to 0.3 AdamW+ViT)")  # fmt: skip
def _search_range(c: LintCheck, v: ConfigView) -> list[Finding]:
    from trainwell.advise.lint.hydra_compose import source_file
    from trainwell.advise.lint.lr_ranges import lr_range
    from trainwell.advise.lr_bands import WARN_FACTOR

    found = lr_range(v) if v.optimizer_family else None
    other = source_file(v, "optimizer_family")
    if found is not None and other:  # the optimizer was picked in another file of the Hydra composition
        found = (found[0], f"{found[1]} (optimizer from {other})")
    out: list[Finding] = []
    for p in v.search_space:
        leaf = _leaf(p.name)
        if leaf in ("weight_decay", "wd"):
            band: tuple[tuple[float, float], str] | None = (_DECAY_SPAN, "decoupled weight decay in the guides")
        elif leaf in ("lr", "learning_rate"):
            band = found
        else:
            band = None
        values = [x for x in (p.low, p.high, *p.choices) if x is not None and x > 0]
        if band is None or not values:
            continue
        (low, high), context = band
        lo, hi = min(values), max(values)
        if hi < low or lo > high:
            out.append(c.finding(f"{p.name} searches {lo:g}–{hi:g}, entirely outside the usual {low:g}–{high:g} for {context}",
                                 p.where, [lo, hi], f"search {low:g}–{high:g} on a log scale"))  # fmt: skip
        elif lo < low / WARN_FACTOR**2 or hi > high * WARN_FACTOR**2:
            out.append(c.finding(f"{p.name} searches {lo:g}–{hi:g}, far beyond the usual {low:g}–{high:g} for {context}: "
                                 "trials at the extremes are spent on LRs that diverge or do not move", p.where, [lo, hi],
                                 f"narrow it to about {low:g}–{high:g} (log scale)", "info"))  # fmt: skip
    return out


# --- LoRA+ ---------------------------------------------------------------------------------------------------


@check("loraplus-ratio", "warning", "a LoRA+ ratio that does not speed up the B matrices",
       "Hayou, Ghosh & Yu 2024, LoRA+ (lr_B / lr_A = 2^4 = 16 recommended; ratio 1 is plain LoRA)")  # fmt: skip
def _loraplus(c: LintCheck, v: ConfigView) -> list[Finding]:
    ratio = v.loraplus_ratio
    if ratio is None or ratio > 1:
        return []
    return [c.finding(f"loraplus_lr_ratio {ratio:g}: the B matrices train no faster than A, so this is plain LoRA (or slower)",
                      v.where("loraplus_ratio"), ratio, "set loraplus_lr_ratio: 16 (LoRA+'s recommendation), or drop it")]  # fmt: skip
