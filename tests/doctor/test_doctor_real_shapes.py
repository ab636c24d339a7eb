"""The shapes real logs showed the doctor misreading (issue M, dev/test/test2 of benchmarks/doctor_corpus): each test
builds the shape synthetically, small and deterministic, and checks the generic rule that now reads it right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_doctor_checks import decay, history, series

from trainwell.doctor import History, Series, Severity, diagnose, run_checks
from trainwell.doctor.readers import read_history
from trainwell.errors import DataError


def _rules(h: History) -> list[str]:
    return [f.rule for f in diagnose(h).findings]


# ---- readers -----------------------------------------------------------------------------------------------------


def test_lightning_eval_metric_is_the_epoch_aggregate_not_one_batch(tmp_path: Path) -> None:
    rows = ["epoch,step,train_loss,val_loss_step,val_loss_epoch"]
    for epoch in range(4):
        rows += [f"{epoch},{epoch * 10 + i},{1.0 - 0.1 * epoch},," for i in range(3)]
        rows += [f"{epoch},{epoch * 10 + 9},,{v}," for v in (0.9, 0.2, 0.7)]  # per-batch validation losses
        rows.append(f"{epoch},{epoch * 10 + 9},,,{0.8 - 0.1 * epoch}")
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    h = read_history(tmp_path / "metrics.csv")
    assert [round(v, 6) for v in h.eval["val_loss"].values] == [0.8, 0.7, 0.6, 0.5]
    assert "val_loss_step" in h.extra


def test_an_aggregate_loss_name_is_the_train_loss(tmp_path: Path) -> None:
    rows = ["epoch,step,mean_loss,pde_loss,boundary_loss"] + [f"{i},{i},{1 / (i + 1)},{0.5 / (i + 1)},{0.5 / (i + 1)}" for i in range(8)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    h = read_history(tmp_path / "metrics.csv")
    assert len(h.train_loss) == 8 and h.train_loss.values[0] == 1.0
    assert {"pde_loss", "boundary_loss"} <= set(h.extra)


def test_a_keras_history_saved_as_a_python_dict_string_is_read(tmp_path: Path) -> None:
    data = {"loss": [1.2, 0.5, 0.4], "val_loss": [0.6, 0.45, 0.4], "accuracy": [0.6, 0.8, 0.85]}
    path = tmp_path / "training_history.json"
    path.write_text(json.dumps(str(data)))
    h = read_history(path)
    assert h.source == "keras-history" and h.eval["val_loss"].values == [0.6, 0.45, 0.4]
    code = tmp_path / "code.json"
    code.write_text(json.dumps("{'loss': __import__('os').getcwd()}"))  # not a literal: refused, never evaluated
    with pytest.raises(DataError):
        read_history(code)


# ---- zero loss: relative to the loss's type and the run's course -------------------------------------------------


def test_a_held_out_loss_reaching_near_zero_gradually_is_an_easy_task_not_leakage() -> None:
    val = [0.1 * 0.6**i for i in range(14)]  # 0.1 -> 0.00013 over 14 evaluations, below 1e-3 from the 10th
    h = history(decay(140, 0.35, 0.0004, 8.0), val, every=10)
    assert "zero_loss" not in _rules(h)
    # Near zero at the first evaluation, beside an accuracy (so the loss is a cross-entropy): leakage.
    early = history(decay(140, 0.8, 0.01, 8.0), [2e-4, *val[1:]], every=10, val_accuracy=[1.0] * 14)
    assert diagnose(early).main_finding.rule == "zero_loss"  # type: ignore[union-attr]


def test_a_regression_loss_converging_to_zero_is_not_degenerate() -> None:
    mse = [1.3e8 * 0.5**i for i in range(60)] + [1e-6] * 40  # an MSE from 1e8 to 1e-6: no cross-entropy starts there
    found, skipped = run_checks(history(mse), ["zero_loss"])
    assert found == [] and "cross-entropy" in skipped["zero_loss"]
    named = history([0.5 * 0.8**i for i in range(30)] + [0.0] * 30)
    named.eval["val_rmse"] = series([0.3, 0.1, 0.01, 0.001], 15, 15)
    assert "zero_loss" not in _rules(named)


def test_a_lone_batch_loss_of_zero_early_in_a_noisy_run_is_not_leakage() -> None:
    # A Lightning train_loss_step at 0.0 twice among 345 values in a run hovering at 0.6 (test6, after scoring):
    # one small batch rounding to 0, not a degenerate task. Leakage keeps the loss at zero.
    noisy = [0.9 - 0.3 * (i / 100) + (0.1 if i % 3 else -0.1) for i in range(100)]
    noisy[7] = noisy[60] = 0.0
    assert "zero_loss" not in _rules(history(noisy))
    stays = noisy[:7] + [0.0] * 8 + noisy[15:]  # at zero from the 8th value for 8 values (under a quarter): still found
    assert "zero_loss" in _rules(history(stays))


# ---- metric-aware generalisation ---------------------------------------------------------------------------------


def test_loss_metric_disagreement_from_headline_metrics_without_a_selected_metric() -> None:
    # SwapnilupGrad's shape: 3 evaluations, eval loss up, accuracy and F1 up, no metric_for_best_model recorded.
    h = history(decay(30, 0.4, 0.14), [0.255, 0.288, 0.375], every=10)
    h.eval["val_accuracy"] = series([0.892, 0.903, 0.908], 10, 10)
    h.eval["val_f1"] = series([0.856, 0.870, 0.877], 10, 10)
    assert diagnose(h).main_finding.rule == "loss_metric_disagree"  # type: ignore[union-attr]
    flat = history(decay(100, 2.3, 0.05), [0.2, 0.19, 0.22, 0.25, 0.26, 0.27, 0.28], every=10)
    flat.eval["val_accuracy"] = series([0.924, 0.926, 0.925, 0.927, 0.926, 0.928, 0.927], 10, 10)  # < 2% better
    assert diagnose(flat).main_finding.rule == "overfitting"  # type: ignore[union-attr]


def test_val_loss_swings_in_a_run_that_ends_at_its_best_are_information() -> None:
    # Two swings of a quarter of the run's progress or more (PlantShield's smaller ones are a plateau's noise: test3 shapes).
    val = [0.60, 0.29, 0.25, 0.17, 0.13, 0.24, 0.26, 0.11, 0.11, 0.25, 0.24, 0.105]
    h = history(decay(100, 1.3, 0.05), val, every=10)
    found = next(f for f in diagnose(h).findings if f.rule == "oscillation")
    assert found.severity == Severity.INFO and "harmless so far" in found.message
    worse = history(decay(100, 1.3, 0.05), [*val[:-1], 0.19], every=10)
    assert all(f.severity == Severity.WARNING for f in diagnose(worse).findings if f.rule == "oscillation")


def test_a_noisy_flat_val_loss_whose_last_two_evaluations_rise_is_not_a_turn() -> None:
    # An LSTM's shape: the val loss settles into a band of +-10% and its last two evaluations sit above its luckiest one.
    band = [0.0386, 0.0438, 0.0397, 0.0352, 0.0366, 0.0356, 0.0410, 0.0338, 0.0372, 0.0345, 0.0429, 0.0360, 0.0341, 0.0395]
    h = history(decay(400, 0.5, 0.02), [0.15, 0.09, 0.06, 0.05, *band, 0.0327, 0.0350, 0.0397], every=10)
    assert run_checks(h, ["overfitting"])[0] == []
    clean = history(decay(100, 2.3, 0.05), [0.4, 0.2, 0.12, 0.1, 0.09, 0.085, 0.11, 0.13], every=10)
    (found,), _ = run_checks(clean, ["overfitting"])  # a clean turn on two evaluations stands out of its jitter
    assert found.rule == "overfitting"


def test_the_overfitting_fix_does_not_repeat_what_the_run_already_sets() -> None:
    h = history(decay(100, 2.3, 0.05), [0.5, 0.3, 0.2, 0.25, 0.3, 0.35], every=10, metric="val_loss", mode="min", load_best=True)
    h.source = "hf-trainer-state"
    (found,), _ = run_checks(h, ["overfitting"])
    assert "load_best_model_at_end" not in found.fix and "EarlyStoppingCallback" in found.fix
    h.hints.load_best = None
    (again,), _ = run_checks(h, ["overfitting"])
    assert "load_best_model_at_end=True" in again.fix


# ---- still improving, underfitting -------------------------------------------------------------------------------


def test_an_unfinished_checkpoint_making_its_best_late_is_still_improving() -> None:
    val = [0.10, 0.048, 0.037, 0.025, 0.024, 0.022, 0.020, 0.016, 0.015, 0.013, 0.0114, 0.0106, 0.0093, 0.0099]
    h = history(decay(140, 0.18, 0.01), val, every=100, planned_steps=2806.0)
    found = next(f for f in diagnose(h).findings if f.rule == "still_improving")
    assert "unfinished" in found.message and "resume" in found.fix
    # As a finished run the same curve still sets minima 38% below where its last third started: still improving on the
    # loss's own scale (IMPROVING_REL_DROP); one that settled in its last third is not, finished or not.
    assert "still_improving" in _rules(history(decay(140, 0.18, 0.01), val, every=100))
    settled = [*val[:7], 0.019, 0.0188, 0.0187, 0.0186, 0.0186, 0.0185, 0.0186]
    assert "still_improving" not in _rules(history(decay(140, 0.18, 0.01), settled, every=100))


def test_a_last_evaluation_clearly_beating_every_earlier_one_is_still_improving() -> None:
    val = [0.54, 0.30, 0.157, 0.206, 0.160, 0.128, 0.189, 0.144, 0.115, 0.097]
    assert "still_improving" in _rules(history(decay(100, 1.4, 0.06), val, every=10))


def test_three_epoch_means_with_no_evaluation_are_judged() -> None:
    h = History(source="synthetic", x_unit="epoch", train_loss=Series([1.0, 2.0, 3.0], [2.28, 1.61, 1.40])).finish()
    assert diagnose(h).main_finding.rule == "still_improving"  # type: ignore[union-attr]


def test_underfitting_from_the_train_side_alone() -> None:
    # A train-only log: accuracy stuck at 0.47 while the loss flattened at 1.22.
    train = [2.29, 1.78, 1.48, 1.32, 1.27, 1.246, 1.230, 1.226, 1.225, 1.224]
    h = history(train, train_accuracy=[0.125, 0.34, 0.469, 0.469, 0.469, 0.469, 0.469, 0.469, 0.469, 0.469])
    assert diagnose(h).main_finding.rule == "underfitting"  # type: ignore[union-attr]
    good = history(train, train_accuracy=[0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.93, 0.94, 0.94, 0.95])
    assert "underfitting" not in _rules(good)


def test_both_accuracies_low_is_underfitting_while_the_val_loss_creeps_down() -> None:
    train = [6.3, 2.4, 2.1, 2.04, 1.94, 2.09, 1.94, 1.91, 1.83, 1.82]
    val = [2.75, 1.99, 1.98, 1.98, 1.94, 1.80, 1.76, 1.79, 1.57, 1.50]
    h = history(train, val, every=1, train_accuracy=[0.30, 0.21, 0.23, 0.17, 0.21, 0.20, 0.24, 0.26, 0.30, 0.31])
    h.eval["val_accuracy"] = series([0.06, 0.24, 0.13, 0.26, 0.10, 0.23, 0.34, 0.32, 0.45, 0.44], 1, 1)
    assert diagnose(h).main_finding.rule == "underfitting"  # type: ignore[union-attr]


def test_a_val_spike_near_a_floor_is_noise_not_instability() -> None:
    val = [0.0997, 0.014, 0.0047, 0.0046, 0.0027, 0.0014, 0.0012, 0.00052, 0.00132, 0.00027, 0.00075, 0.00016, 0.00015, 0.00014]
    assert run_checks(history(decay(140, 0.35, 0.0004), val, every=10), ["val_spikes"])[0] == []
    big = [0.5, 0.3, 0.2, 0.15, 0.6, 0.14, 0.13]
    assert [f.rule for f in run_checks(history(decay(70), big, every=10), ["val_spikes"])[0]] == ["val_spikes"]
