"""Rules for the loss, precision, evaluation/checkpoint/logging cadence, the monitored metric,
checkpoint rotation, early stopping and the seed.

Cadence: 003's eval_steps table assumes LLM-sized steps; on a small dataset an epoch is shorter than
its 100-500 steps and evaluating every 500 steps would leave early stopping blind. So trainwell
evaluates once per epoch whenever an epoch is shorter than the table's interval (003 §7: "epoch — only
for short epochs"), and every N steps otherwise. Patience comes from 004 in *epochs* and is converted
to *evaluations* with the chosen cadence (000 counts patience in evaluation cycles).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainwell.advise._rules_common import FINETUNE, INF, S
from trainwell.advise.rules import Draft, Match, rule


# --- loss by class-imbalance ratio (004 §Loss Function Selection Guide) -------------------------------
def _scored_on(metric: str) -> Callable[[Draft], bool]:
    """The condition "the user scores the model on ``metric``" (Profile.metric, `recommend --metric`)."""
    return lambda d: d.profile.metric == metric


rule(
    "loss.accuracy-target",
    "loss",
    Match(imbalance=(2, INF), test=_scored_on("accuracy"), test_doc="scored on accuracy (--metric accuracy)"),
    {"loss.name": "cross_entropy", "loss.class_weights": "none"},
    "scored on plain accuracy: unweighted cross-entropy at any imbalance. Inverse-frequency weights buy recall on rare "
    "classes with accuracy: on trainwell's calibration corpus, switching 004's weighted CE off raised test accuracy on 3 "
    "of 5 imbalanced (1:7-1:8) settings and lowered it on none (mean +2.79 points; small transformer +8.7, LSTM +4.25, "
    "seeds 0-1 paired). The gains are the emotion dataset's: held out emotion, SMS's two settings are within noise, "
    "which keeps 004's weights; unweighted is also what an accuracy score asks for (its Bayes rule weighs classes by frequency)",
    "trainwell corpus, benchmarks/results/corpus.json 'ablations' (class_weights); 004 §Loss Function Selection Guide "
    "weights classes to prioritise rare ones, which a balanced metric (macro-F1) rewards and accuracy does not",
    {"imbalance": 7.0, "metric": "accuracy"},
)


def _classifier(d: Draft) -> bool:
    """Class imbalance is a classifier's: an LLM trains on next-token cross-entropy (the causal-lm task refuses
    another loss or class weights) and has no classes whose F1 could be monitored."""
    return d.profile.model != "llm"


rule(
    "loss.llm",
    "loss",
    Match(models=frozenset({"llm"})),
    {"loss.name": "cross_entropy", "loss.class_weights": "none"},
    "an LLM trains on next-token cross-entropy over its response tokens: class imbalance, weights and focal loss do not apply",
    "trainwell.tasks.causal_lm (next-token cross-entropy on the responses); 003 §How to Monitor Training (train_loss, eval_loss)",
    {"model": "llm", "mode": "finetune", "imbalance": 12.0},
)
rule(
    "loss.balanced",
    "loss",
    Match(imbalance=(0, 2)),
    {"loss.name": "cross_entropy", "loss.class_weights": "none"},
    "balanced classes (ratio < 1:2): plain cross-entropy",
    "004 §Loss Function Selection Guide: balanced 1:1–1:2",
    {"imbalance": 1.0},
)
rule(
    "loss.slight-imbalance",
    "loss",
    Match(imbalance=(2, 5)),
    {"loss.name": "cross_entropy", "loss.class_weights": "none"},
    "slight imbalance (1:2-1:5): cross-entropy still works and keeps plain accuracy; weighted CE is the option if rare classes matter",
    "004 §Loss Function Selection Guide: slight imbalance 1:2–1:5",
    {"imbalance": 3.0},
)
rule(
    "loss.moderate-imbalance",
    "loss",
    Match(imbalance=(5, 10)),
    {"loss.name": "cross_entropy", "loss.class_weights": "auto"},
    "moderate imbalance (1:5-1:10): cross-entropy weighted by inverse class frequency",
    "004 §Loss Function Selection Guide: moderate imbalance 1:5–1:10 -> weighted CE",
    {"imbalance": 7.0},
)
rule(
    "loss.severe-imbalance",
    "loss",
    Match(imbalance=(10, INF)),
    {"loss.name": "focal", "loss.focal_gamma": 2.0, "loss.focal_alpha": "auto"},
    "severe imbalance (1:10+): focal loss, gamma 2, class weights as alpha",
    "004 §Loss Function Selection Guide: severe 1:10+ -> Focal Loss; 004 §Focal Loss (gamma=2.0, alpha=class weights)",
    {"imbalance": 20.0},
)


# --- precision by hardware (000 §4.3.1) ---------------------------------------------------------------
def _has_gpu(d: Draft) -> bool:
    return d.profile.gpu_memory is not None or bool(d.profile.gpus)


rule(
    "precision.bf16",
    "precision",
    Match(test=lambda d: d.profile.bf16 is True, test_doc="bf16 hardware"),
    {"training.precision": "bf16"},
    "bf16 hardware (Ampere/Hopper, TPU): bf16 mixed precision, stable with fp32's range and no loss scaling",
    "000 §4.3.1 Mixed Precision",
    {"bf16": True},
)
rule(
    "precision.fp16",
    "precision",
    Match(test=lambda d: d.profile.bf16 is False and _has_gpu(d), test_doc="GPU without bf16"),
    {"training.precision": "fp16"},
    "a GPU without bf16: fp16 with loss scaling is the next best",
    "000 §4.3.1 Mixed Precision",
    {"bf16": False, "gpus": 1},
)
rule(
    "precision.fp32",
    "precision",
    Match(test=lambda d: d.profile.bf16 is False and not _has_gpu(d), test_doc="no bf16 and no GPU"),
    {"training.precision": "fp32"},
    "no mixed precision available: fp32",
    "000 §4.3.1 Mixed Precision: None (FP32)",
    {"bf16": False},
)
rule(
    "precision.auto",
    "precision",
    Match(),
    {"training.precision": "auto"},
    "hardware unknown: resolved when training starts (bf16 where supported, else fp16 with loss scaling on CUDA, else fp32)",
    "000 §4.3.1 Mixed Precision",
    {"model": "mlp"},
)


# --- CPU threads (trainwell's own measurement) --------------------------------------------------------
rule(
    "threads.small-mlp-cpu",
    "threads",
    Match(models=frozenset({"mlp"}), test=lambda d: not _has_gpu(d), test_doc="no GPU given"),
    {"training.threads": 1},
    "an MLP's matrix products are too small to gain from intra-op threads, and idle torch threads spin: "
    "on a shared 2-core machine the digits run took 61 s with torch's default threads and 3.2 s with one",
    "trainwell docs/engine.md §CPU threads (measured); PyTorch docs, CPU threading: OMP_NUM_THREADS/set_num_threads",
    {"model": "mlp"},
)


# --- evaluation and checkpoint cadence (003 §7 eval_steps by dataset size; 000 §4.2.1) ----------------
def eval_interval(dataset_size: int) -> int:
    """003 §7: < 1000 samples: 100-200 steps; 1000-10000: 500; > 10000: 1000-2000 (low ends: more feedback)."""
    return 100 if dataset_size < 1000 else 500 if dataset_size <= 10_000 else 1000


def _cadence(strategy: str, every: int) -> dict[str, Any]:
    """Evaluation and checkpoints on one cadence (003 §8: save_steps = eval_steps, so load_best_at_end finds a checkpoint)."""
    return {"evaluation.strategy": strategy, "evaluation.every": every, "checkpoint.strategy": strategy, "checkpoint.every": every}


def _short_epochs(d: Draft) -> bool:
    spe = d.steps_per_epoch
    return spe is not None and spe <= eval_interval(int(d.profile.dataset_size or 0))


def _per_epoch(d: Draft) -> dict[str, Any]:
    spe, size = d.steps_per_epoch, int(d.profile.dataset_size or 0)
    return {
        **_cadence("epoch", 1),
        "_why": f"an epoch is {spe} steps, shorter than the {eval_interval(size)}-step interval for {size} examples",
    }


def _by_steps(d: Draft) -> dict[str, Any]:
    n = eval_interval(int(d.profile.dataset_size or 0))
    return {**_cadence("steps", n), "_why": f"an epoch is {d.steps_per_epoch} steps: every {n} steps for {d.profile.dataset_size} examples"}


rule(
    "cadence.unknown-size",
    "cadence",
    Match(test=lambda d: d.profile.dataset_size is None, test_doc="dataset size unknown"),
    _cadence("epoch", 1),
    "dataset size unknown: evaluate and save once per epoch (checkpoints on the evaluation cadence, for load_best_at_end)",
    "003 §7 Evaluation Strategy: epoch; 003 §8: save_steps same as eval_steps",
    {"model": "mlp"},
)
rule(
    "cadence.per-epoch",
    "cadence",
    Match(test=_short_epochs, test_doc="steps per epoch ≤ 003's interval"),
    _per_epoch,
    "short epochs: evaluate and save once per epoch",
    "003 §7 Evaluation Strategy ('epoch' for short epochs); 003 §8 Checkpointing",
    {"dataset_size": 1437},
    "strategy = epoch, every = 1 (evaluation and checkpoint)",
)
rule(
    "cadence.steps",
    "cadence",
    Match(),
    _by_steps,
    "long epochs: evaluate and save every 100/500/1000 steps for < 1k / 1k-10k / > 10k examples",
    "003 §7 eval_steps recommendations; 000 §4.2.1 Evaluation Strategy 'Steps'; 003 §8 save_steps = eval_steps",
    {"dataset_size": 100_000},
    "strategy = steps, every = 100 / 500 / 1000 by dataset size",
)


# --- logging ≈ evaluation interval / 10 (000 §4.2.2) --------------------------------------------------
def _eval_steps(d: Draft) -> int | None:
    if d.get("evaluation.strategy") == "steps":
        return int(d.get("evaluation.every"))
    spe = d.steps_per_epoch
    return None if spe is None else spe * int(d.get("evaluation.every", 1))


def _log_every(d: Draft) -> dict[str, Any]:
    interval = int(_eval_steps(d) or 0)
    every = max(1, interval // 10)
    return {"logging.every": every, "_why": f"{every} steps, a tenth of the {interval}-step evaluation interval"}


rule(
    "logging.tenth-of-eval",
    "logging",
    Match(test=lambda d: _eval_steps(d) is not None, test_doc="evaluation interval in steps known"),
    _log_every,
    "logging every ≈ evaluation / 10 steps",
    "000 §4.2.2 Logging Steps",
    {"dataset_size": 1437},
    "every = eval interval // 10",
)
rule(
    "logging.default",
    "logging",
    Match(),
    {"logging.every": 50},
    "the evaluation interval in steps is unknown: every 50 steps (raise it if the console is noisy, aim for one line per 30-60 s)",
    "000 §4.2.2 Logging Steps",
    {"model": "mlp"},
)


# --- the monitored metric ----------------------------------------------------------------------------
rule(
    "metric.accuracy",
    "metric",
    Match(test=_scored_on("accuracy"), test_doc="scored on accuracy (--metric accuracy)"),
    {"evaluation.metric": "val_accuracy", "evaluation.mode": "max"},
    "scored on accuracy: monitor validation accuracy, so the restored best checkpoint and early stopping follow the score",
    "000 §3.2 Early Stopping on the validation metric you care about",
    {"metric": "accuracy"},
)
rule(
    "metric.f1-asked",
    "metric",
    Match(test=_scored_on("f1_macro"), test_doc="scored on macro-F1 (--metric f1_macro)"),
    {"evaluation.metric": "val_f1_macro", "evaluation.mode": "max"},
    "scored on macro-F1: monitor it, so the restored best checkpoint and early stopping follow the score",
    "000 §3.2 Early Stopping on the validation metric you care about",
    {"metric": "f1_macro"},
)
rule(
    "metric.f1-imbalanced",
    "metric",
    Match(imbalance=(5, INF), test=_classifier, test_doc="a classifier, not an LLM"),
    {"evaluation.metric": "val_f1_macro", "evaluation.mode": "max"},
    "imbalanced classes: monitor macro-F1 (accuracy rewards ignoring rare classes; the weighted loss is not comparable across weightings)",
    "004 §Loss Functions: weighted CE / focal to prioritize rare classes",
    {"imbalance": 7.0},
)
rule(
    "metric.val-loss",
    "metric",
    Match(),
    {"evaluation.metric": "val_loss", "evaluation.mode": "min"},
    "monitor validation loss (lower is better) for the best checkpoint and early stopping",
    "000 §3.2 Early Stopping on the validation metric; 004 §Scheduler Usage: val_loss",
    {"model": "mlp"},
)


# --- checkpoint rotation -----------------------------------------------------------------------------
rule(
    "checkpoints.keep-5-long",
    "checkpoints",
    Match(epochs=(10, INF)),
    {"checkpoint.keep": 5, "checkpoint.load_best_at_end": True},
    "10+ epochs: keep the best 5 checkpoints and restore the best at the end",
    "003 §8 Checkpointing: 10+ epochs keep 5; 000 §5.2: 3 to 5",
    {"epochs": 10},
)
rule(
    "checkpoints.keep-3",
    "checkpoints",
    Match(),
    {"checkpoint.keep": 3, "checkpoint.load_best_at_end": True},
    "keep 3 checkpoints and restore the best at the end",
    "003 §8 Checkpointing: 5 epochs keep 3; 000 §5.2: 3 to 5",
    {"epochs": 5},
)


# --- early stopping: patience by model size, in epochs, converted to evaluations -----------------------
def evals_per_epoch(d: Draft) -> float:
    if d.get("evaluation.strategy") != "steps" or d.steps_per_epoch is None:
        return 1.0 / float(d.get("evaluation.every", 1))
    return d.steps_per_epoch / float(d.get("evaluation.every"))


def evaluations_in_run(d: Draft) -> int | None:
    """How many evaluations the run makes (None when the run length in steps is needed and unknown)."""
    if d.get("evaluation.strategy") == "steps":
        total = d.total_steps
        return None if total is None else total // int(d.get("evaluation.every"))
    return d.epochs // int(d.get("evaluation.every", 1))


def _inert(n: int, d: Draft) -> dict[str, Any] | None:
    """Patience that can never fire (the run evaluates ≤ n times) is switched off, and says so."""
    evals = evaluations_in_run(d)
    if evals is None or n < evals:
        return None
    return {
        "early_stopping.patience": None,
        "early_stopping.threshold": 0.0,
        "_why": f"the run evaluates {evals} time(s), so {n} evaluations of patience could never stop it: early stopping off "
        "(the budget ends the run; the best checkpoint is still restored)",
    }


def _patience(epochs_worth: int) -> Any:
    def effect(d: Draft) -> dict[str, Any]:
        per = evals_per_epoch(d)
        n = max(1, round(epochs_worth * per))
        return _inert(n, d) or {
            "early_stopping.patience": n,
            "early_stopping.threshold": 0.0,
            "_why": f"{epochs_worth} epochs without improvement = {n} evaluations at {per:.3g} per epoch; threshold 0 (any improvement counts)",
        }

    return effect


def _evaluations(n: int) -> Any:
    def effect(d: Draft) -> dict[str, Any]:
        return _inert(n, d) or {"early_stopping.patience": n, "early_stopping.threshold": 0.0}

    return effect


rule(
    "patience.003-short-finetune",
    "patience",
    Match(models=S({"transformer", "llm"}), modes=FINETUNE, epochs=(0, 11)),
    _evaluations(3),
    "a short fine-tuning budget: stop after 3 evaluations without improvement (threshold 0)",
    "003 §For 10 Epochs: early_stopping_patience 3; 000 §3.2 threshold 0",
    {"model": "transformer", "mode": "finetune", "epochs": 5},
    "patience = 3 evaluations (off when the run evaluates ≤ 3 times)",
)
rule(
    "patience.transfer",
    "patience",
    Match(modes=S({"finetune", "frozen"})),
    _patience(10),
    "transfer learning: 10 epochs of patience (low end of 10-15)",
    "004 §Early Stopping: transfer learning 10–15; 000 §3.2 threshold 0",
    {"model": "resnet", "mode": "finetune"},
    "patience = 10 epochs in evaluations",
)
rule(
    "patience.large-model",
    "patience",
    Match(models=S({"resnet", "vit", "transformer", "llm"})),
    _patience(15),
    "a large model from scratch: 15 (000's 15 cycles, inside 004's 10-20 epochs for large models)",
    "004 §Early Stopping: large models 10–20; 000 §3.2 Patience 15",
    {"model": "resnet"},
    "patience = 15 epochs in evaluations",
)
rule(
    "patience.small-model",
    "patience",
    Match(),
    _patience(5),
    "a small model: 5 epochs of patience (low end of 5-10, as 004's small-dataset CNN example)",
    "004 §Early Stopping: small models 5–10; 004 §Small Dataset, Custom CNN: es_patience 5",
    {"model": "mlp"},
    "patience = 5 epochs in evaluations",
)

# --- seed --------------------------------------------------------------------------------------------
rule("seed.42", "seed", Match(), {"seed": 42}, "a fixed seed for reproducibility", "000 §5.1 Reproducibility Seed", {"model": "mlp"})
