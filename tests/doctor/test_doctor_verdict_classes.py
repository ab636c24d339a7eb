"""The one reading the doctor applies to the healthy / still-improving / plateau line (docs/doctor.md, "Healthy,
still improving or plateaued"), and the rules added after test5 was developed on. Each test builds its shape
synthetically, small and deterministic; none reads ../shared or the log cache."""

from __future__ import annotations

import math
import random
from pathlib import Path

from test_doctor_checks import decay, history, nan_grad_state, noisy, series

from trainwell.doctor import History, Severity, diagnose, run_checks


def _rules(h: History) -> list[str]:
    return [f.rule for f in diagnose(h).findings]


def _calm(h: History) -> bool:
    return all(f.severity < Severity.WARNING for f in diagnose(h).findings)


# ---- still improving: read on the curve's own scale as well as on its share of the total gain ----------------------


def test_a_val_loss_still_setting_minima_near_zero_is_still_improving_not_saturating() -> None:
    # test4/test5 shape (a 50-epoch Keras run, a 100-epoch Lightning run): val loss 0.62 -> 0.044 with a new minimum at
    # every late epoch (0.053 -> 0.044 over the last 10): the last third is ~1% of the total descent, so the share reading
    # called it saturating; on its own scale the loss still fell ~20% over the last third.
    val = [0.04 + 0.58 * math.exp(-8 * i / 49) + 0.02 * (1 - i / 49) for i in range(50)]
    h = history(decay(50, 0.6, 0.05, 4.0), val, every=1)
    rules = _rules(h)
    assert "still_improving" in rules and "saturating" not in rules, rules
    found = next(f for f in diagnose(h).findings if f.rule == "still_improving")
    assert "of its level" in found.message and "max_epochs" not in found.fix  # a synthetic log: trainwell's names
    # The same descent settled 30% through (flat to 1e-3 of its level) is a plateau, not still improving.
    flat = [max(v, val[15]) for v in val]
    assert "saturating" in _rules(history(decay(50, 0.6, 0.05, 4.0), flat, every=1))
    assert "still_improving" not in _rules(history(decay(50, 0.6, 0.05, 4.0), flat, every=1))


def test_a_train_only_loss_still_falling_on_its_own_scale_is_still_improving() -> None:
    # test5 (a 300-epoch train-only Lightning log, per-step values noisy): 6.3 -> 0.24 with the last 50 epochs still
    # ~30% lower; the trend line over the last third drops a small share of the total descent but a third of its level.
    values = noisy([0.2 + 6.0 * math.exp(-10 * i / 299) + 0.25 * (1 - i / 299) for i in range(300)], 0.05, seed=3)
    rules = _rules(history(values))
    assert rules[0] == "still_improving", rules
    settled = noisy([0.2 + 6.0 * math.exp(-10 * i / 299) for i in range(300)], 0.05, seed=3)
    assert "still_improving" not in _rules(history(settled))


def test_an_accuracy_is_not_read_on_the_relative_scale() -> None:
    # 0.95 -> 0.96 is a fifth of the errors gone but 1% of the level: the relative readings are for losses only.
    acc = [0.5 + 0.45 * (1 - math.exp(-6 * i / 29)) for i in range(30)]
    h = history(decay(30), None, every=1, val_accuracy=acc)
    assert "still_improving" not in _rules(h)


# ---- plateau: flat on its own scale after the first 30% ------------------------------------------------------------


def test_a_loss_that_barely_moves_after_30_percent_is_saturating() -> None:
    # test5 (a Lightning val RMSE, no train loss): 0.0199 -> 0.0183 at epoch 1, then 0.0183 -> 0.0180 over 6 epochs:
    # 16% of the improvement came late, but 1.6% of the level; and the check runs with no train loss at all.
    h = History(source="synthetic")
    h.eval["val_rmse_loss"] = series([0.01986, 0.01831, 0.01825, 0.01816, 0.01815, 0.01801, 0.01805, 0.01806])
    h.finish()
    found = {f.rule: f for f in diagnose(h).findings}
    assert set(found) == {"saturating"}, found
    assert "barely moved" in found["saturating"].message and found["saturating"].evidence
    # Still 10% lower over the last epochs: not a plateau.
    h2 = History(source="synthetic")
    h2.eval["val_rmse_loss"] = series([0.0199, 0.0183, 0.0180, 0.0176, 0.0171, 0.0166, 0.0160, 0.0154])
    h2.finish()
    assert "saturating" not in _rules(h2)


# ---- no progress without evaluations, and a noisy start that did not rise ------------------------------------------


def test_a_train_only_loss_that_never_falls_is_no_progress_not_divergence() -> None:
    # test5 (a 20-epoch probe, train-only): the loss wanders 2.35-3.99 around 3.0 with its first value the lowest: the
    # doctor said divergence ("rises from its first log"); nothing rose, nothing was learned.
    rng = random.Random(7)
    values = [2.35, *(3.0 + rng.uniform(-0.4, 0.6) for _ in range(27))]
    rules = _rules(history(values))
    assert "divergence" not in rules and rules[0] == "no_progress", rules
    found = next(f for f in diagnose(history(values)).findings if f.rule == "no_progress")
    assert "no evaluation" in found.message and "optimizer.lr" in found.fix
    # A loss barely moving (-2.6% over the run, smooth) is no progress too; one that fell 8% is learning.
    assert "no_progress" in _rules(history([42.64 - 0.125 * i for i in range(10)]))
    assert "no_progress" not in _rules(history([3.26 - 0.025 * i for i in range(12)]))


def test_a_loss_that_jumps_from_its_first_log_and_stays_up_is_still_divergence() -> None:
    # The Whisper run at LR 3e-3 (train 1.24 -> 2.03 -> 2.16 -> 1.99 -> 1.79): the first value stands far below the
    # rest, well clear of their noise.
    h = history([1.237, 2.028, 2.157, 1.985, 1.787], [2.55, 3.6, 3.5, 4.46, 3.9, 3.3, 3.42], every=1)
    assert diagnose(h).main_finding is not None and diagnose(h).main_finding.rule == "divergence"  # type: ignore[union-attr]


def test_a_signed_train_only_objective_is_not_no_progress() -> None:
    values = [0.05 * math.sin(i) - 0.01 for i in range(40)]
    assert run_checks(history(values), ["no_progress"])[0] == []


# ---- a rare non-finite gradient norm -------------------------------------------------------------------------------


def test_one_skipped_fp16_step_in_a_long_run_is_info(tmp_path: Path) -> None:
    # test5 (MattthiasSchedel/DAT55-Project4): one NaN grad_norm in 1000 logged steps, every loss finite (labelled
    # healthy): the loss scaler calibrating, harmless; recurring ones stay a warning.
    loss = [0.02 + 2.0 * 0.97**i for i in range(200)]
    path = nan_grad_state(tmp_path / "trainer_state.json", loss, {120}, every=10, per_epoch=200, peak_lr=1e-4, max_steps=2000)
    found = {f.rule: f for f in diagnose(path).findings}
    assert found["nan_inf"].severity == Severity.INFO and "harmless" in found["nan_inf"].message
    nan_grad_state(path, loss, {20, 60, 120}, every=10, per_epoch=200, peak_lr=1e-4, max_steps=2000)
    found = {f.rule: f for f in diagnose(path).findings}
    assert found["nan_inf"].severity == Severity.WARNING


# ---- zero loss on a held-out test loss, a metric never computed, a spike the run got past ----------------------------


def test_a_held_out_test_loss_at_exactly_zero_is_zero_loss() -> None:
    # test5 (a 250-epoch Keras-style history, keys train_loss / test_loss): the held-out loss is exactly 0.0 at most
    # epochs from epoch ~21 with test accuracy 1.0; the doctor read only val_loss and called the run still improving.
    def make(test: list[float]) -> History:
        h = history(noisy(decay(60, 0.3, 0.05), 0.3, seed=1), train_accuracy=[0.97 + 0.0004 * i for i in range(60)])
        h.extra["test_loss"] = series(test)
        return h

    zeros = [0.003 * 0.5**i if i < 20 else (0.0 if i % 4 else 2e-9) for i in range(60)]
    found = {f.rule: f for f in diagnose(make(zeros)).findings}
    assert found["zero_loss"].severity == Severity.ERROR and "test_loss" in found["zero_loss"].message
    assert "zero_loss" not in _rules(make(decay(60, 0.5, 0.05)))


def test_a_training_side_metric_never_computed_is_info_but_a_nan_eval_metric_stays_an_error() -> None:
    # test5 (a one-record RL history): avg_val_score NaN in its only record, every loss finite: nothing blew up.
    h = history(decay(10))
    h.train_metrics["avg_val_score"] = series([float("nan")] * 10)
    found = {f.rule: f for f in diagnose(h).findings}
    assert found["nan_inf"].severity == Severity.INFO and "never computed" in found["nan_inf"].message
    # An AUC NaN at every evaluation beside a finite val loss: an evaluation with no valid labels, a data problem.
    h2 = history(decay(10), decay(5, 0.5, 0.3), every=2)
    h2.eval["val_roc_auc"] = series([float("nan")] * 5, 2, 2)
    assert {f.rule: f for f in diagnose(h2).findings}["nan_inf"].severity == Severity.ERROR


def test_a_train_only_spike_the_loss_came_straight_back_from_is_harmless() -> None:
    # test5 (a one-epoch SFT log, per-step losses noisy 0.39-0.85 at a flat level): one batch at 2x its local level, the
    # loss straight back at its level after it: with no evaluation, the train loss itself shows no lasting harm (info).
    flat = noisy([0.6 + 0.45 * math.exp(-i / 6) for i in range(128)], 0.12, seed=4)
    flat[64] = 1.6
    found = {f.rule: f for f in diagnose(history(flat)).findings}
    assert found["spikes"].severity == Severity.INFO and "came straight back" in found["spikes"].message
    falling = noisy(decay(200, 2.0, 0.2), 0.01)
    falling[30] *= 6
    assert {f.rule: f for f in diagnose(history(falling)).findings}["spikes"].severity == Severity.INFO
    # A spike after which the loss stays 30% higher is a warning.
    stuck = noisy([2.0] * 20 + [1.0] * 180, 0.01)
    stuck[150] *= 6
    stuck[151:] = [v * 1.3 for v in stuck[151:]]
    assert {f.rule: f for f in diagnose(history(stuck)).findings}["spikes"].severity == Severity.WARNING


def test_a_reward_that_stopped_improving_early_is_saturating() -> None:
    # test5 (RL4CO, 200 epochs): val reward -114.5 -> -110.5 by epoch ~20, then flat: 3.5% of its level, which the
    # "improved by 5% at all" rule read as no improvement; a reward has no zero, so its gain is weighed against its noise.
    rng = random.Random(5)
    reward = [-110.5 - 4.0 * math.exp(-i / 6) + rng.gauss(0, 0.1) for i in range(200)]
    h = History(source="synthetic")
    h.eval["val_reward"] = series(reward)
    h.finish()
    assert "saturating" in _rules(h)
    noise_only = History(source="synthetic")
    noise_only.eval["val_reward"] = series([-110.5 + rng.gauss(0, 0.1) for _ in range(200)])
    noise_only.finish()
    assert "saturating" not in _rules(noise_only)


def test_a_spike_before_a_val_loss_that_ends_in_its_floor_noise_is_harmless() -> None:
    # test5 (a 100-epoch regression): one early train spike; the val loss then wanders 5.0-5.4e-7 and ends 8% above its
    # luckiest evaluation: within its own evaluation noise of the best, so the spike cost nothing the run shows.
    rng = random.Random(11)
    train = noisy(decay(300, 2e-4, 6e-7, 6.0), 0.05, seed=2)
    train[60] = 30 * train[60]
    floor = [5.2e-7 + rng.uniform(-0.3e-7, 0.3e-7) for _ in range(80)]
    val = [1e-5 * 0.7**i + 5.2e-7 for i in range(20)] + floor
    val[-3], val[-1] = 4.75e-7, 5.13e-7
    found = {f.rule: f for f in diagnose(history(train, val, every=3)).findings}
    assert found["spikes"].severity == Severity.INFO, found["spikes"].message
    rising = [*val[:-10], *(v * 1.4 for v in val[-10:])]
    rising[-3] = 4.75e-7
    assert {f.rule: f for f in diagnose(history(train, rising, every=3)).findings}["spikes"].severity == Severity.WARNING
