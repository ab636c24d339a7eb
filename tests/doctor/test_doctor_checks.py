"""Every registered check on synthetic histories: a positive case that must produce its finding (with
evidence, a fix and a source) and a negative case that must not. Driven from CHECKS, so a new check
without cases fails here."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from trainwell.doctor import CHECKS, History, RunHints, Series, Severity, diagnose, run_checks
from trainwell.doctor.checks import rank
from trainwell.doctor.history import Finding


def series(values: list[float], start: float = 1, every: float = 1) -> Series:
    return Series([start + i * every for i in range(len(values))], list(values))


def noisy(values: list[float], rel: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [v * (1 + rng.gauss(0, rel)) for v in values]


def decay(n: int, start: float = 2.3, end: float = 0.3, rate: float = 3.0) -> list[float]:
    """Exponential decay from start towards end over n points; rate sets how early it saturates."""
    return [end + (start - end) * math.exp(-rate * i / (n - 1)) for i in range(n)]


def history(train: list[float] | None = None, val: list[float] | None = None, every: int = 10, **kw: object) -> History:
    h = History(source="synthetic")
    if train is not None:
        h.train_loss = series(train, 1, 1)
    if val is not None:
        h.eval["val_loss"] = series(val, every, every)
    for key, value in kw.items():
        if key == "lr":
            h.lr = series(value, 1, 1)  # type: ignore[arg-type]
        elif key == "val_accuracy":
            h.eval["val_accuracy"] = series(value, every, every)  # type: ignore[arg-type]
        elif key == "lr_hint":
            h.hints.lr = value  # type: ignore[assignment]
        elif key == "grad_norm":
            h.grad_norm = series(value, 1, 1)  # type: ignore[arg-type]
        elif key == "train_accuracy":
            h.train_metrics["accuracy"] = series(value, 1, 1)  # type: ignore[arg-type]
        else:
            setattr(h.hints, key, value)
    return h.finish()


def nan_grad_state(path: Path, loss: list[float], bad: set[int], *, every: int, per_epoch: int, peak_lr: float, **top: object) -> Path:
    """An HF trainer_state.json at ``path``: one record every ``every`` steps with the given losses, a linearly
    decaying LR and a grad_norm that is NaN at the records in ``bad`` (skipped fp16 steps), 1.0 elsewhere;
    ``top`` adds the state's own keys (max_steps ...)."""
    records = [
        {
            "step": every * (i + 1),
            "epoch": (i + 1) / per_epoch,
            "loss": value,
            "learning_rate": peak_lr * (1 - i / len(loss)),
            "grad_norm": float("nan") if i in bad else 1.0,
        }
        for i, value in enumerate(loss)
    ]
    path.write_text(json.dumps({"log_history": records, **top}))
    return path


def _clean() -> History:
    return history(noisy(decay(100)), noisy(decay(10, 2.3, 0.5, 6.0), 0.01), lr=[1e-3 * (1 - i / 100) for i in range(100)])


def _spiky() -> History:
    values = noisy(decay(100), 0.01)
    values[40] *= 5
    values[70] *= 5
    return history(values)


def _oscillating() -> History:
    trend = decay(20, 2.0, 0.5, 2.0)
    return history(decay(200, 2.3, 0.3), [v + 0.4 * math.sin(i * 1.6) for i, v in enumerate(trend)], every=10)


def _early_rise(warmup: bool) -> History:
    loss = [2.3, 2.6, 3.0, 3.2, 3.1, 2.9, 2.7, *decay(93, 2.6, 0.4)]
    lr = [1e-3 * min(1.0, (i + 1) / 12) for i in range(100)] if warmup else [1e-3] * 100
    return history(loss, lr=lr)


# check -> (positive history, negative history)
CASES: dict[str, tuple[Callable[[], History], Callable[[], History]]] = {
    "nan_inf": (lambda: history([*decay(20)[:10], float("nan"), *decay(20)[11:]]), _clean),
    "divergence": (lambda: history(noisy(decay(60, 2.3, 1.0) + [1.0 + 0.1 * i for i in range(1, 41)])), _clean),
    "flat_loss": (lambda: history(noisy([2.30] * 60, 0.003), lr=[1e-6] * 60), _clean),
    "chance_plateau": (
        lambda: history(noisy([1.386] * 60, 0.003), noisy([1.386] * 6, 0.001), val_accuracy=[0.26, 0.25, 0.27, 0.24, 0.26, 0.25]),
        lambda: history(noisy([1.2] * 60, 0.003), noisy([1.2] * 6, 0.001), val_accuracy=[0.55] * 6),
    ),
    "zero_loss": (lambda: history([0.7, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), lambda: history(decay(40, 0.7, 1e-3))),
    "spikes": (_spiky, _clean),
    "oscillation": (_oscillating, _clean),
    "overfitting": (lambda: history(decay(100, 2.3, 0.05), [1.0, 0.7, 0.6, 0.62, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]), _clean),
    "underfitting": (
        lambda: history(noisy(decay(100, 1.3, 1.0), 0.005), noisy(decay(10, 1.2, 0.95, 6.0), 0.002), train_accuracy=[0.5] * 100),
        _clean,
    ),
    "still_improving": (lambda: history(decay(100, 2.3, 0.5, 1.0), [2.0 - 0.1 * i for i in range(10)]), _clean),
    "saturating": (lambda: history(decay(100, 2.3, 0.3, 30.0)), lambda: history([2.3 - 0.02 * i for i in range(100)])),
    "warmup_too_short": (lambda: _early_rise(warmup=False), lambda: _early_rise(warmup=True)),
    "lr_never_decays": (lambda: history(decay(50), lr=[1e-3] * 50), _clean),
    "loss_metric_disagree": (
        lambda: history(
            decay(100, 2.3, 0.05),
            [1.0, 0.7, 0.6, 0.66, 0.7, 0.8],
            val_accuracy=[0.5, 0.6, 0.7, 0.75, 0.78, 0.8],
            metric="val_accuracy",
            mode="max",
        ),
        lambda: history(
            decay(100, 2.3, 0.05),
            [1.0, 0.7, 0.6, 0.66, 0.7, 0.8],
            val_accuracy=[0.5, 0.6, 0.7, 0.68, 0.66, 0.65],
            metric="val_accuracy",
            mode="max",
        ),
    ),
    "few_evals": (lambda: history(decay(100), [1.0, 0.8, 0.7], every=30), _clean),
    "val_spikes": (
        lambda: history(decay(100), [1.0, 0.8, 0.7, 0.65, 17.0, 0.6, 0.58, 0.57], every=10),
        lambda: history(decay(100), [1.0, 0.8, 0.7, 0.65, 0.9, 0.6, 0.58, 0.57], every=10),
    ),
    "grad_norm_growth": (
        lambda: history(decay(60), grad_norm=[1.0 + 0.7 * i for i in range(60)]),
        lambda: history(decay(60), grad_norm=noisy([2.0] * 60, 0.3)),
    ),
    "no_progress": (
        lambda: history(noisy([1.1] * 60, 0.1, seed=3), [1.0, 0.99, 1.01, 0.98, 1.0, 0.99]),
        lambda: history(noisy(decay(60, 1.1, 0.3), 0.05), [1.0, 0.9, 0.8, 0.7, 0.65, 0.6]),
    ),
    "lr_mismatch": (
        lambda: history(decay(50), lr=[1e-2 * (1 - i / 50) for i in range(50)], lr_hint=1e-3),
        lambda: history(decay(50), lr=[1e-3 * (1 - i / 50) for i in range(50)], lr_hint=1e-3),
    ),
    "eval_too_sparse": (
        lambda: history(decay(100), decay(4, 2.0, 0.5), every=25, patience=10),
        lambda: history(decay(300), decay(30, 2.0, 0.5), every=10, patience=3),
    ),
}


def test_every_check_has_cases() -> None:
    assert set(CASES) == set(CHECKS.names())


@pytest.mark.parametrize("name", CHECKS.names())
def test_positive_case_finds_it(name: str) -> None:
    findings, skipped = run_checks(CASES[name][0](), [name])
    assert name not in skipped, skipped
    assert [f.rule for f in findings] == [name]
    found = findings[0]
    assert found.evidence and found.fix and found.source and found.message
    assert all(math.isfinite(p.step) for p in found.evidence)
    assert found.to_dict()["severity"] in ("error", "warning", "info")


@pytest.mark.parametrize("name", CHECKS.names())
def test_negative_case_does_not(name: str) -> None:
    findings, _ = run_checks(CASES[name][1](), [name])
    assert findings == []


def test_clean_history_is_healthy() -> None:
    assert diagnose(_clean()).findings == []


def test_lr_fix_is_a_config_change() -> None:
    h = history(noisy(decay(60, 2.3, 1.0) + [1.0 + 0.1 * i for i in range(1, 41)]), lr=[3e-4] * 100)
    (found,), _ = run_checks(h, ["divergence"])
    assert found.fix == "optimizer.lr: 0.0003 → 3e-05"
    (flat,), _ = run_checks(history([2.3] * 60, lr=[3e-6] * 60), ["flat_loss"])
    assert flat.fix == "optimizer.lr: 3e-06 → 3e-05"


def test_overfitting_names_the_turn_and_the_patience_fix() -> None:
    (found,), _ = run_checks(CASES["overfitting"][0](), ["overfitting"])
    assert found.step == 30  # the third evaluation (every 10 steps) is the best one
    assert "early_stopping.patience: 3" in found.fix


def test_overfitting_inside_the_patience_window_with_the_best_restored_is_no_warning() -> None:
    """Issue G item 6: the default digits run early-stopped on a val_loss turn and restored its best checkpoint,
    and the doctor still warned. The rise early stopping is waiting out is not a finding; a longer one, or a run
    that keeps its last weights, still is."""
    val = [1.0, 0.7, 0.6, 0.62, 0.66, 0.7]  # best at the 3rd evaluation, worse for 3 more
    caught = history(decay(60, 2.3, 0.05), val)
    caught.hints = RunHints(patience=3, load_best=True)
    assert run_checks(caught, ["overfitting"])[0] == []
    for hints in (RunHints(patience=3, load_best=False), RunHints(patience=2, load_best=True), RunHints(load_best=True)):
        h = history(decay(60, 2.3, 0.05), val)
        h.hints = hints
        assert [f.rule for f in run_checks(h, ["overfitting"])[0]] == ["overfitting"], hints


# The default `trainwell train` (digits, recommended config, seed 42) as recorded before the fix: val_loss best at
# step 990, early stopping (patience 5) ended it at 1440 and restored the best checkpoint; the doctor warned
# "overfitting ... weight_decay 0.05 -> 0.25, patience 3". Train loss at each evaluation step.
DEFAULT_RUN_EVAL = [
    0.4715,
    0.2449,
    0.1815,
    0.1687,
    0.1526,
    0.1546,
    0.1464,
    0.145,
    0.139,
    0.1331,
    0.1315,
    0.1347,
    0.1444,
    0.1439,
    0.142,
    0.1421,
]
DEFAULT_RUN_TRAIN = [
    0.5216,
    0.2104,
    0.1425,
    0.1086,
    0.1211,
    0.1207,
    0.0869,
    0.0728,
    0.09,
    0.0293,
    0.0293,
    0.0214,
    0.0303,
    0.0253,
    0.0426,
    0.0202,
]


def test_the_default_digits_run_no_longer_contradicts_its_doctor() -> None:
    from trainwell.doctor.readers.trainwell_run import hints_from_config

    h = History(source="digits default run")
    h.train_loss = series(DEFAULT_RUN_TRAIN, 90, 90)
    h.eval["val_loss"] = series(DEFAULT_RUN_EVAL, 90, 90)
    config = {
        "early_stopping": {"patience": 5, "threshold": 0.0},
        "checkpoint": {"strategy": "epoch", "every": 1, "load_best_at_end": True},
        "evaluation": {"strategy": "epoch", "every": 1, "metric": "val_loss", "mode": "min"},
        "optimizer": {"lr": 1.45e-3, "weight_decay": 0.05},
        "training": {"epochs": 20},
    }
    h.hints = hints_from_config(config, h)
    assert h.hints.load_best is True and h.hints.patience == 5
    assert [f.rule for f in diagnose(h).findings if f.severity >= Severity.WARNING] == []
    config["checkpoint"]["load_best_at_end"] = False  # keeping the last weights: the turn is a real finding
    h.hints = hints_from_config(config, h)
    assert "overfitting" in [f.rule for f in diagnose(h).findings]


def test_ranking_puts_severe_first_and_drops_superseded() -> None:
    def make(rule: str) -> Finding:
        return Finding(rule=rule, severity=CHECKS.get(rule).severity, message="m", fix="f", source="s")

    ranked = rank([make("lr_never_decays"), make("flat_loss"), make("chance_plateau"), make("overfitting")])
    assert [f.rule for f in ranked] == ["chance_plateau", "overfitting", "lr_never_decays"]
    assert all(a.severity >= b.severity for a, b in itertools.pairwise(ranked))


def test_chance_plateau_uses_the_configured_class_count() -> None:
    h = history(noisy([math.log(10)] * 40, 0.003), num_classes=10)
    (found,), _ = run_checks(h, ["chance_plateau"])
    assert "ln(10) for 10 classes" in found.message


def test_chance_plateau_defers_to_flat_loss_when_the_lr_is_tiny() -> None:
    h = history(noisy([math.log(10)] * 40, 0.003), num_classes=10, lr=[1e-6] * 40)
    assert diagnose(h).main_finding.rule == "flat_loss"  # type: ignore[union-attr]


def test_checks_skip_with_a_reason_when_series_are_missing() -> None:
    result = diagnose(history(None, None))
    assert result.findings == []
    assert set(result.skipped) >= {"divergence", "overfitting", "lr_never_decays"}
    assert all(result.skipped.values())


def test_severity_order() -> None:
    assert Severity.ERROR > Severity.WARNING > Severity.INFO
    assert RunHints().num_classes is None


def test_every_threshold_has_a_source_and_is_documented() -> None:
    from pathlib import Path

    from trainwell.doctor.checks import thresholds

    constants = {k for k in vars(thresholds) if k.isupper() and k != "SOURCES"}
    assert constants == set(thresholds.SOURCES)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "doctor.md").read_text(encoding="utf-8")
    for name in [*constants, *CHECKS.names()]:
        assert f"`{name}`" in doc, name


def test_a_first_log_far_above_ln_k_is_an_explosion() -> None:
    # LR x100 can blow the loss up before the first log record; a K-class model starts near ln K.
    h = history([31.9, 65.1, 56.4, 40.0, 30.0, 20.0, 15.0, 13.6], num_classes=10)
    (found,), _ = run_checks(h, ["divergence"])
    assert "from 2.3 at the start" in found.message
    assert run_checks(history([31.9, 65.1, 56.4, 40.0, 30.0, 20.0, 15.0, 13.6]), ["divergence"])[0] == []  # K unknown: no reference


def test_underfitting_in_a_lora_run_raises_the_rank_first() -> None:
    from trainwell.doctor.checks.generalisation import underfitting

    curves = (noisy(decay(100, 1.3, 1.0), 0.005), noisy(decay(10, 1.2, 0.95, 6.0), 0.002))
    lora = underfitting(history(*curves, train_accuracy=[0.5] * 100, lora_r=16))
    full = underfitting(history(*curves, train_accuracy=[0.5] * 100))
    assert lora is not None and lora.fix.startswith("model.lora_r: 16 → 32")
    assert full is not None and "lora_r" not in full.fix


def test_zero_eval_loss_is_an_error_wherever_it_falls() -> None:
    # The hate-speech run of the corpus (an HF Trainer log, so a cross-entropy): train loss reaches 0 only past the
    # first quarter, eval loss ~2e-5.
    h = history(decay(100, 0.85, 0.01, 4.0), [0.3, 0.05, 0.004, 2e-5], every=25)
    h.source = "hf-trainer-state"
    found = diagnose(h).main_finding
    assert found is not None and found.rule == "zero_loss" and found.severity == Severity.ERROR
    assert "val_loss" in found.message
    late_zeros = history([*decay(60, 0.9, 0.01), *[0.0] * 40])
    assert diagnose(late_zeros).main_finding.rule == "zero_loss"  # type: ignore[union-attr]


def test_a_rising_eval_loss_under_an_improving_selected_metric_is_not_overfitting() -> None:
    h = history(decay(100, 2.3, 0.05), [0.30, 0.36, 0.42, 0.45, 0.47], every=20)
    h.eval["val_wer"] = series([34.6, 33.1, 32.6, 32.0, 32.1], 20, 20)
    h.hints.metric, h.hints.mode = "val_wer", "min"
    codes = [f.rule for f in diagnose(h).findings]
    assert "loss_metric_disagree" in codes and "overfitting" not in codes


def test_fewer_than_four_evaluations_are_stated_not_skipped() -> None:
    found = diagnose(history(decay(100), [1.0, 0.8, 0.7], every=30)).findings
    few = next(f for f in found if f.rule == "few_evals")
    assert "only 3 evaluation(s)" in few.message and "to be judged" in few.message


def test_the_fast_signal_helpers_match_their_definitions() -> None:
    import statistics

    from trainwell.doctor.signal import _MEDIANS, memoised, prominent_peaks, rolling_median

    rng = random.Random(3)
    for n, ties in itertools.product((1, 2, 7, 60), (False, True)):
        values = [float(rng.randint(0, 3)) if ties else rng.random() for _ in range(n)]  # ties: equal heights and medians
        for window in (1, 3, 9, 21, 121):
            half = window // 2
            naive = [statistics.median(values[max(0, i - half) : i + half + 1]) for i in range(n)]
            assert rolling_median(values, window) == naive
            with memoised():  # the memo returns the same medians, each call its own copy, and is gone after the block
                first = rolling_median(values, window)
                first.append(-1.0)
                assert rolling_median(values, window) == naive
            assert _MEDIANS.get() is None
        naive_peaks = []
        for i in range(1, n - 1):
            if values[i] > values[i - 1] and values[i] >= values[i + 1]:
                j, left = i, values[i]
                while j >= 0 and values[j] <= values[i]:
                    left, j = min(left, values[j]), j - 1
                j, right = i, values[i]
                while j < n and values[j] <= values[i]:
                    right, j = min(right, values[j]), j + 1
                naive_peaks.append((i, values[i] - max(left, right)))
        assert prominent_peaks(values, 0.0) == naive_peaks


def test_a_small_late_turn_is_mild_overfitting_and_a_large_one_a_warning() -> None:
    """A turn near the floor that gives back a few % of what the run gained is info; the best checkpoint keeps it."""
    mild = history(decay(100, 2.3, 0.05), [0.4, 0.2, 0.1, 0.05, 0.034, 0.036, 0.037, 0.037])
    (found,), _ = run_checks(mild, ["overfitting"])
    assert found.severity == Severity.INFO and "mild" in found.message
    (strong,), _ = run_checks(CASES["overfitting"][0](), ["overfitting"])
    assert strong.severity == Severity.WARNING


def test_train_accuracy_far_above_val_accuracy_is_overfitting_while_val_loss_still_falls() -> None:
    h = history(
        decay(40, 6.8, 0.1), decay(40, 7.0, 1.9), every=1, train_accuracy=decay(40, 0.02, 1.0, 8.0), val_accuracy=decay(40, 0.02, 0.56)
    )
    (found,), _ = run_checks(h, ["overfitting"])
    assert "train acc >> val acc" in found.message and "weight_decay" in found.fix
    close = history(
        decay(40, 6.8, 0.1), decay(40, 7.0, 1.9), every=1, train_accuracy=decay(40, 0.02, 0.99, 8.0), val_accuracy=decay(40, 0.02, 0.9, 8.0)
    )
    assert run_checks(close, ["overfitting"])[0] == []


def test_three_evaluations_still_falling_are_called_still_improving() -> None:
    """Issue M item 4: few evaluations get a stated verdict, not silence."""
    h = history([0.39, 0.24, 0.17], [0.346, 0.243, 0.221], every=1)
    codes = [f.rule for f in diagnose(h).findings]
    assert codes == ["still_improving", "few_evals"]
    few = next(f for f in diagnose(h).findings if f.rule == "few_evals")
    assert "still improving at the end" in few.message
    turned = next(f for f in diagnose(history([0.39, 0.24, 0.17], [0.3, 0.25, 0.3], every=1)).findings if f.rule == "few_evals")
    assert "possible turn" in turned.message


def test_a_loss_rising_from_the_first_log_is_divergence() -> None:
    """The Whisper run at LR 3e-3: train 1.24 -> 2.16 -> 1.79, eval 2.55 -> 4.46 -> 3.42, never below the first."""
    h = history(
        [1.237, 2.028, 2.157, 1.985, 1.787], [2.55, 3.6, 3.5, 4.46, 3.9, 3.3, 3.42], every=1, lr=[1.5e-3, 3e-3, 2.1e-3, 1.2e-3, 2.7e-4]
    )
    found = diagnose(h).main_finding
    assert found is not None and found.rule == "divergence" and "rises from its first log" in found.message
    # the eval loss alone rising from the first evaluation is overfitting's business
    assert run_checks(history(decay(20, 1.0, 0.1), [0.3, 0.33, 0.36, 0.4, 0.42], every=4), ["divergence"])[0] == []


def test_train_spikes_the_eval_metric_shrugged_off_are_info() -> None:
    values = noisy(decay(100), 0.01)
    values[40] *= 5
    values[70] *= 5
    harmless = history(values, [1.0, 0.8, 0.6, 0.5, 0.45], every=20)
    (found,), _ = run_checks(harmless, ["spikes"])
    assert found.severity == Severity.INFO and "harmless" in found.message
    hurt = history(values, [1.0, 0.8, 0.6, 0.5, 0.7], every=20)
    assert run_checks(hurt, ["spikes"])[0][0].severity == Severity.WARNING


def test_fixes_use_the_names_of_the_tool_that_wrote_the_log() -> None:
    runs = {
        "hf-trainer-state": "TrainingArguments(learning_rate=3e-05)",
        "lightning-csv": "lr=3e-05 in configure_optimizers",
        "keras-history": "the optimizer's learning_rate=3e-05",
        "hf-log-history-csv": "TrainingArguments(learning_rate=3e-05)",
        "x": "optimizer.lr: 0.0003 → 3e-05",
    }
    for source, expected in runs.items():
        h = history(noisy(decay(60, 2.3, 1.0) + [1.0 + 0.1 * i for i in range(1, 41)]), lr=[3e-4] * 100)
        h.source = source
        (found,), _ = run_checks(h, ["divergence"])
        assert found.fix.startswith(expected), found.fix
    h = history(decay(60), grad_norm=[1.0 + 0.7 * i for i in range(60)])
    h.source = "lightning-csv"
    assert "Trainer(gradient_clip_val=1)" in run_checks(h, ["grad_norm_growth"])[0][0].fix
    h.source = "keras-csv"
    assert "global_clipnorm=1" in run_checks(h, ["grad_norm_growth"])[0][0].fix


def test_a_gradient_norm_spike_against_a_collapsed_loss_is_not_an_explosion() -> None:
    """A run whose loss reaches ~0 has tiny late gradient norms; an ordinary early norm is not 100x 'its median'."""
    norms = [6.0, 3.0, 2.0, 1.0, 0.5, *[0.001] * 60]
    assert run_checks(history(decay(65), grad_norm=norms), ["grad_norm_growth"])[0] == []
    exploded = [1.0, 1.1, 0.9, 1.0, 1.2, 1.0, 150.0, 1.0, 1.1, 0.9]
    (found,), _ = run_checks(history(decay(10), grad_norm=exploded), ["grad_norm_growth"])
    assert "exploded to 150" in found.message


def test_lr_mismatch_waits_for_warmup_and_skips_scaled_groups() -> None:
    warming = history(decay(20), lr=[1e-3 * i / 40 for i in range(20)], lr_hint=1e-3)  # still warming up: not a mismatch
    assert run_checks(warming, ["lr_mismatch"])[0] == []
    below = history(decay(40), lr=[5e-4 * (1 - i / 40) for i in range(40)], lr_hint=1e-3)
    assert run_checks(below, ["lr_mismatch"])[0][0].rule == "lr_mismatch"
    scaled = history(decay(50), lr=[1e-2] * 50, lr_hint=1e-3, lr_scaled=True)
    findings, skipped = run_checks(scaled, ["lr_mismatch"])
    assert findings == [] and "param groups" in skipped["lr_mismatch"]


def test_schedule_length_and_cadence_fixes_follow_the_tool() -> None:
    """Issue M: a fix is a config change for the tool that wrote the log, not trainwell keys for an HF run."""
    cases = {
        "lr_never_decays": (
            lambda: history(decay(50), lr=[1e-3] * 50),
            "TrainingArguments(lr_scheduler_type='cosine')",
            "CosineAnnealingLR",
        ),
        "saturating": (lambda: history(decay(100, 2.3, 0.3, 30.0)), "TrainingArguments(max_steps=", "Trainer(max_steps="),
        "eval_too_sparse": (
            lambda: history(decay(100), decay(4, 2.0, 0.5), every=25, patience=10),
            "TrainingArguments(eval_strategy='steps'",
            "Trainer(val_check_interval=",
        ),
    }
    for name, (make, hf, lightning) in cases.items():
        keras = {"lr_never_decays": "CosineDecay", "saturating": "model.fit(", "eval_too_sparse": "model.fit("}[name]
        for source, expected in (("hf-trainer-state", hf), ("lightning-csv", lightning), ("keras-tensorboard", keras)):
            h = make()
            h.source = source
            (found,), _ = run_checks(h, [name])
            assert expected in found.fix, (name, source, found.fix)


def _epoch_patterned(seed: int, periodic: bool) -> History:
    """6 epochs of 15 logged steps each (every 50 steps): a falling loss whose within-epoch shape (a hard block of
    batches two thirds into every epoch) repeats each epoch, or the same swings at random places."""
    rng = random.Random(seed)
    shape = [1.0] * 8 + [1.7] * 5 + [1.0] * 2
    steps, values, epochs = [], [], []
    for epoch in range(6):
        start = rng.randrange(11)
        bump = shape if periodic else [1.7 if start <= i < start + 5 and epoch % 2 else 1.0 for i in range(15)]
        for i in range(15):
            step = 49 + 50 * (15 * epoch + i)
            steps.append(float(step))
            values.append(0.4 * math.exp(-step / 2500) * bump[i] * (1 + rng.gauss(0, 0.05)))
            epochs.append(float(epoch))
    return History(source="lightning-csv", train_loss=Series(steps, values), epochs=Series(steps, epochs))


def test_swings_that_recur_each_epoch_are_the_data_order_not_the_lr() -> None:
    """Awritrojit's dev log (Lightning MNIST, no shuffling): the per-step loss peaks at the same batch of every
    epoch; that is an unshuffled loader (info, fix: shuffle=True), not oscillation from a high LR."""
    found = next(f for f in diagnose(_epoch_patterned(0, periodic=True)).findings if f.rule == "oscillation")
    assert found.severity == Severity.INFO and "same point of every epoch" in found.message
    assert "shuffle=True" in found.fix
    for seed in range(5):  # swings at random places keep the LR reading, when there are any
        other = [f for f in diagnose(_epoch_patterned(seed, periodic=False)).findings if f.rule == "oscillation"]
        assert all(f.severity == Severity.WARNING for f in other)


def test_no_progress_on_held_out_data_while_the_train_loss_falls() -> None:
    """The issue's class: val accuracy ~0.3 and val loss flat for the whole run while the train loss falls. Nothing
    carries over to validation: no_progress (check the split), not a silent pass or a spike warning."""
    flat = noisy([0.85] * 12, 0.01, seed=3)  # not a chance level (ln 2, ln 3, 0.25)
    h = history(decay(120, 1.2, 0.2), flat, every=10)
    h.eval["val_accuracy"] = series(noisy([0.30] * 12, 0.01, seed=4), 10, 10)
    found = diagnose(h).main_finding
    assert found is not None and found.rule == "no_progress"
    assert "does not carry over to validation" in found.message and "val split" in found.fix
    rising = history(decay(120, 1.2, 0.2), [0.85 + 0.03 * i for i in range(12)], every=10)
    rising.eval["val_accuracy"] = series([0.30, 0.36, 0.40, 0.38, 0.37, 0.35, 0.34, 0.33, 0.33, 0.32, 0.32, 0.31], 10, 10)
    assert all(f.rule != "no_progress" for f in diagnose(rising).findings)  # an accuracy that moved and fell back: overfitting's
    # The val loss rising from the first evaluation while the val accuracy never moves (AntarcBall's handwriting run:
    # val accuracy 0 at every epoch): nothing was learned that a turn could give back, so no_progress, not overfitting.
    stuck = history(decay(120, 1.2, 0.2), [0.85 + 0.03 * i for i in range(12)], every=10)
    stuck.eval["val_accuracy"] = series([0.30] * 12, 10, 10)
    assert diagnose(stuck).main_finding.rule == "no_progress"  # type: ignore[union-attr]
