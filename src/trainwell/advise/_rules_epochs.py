"""Rules for the task and the epoch budget (001/004 epochs by task, 000's upper bound). 003's epoch-budget
table for LLM fine-tuning lives with the other SFT rules in ``_rules_sft``."""

from __future__ import annotations

from typing import Any

from trainwell.advise._rules_common import FINETUNE, SCRATCH, SMALL_DATA, TF, S
from trainwell.advise.rules import Draft, Match, rule

# --- task --------------------------------------------------------------------------------------------
CLOSEST_TASK = {
    "mlp": "digits",
    "cnn": "fashion-mnist",
    "resnet": "fashion-mnist",
    "vit": "fashion-mnist",
    "transformer": "text-classification",
    "llm": "text-classification",
    "rnn": "digits",  # the text task is a pretrained transformer: a wrong stand-in for an RNN in any mode
}

rule(
    "task.given",
    "task",
    Match(test=lambda d: d.profile.task is not None, test_doc="--task given"),
    lambda d: {"task": d.profile.task},
    "the task you named",
    "your profile (--task)",
    {"task": "digits"},
    "task = --task",
)


def _pretrained_stand_in(d: Draft) -> bool:
    """The family's closest built-in task fine-tunes pretrained weights, but the profile trains from scratch."""
    from trainwell.tasks.catalog import TASKS

    return d.profile.mode == "scratch" and TASKS.get(CLOSEST_TASK[d.profile.model]).facts.mode != "scratch"


rule(
    "task.scratch-stand-in",
    "task",
    Match(test=_pretrained_stand_in, test_doc="no --task, and the family's closest built-in task is a pretrained model"),
    lambda d: {"task": "digits", "_why": f"no built-in task trains a {d.profile.model} from scratch"},
    "no --task, and the only built-in task of this family fine-tunes a pretrained model: digits (an MLP from scratch) stands in, "
    "so the config trains in the regime every other value assumes (a pretrained MiniLM at a from-scratch LR would not); "
    "replace it with 'pkg.module:function' for your own model",
    "trainwell.tasks.catalog",
    {"model": "transformer"},
    "task = digits",
)
rule(
    "task.closest-builtin",
    "task",
    Match(),
    lambda d: {"task": CLOSEST_TASK[d.profile.model]},
    "no --task: the closest built-in task for this model family; replace it with 'pkg.module:function' for your own model",
    "trainwell.tasks.catalog",
    {"model": "vit"},
    "task = closest built-in for the model",
)


# --- epochs ------------------------------------------------------------------------------------------
def _given_epochs(d: Draft) -> dict[str, Any]:
    return {"training.epochs": d.profile.epochs}


def _by_duration(short: int, standard: int, long: int) -> Any:
    def effect(d: Draft) -> dict[str, Any]:
        duration = d.profile.duration or "standard"
        pick = {"short": short, "standard": standard, "long": long}[duration]
        note = " (about a quarter of standard: trainwell's quick-experiment budget)" if duration == "short" else ""
        return {"training.epochs": pick, "_why": f"{duration} duration: {pick} epochs{note}"}

    return effect


rule(
    "epochs.given",
    "epochs",
    Match(test=lambda d: d.profile.epochs is not None, test_doc="--epochs given"),
    _given_epochs,
    "your epoch budget",
    "your profile (--epochs)",
    {"epochs": 7},
    "epochs = --epochs",
)
# (models, modes, dataset range, short/standard/long, why, source): one row of the epochs tables each.
EPOCH_TABLE: tuple[tuple[str, frozenset[str], frozenset[str], tuple[float, float] | None, tuple[int, int, int], str, str], ...] = (
    (
        "llm-sft",
        S({"llm"}),
        FINETUNE,
        None,
        (1, 2, 5),
        "LLM fine-tuning: 1 quick, 2 standard, 5 best quality",
        "003 §When to Use Each Config",
    ),
    (
        "llm-pretrain",
        S({"llm"}),
        SCRATCH,
        None,
        (1, 1, 2),
        "pretraining on a very large corpus: about one pass",
        "003 §Use 1 Epoch When: very large dataset (> 100k samples)",
    ),
    ("bert-finetune", TF, FINETUNE, None, (1, 3, 5), "BERT-class fine-tuning: 3-5 epochs", "001 §Number of Epochs: BERT fine-tuning 3–5"),
    (
        "vit-finetune",
        S({"vit"}),
        FINETUNE,
        None,
        (8, 30, 50),
        "ViT fine-tuning: 30 (where 001's 10-30 meets 004's 30-50)",
        "001 §Number of Epochs: ViT fine-tuning 10–30; 004 §Training Duration: 30–50",
    ),
    (
        "vit-scratch",
        S({"vit"}),
        SCRATCH,
        None,
        (25, 100, 300),
        "ViT from scratch: 100-300",
        "004 §Training Duration: ViT from scratch 100–200; 001 §Quick Reference: ViT 300 epochs",
    ),
    (
        "resnet-scratch",
        S({"resnet"}),
        SCRATCH,
        None,
        (23, 90, 300),
        "ResNet from scratch: 90-300",
        "001 §Number of Epochs: ImageNet 90–300",
    ),
    (
        "cnn-scratch",
        S({"cnn"}),
        SCRATCH,
        None,
        (13, 50, 100),
        "a custom CNN from scratch: 50-100",
        "004 §Training Duration: Custom CNN from scratch 50–100",
    ),
    (
        "frozen",
        S({"mlp", "cnn", "resnet", "transformer", "vit", "rnn", "llm"}),
        S({"frozen"}),
        None,
        (5, 20, 30),
        "frozen backbone: 20-30",
        "004 §Training Duration: Transfer Learning, frozen backbone 20–30",
    ),
    (
        "finetune-small-data",
        S({"mlp", "cnn", "resnet", "rnn"}),
        FINETUNE,
        (0, SMALL_DATA),
        (5, 20, 30),
        "small-dataset fine-tuning: 5-20",
        "001 §Number of Epochs: small dataset fine-tuning 5–20",
    ),
    (
        "transfer-finetune",
        S({"mlp", "cnn", "resnet", "rnn"}),
        FINETUNE,
        None,
        (8, 30, 50),
        "transfer fine-tuning: 30-50",
        "004 §Training Duration: Transfer Learning, fine-tuning 30–50",
    ),
    (
        "scratch-default",
        S({"mlp", "rnn", "transformer"}),
        SCRATCH,
        None,
        (5, 20, 50),
        "an upper limit of 20: early stopping ends training at the best point",
        "000 §5.3 Number of Epochs",
    ),
)
for key, models, modes, data, (short, standard, long), why, source in EPOCH_TABLE:
    example: dict[str, Any] = {"model": sorted(models)[0], "mode": sorted(modes)[0]}
    if data is not None:
        example["dataset_size"] = 1000
    rule(
        f"epochs.{key}",
        "epochs",
        Match(models=models, modes=modes, dataset=data),
        _by_duration(short, standard, long),
        why,
        source,
        example,
        f"epochs = {short} / {standard} / {long} for short / standard / long",
    )
