"""Cross-field rules: checks that need more than one field. Each rule returns its problems.

Rules are registered so tests can enumerate them, and so every one of them runs on every validation
(no rule short-circuits another: the user sees all problems at once).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from trainwell.config.schema import Config, resolve_warmup
from trainwell.errors import Problem
from trainwell.registry import Registry

ConfigRule = Callable[[Config, "int | None"], list[Problem]]
CONFIG_RULES: Registry[ConfigRule] = Registry("config rule")

# Metric names whose direction is unambiguous; a mode that contradicts them is a silent disaster
# (early stopping keeps the *worst* checkpoint), so it is an error, not a warning.
_HIGHER_IS_BETTER = re.compile(r"(acc|accuracy|f1|auc|precision|recall|bleu|rouge|map|iou|r2|score)", re.I)
_LOWER_IS_BETTER = re.compile(r"(loss|error|perplexity|ppl|mse|mae|rmse|wer|cer)", re.I)


def expected_mode(metric: str) -> str | None:
    """'max' or 'min' when the metric's name says which is better, else None."""
    if _LOWER_IS_BETTER.search(metric):
        return "min"
    if _HIGHER_IS_BETTER.search(metric):
        return "max"
    return None


# A name field's vocabulary (optimizer, schedule, loss, task names) lives in a registry of a layer above this
# one, which the config layer may not import. Each owning layer registers a check of its field here when it
# is imported (trainwell.optim, trainwell.tasks); the package root imports both, so the checks are always in
# place before any config is validated. A check returns the problem with its field, or None.
NameCheck = Callable[[Config], "Problem | None"]
NAME_CHECKS: Registry[NameCheck] = Registry("config name check")


@CONFIG_RULES.decorator("names-registered", "optimizer, schedule, loss and task names exist")
def _names(config: Config, total: int | None) -> list[Problem]:
    problems = [check(config) for _, check in NAME_CHECKS.items()]
    return [p for p in problems if p is not None]


# The keys and values of the free-form mappings a built-in task reads (``model:``, ``data.options``) are that
# task's vocabulary, owned like the names above by the tasks layer, which registers its check here. Run by
# every validation (``config validate``, ``lint``, ``config show``, ``train``'s plan) with the other rules, so a
# typo there is reported with every other problem instead of when training starts.
OptionCheck = Callable[[Config], "list[Problem]"]
OPTION_CHECKS: Registry[OptionCheck] = Registry("config option check")


@CONFIG_RULES.decorator("task-options", "a built-in task's model options and data.options are ones it reads, with valid values")
def _task_options(config: Config, total: int | None) -> list[Problem]:
    return [problem for _, check in OPTION_CHECKS.items() for problem in check(config)]


def warmup_overrun(ratio: float | None, steps: float | None, total: int | None) -> str | None:
    """Why the warmup never ends before training does: ``"ratio"`` (a warmup ratio of 1 or more),
    ``"steps"`` (as many warmup steps as the run has steps, or more), or None. An unknown total (None)
    judges the ratio only.

    The one judgement behind config rule ``warmup-below-total`` and lint's ``warmup-exceeds-total``
    (HF get_scheduler: the warmup must end before training does); each phrases it in its own config's
    words. trainwell's ``schedule.warmup`` is one number (< 1 a ratio, >= 1 steps), so it never has a
    ratio of 1 or more; HF-style files set ``warmup_ratio`` and ``warmup_steps`` apart."""
    if ratio is not None and ratio >= 1:
        return "ratio"
    if total and steps and steps >= total:
        return "steps"
    return None


@CONFIG_RULES.decorator("warmup-below-total", "warmup must end before training does")
def _warmup(config: Config, total: int | None) -> list[Problem]:
    if total is None and config.training.max_steps is not None:
        total = config.training.max_steps
    if total is None or config.schedule.warmup < 1:
        return []
    if warmup_overrun(None, resolve_warmup(config.schedule.warmup, total), total) == "steps":
        return [
            Problem(
                "schedule.warmup",
                f"warmup steps must be fewer than the {total} total steps",
                config.schedule.warmup,
                f"use a ratio such as 0.1, or fewer than {total} steps",
            )
        ]
    return []


def load_best_conflict(eval_strategy: str, save_strategy: str, eval_every: float | None, save_every: float | None) -> str | None:
    """Why "load the best checkpoint at the end" cannot work: ``"off"`` (evaluating or saving is ``"no"``),
    ``"strategy"`` (they run on different cadences, so the best evaluation may have no checkpoint),
    ``"cadence"`` (saving every N is not a multiple of evaluating every M), or None.

    The one judgement behind config rule ``load-best-cadence`` and lint's ``load-best-no-eval`` and
    ``load-best-cadence`` (HF TrainingArguments: save_steps must be a round multiple of eval_steps); each
    phrases it in its own config's words. An unknown ``every`` (None) is not judged."""
    if eval_strategy == "no" or save_strategy == "no":
        return "off"
    if eval_strategy != save_strategy:
        return "strategy"
    if eval_every and save_every and save_every % eval_every != 0:
        return "cadence"
    return None


@CONFIG_RULES.decorator("load-best-cadence", "load_best_at_end needs evaluation and checkpoints on one cadence")
def _load_best(config: Config, total: int | None) -> list[Problem]:
    ev, ck = config.evaluation, config.checkpoint
    conflict = load_best_conflict(ev.strategy, ck.strategy, ev.every, ck.every) if ck.load_best_at_end else None
    if conflict == "off":
        return [
            Problem(
                "checkpoint.load_best_at_end",
                "needs evaluation.strategy and checkpoint.strategy other than 'no'",
                f"evaluation.strategy={ev.strategy}, checkpoint.strategy={ck.strategy}",
                "enable both, or set checkpoint.load_best_at_end: false",
            )
        ]
    if conflict == "strategy":
        return [
            Problem(
                "checkpoint.strategy",
                "must equal evaluation.strategy when load_best_at_end is true",
                f"checkpoint.strategy={ck.strategy}, evaluation.strategy={ev.strategy}",
                f"set checkpoint.strategy: {ev.strategy}",
            )
        ]
    if conflict == "cadence":
        return [
            Problem(
                "checkpoint.every",
                "must be a multiple of evaluation.every when load_best_at_end is true",
                f"checkpoint.every={ck.every}, evaluation.every={ev.every}",
                f"set checkpoint.every: {ev.every}",
            )
        ]
    return []


@CONFIG_RULES.decorator("needs-evaluation", "plateau schedules and early stopping need evaluation")
def _needs_eval(config: Config, total: int | None) -> list[Problem]:
    problems = []
    if config.evaluation.strategy == "no":
        if config.schedule.name == "reduce_on_plateau":
            problems.append(
                Problem(
                    "schedule.name",
                    "reduce_on_plateau needs evaluation to watch a metric",
                    "reduce_on_plateau",
                    "set evaluation.strategy: steps or epoch, or pick another schedule",
                )
            )
        if config.early_stopping.patience is not None:
            problems.append(
                Problem(
                    "early_stopping.patience",
                    "early stopping needs evaluation",
                    config.early_stopping.patience,
                    "set evaluation.strategy: steps or epoch, or early_stopping.patience: null",
                )
            )
    return problems


@CONFIG_RULES.decorator("plateau-no-warmup", "reduce_on_plateau is metric-driven and takes no warmup")
def _plateau_warmup(config: Config, total: int | None) -> list[Problem]:
    if config.schedule.name == "reduce_on_plateau" and config.schedule.warmup > 0:
        return [
            Problem(
                "schedule.warmup",
                "reduce_on_plateau does not combine with warmup",
                config.schedule.warmup,
                "set schedule.warmup: 0, or use cosine with warmup",
            )
        ]
    return []


@CONFIG_RULES.decorator("one-cycle-ratio", "one_cycle's warmup is its pct_start, a ratio")
def _one_cycle(config: Config, total: int | None) -> list[Problem]:
    if config.schedule.name == "one_cycle" and not 0 < config.schedule.warmup < 1:
        return [
            Problem(
                "schedule.warmup",
                "one_cycle needs a warmup ratio in (0, 1) (its pct_start)",
                config.schedule.warmup,
                "set schedule.warmup: 0.3 (torch's OneCycleLR default)",
            )
        ]
    return []


@CONFIG_RULES.decorator("milestones-sorted", "multistep milestones increase")
def _milestones(config: Config, total: int | None) -> list[Problem]:
    m = config.schedule.milestones
    if config.schedule.name == "multistep" and (not m or any(b <= a for a, b in itertools.pairwise(m)) or m[0] < 1):
        return [Problem("schedule.milestones", "must be a non-empty, strictly increasing list of epochs >= 1", m, "e.g. [30, 60, 90]")]
    return []


@CONFIG_RULES.decorator("nesterov-momentum", "Nesterov needs SGD with momentum")
def _nesterov(config: Config, total: int | None) -> list[Problem]:
    opt = config.optimizer
    if opt.nesterov and (opt.name != "sgd" or opt.momentum <= 0):
        return [
            Problem(
                "optimizer.nesterov",
                "needs optimizer.name: sgd and momentum > 0",
                f"name={opt.name}, momentum={opt.momentum}",
                "set nesterov: false, or use sgd with momentum 0.9",
            )
        ]
    return []


@CONFIG_RULES.decorator("metric-mode", "the monitored metric's mode matches its name")
def _metric_mode(config: Config, total: int | None) -> list[Problem]:
    want = expected_mode(config.evaluation.metric)
    if want and want != config.evaluation.mode:
        return [
            Problem(
                "evaluation.mode",
                f"{config.evaluation.metric} is better when {'higher' if want == 'max' else 'lower'}",
                config.evaluation.mode,
                f"set evaluation.mode: {want}",
            )
        ]
    return []


@CONFIG_RULES.decorator("fp16-needs-cuda", "fp16 loss scaling is a CUDA feature")
def _fp16(config: Config, total: int | None) -> list[Problem]:
    t = config.training
    if t.precision == "fp16" and t.device in ("cpu", "mps"):
        return [
            Problem(
                "training.precision",
                f"fp16 with loss scaling needs CUDA, not {t.device}",
                "fp16",
                "use precision: bf16 (supported on CPU) or fp32",
            )
        ]
    return []


@CONFIG_RULES.decorator("lr-find-range", "the range test's min_lr is below its max_lr")
def _lr_find(config: Config, total: int | None) -> list[Problem]:
    lf = config.lr_find
    if lf.min_lr >= lf.max_lr:
        return [
            Problem("lr_find", "`min_lr < max_lr` must hold", f"min_lr={lf.min_lr}, max_lr={lf.max_lr}", "e.g. min_lr: 1e-7, max_lr: 10")
        ]
    return []


@CONFIG_RULES.decorator("class-weights-loss", "class weights apply to classification losses")
def _class_weights(config: Config, total: int | None) -> list[Problem]:
    if config.loss.class_weights != "none" and config.loss.name in ("mse",):
        return [
            Problem(
                "loss.class_weights",
                "only applies to classification losses",
                config.loss.class_weights,
                "set loss.class_weights: none, or use cross_entropy or focal",
            )
        ]
    return []
