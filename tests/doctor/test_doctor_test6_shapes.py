"""Rules added while developing on test6's misses (after its single held-out scoring), each on a synthetic shape:
small, deterministic, none reading ../shared or the log cache."""

from __future__ import annotations

import json
from pathlib import Path

from test_doctor_checks import decay, history, nan_grad_state, noisy
from test_doctor_reader_parity import write_csv

from trainwell.doctor import Series, Severity, diagnose, read_history, run_checks
from trainwell.doctor.checks.generalisation import _passes

# ---- non-finite gradient norms only at the start: the loss scaler's first calibration ------------------------------


def _fp16_state(tmp_path: Path, bad: set[int]) -> Path:
    loss = [0.4 + 3.9 * 0.85**i for i in range(120)]
    return nan_grad_state(
        tmp_path / "trainer_state.json", loss, bad, every=1, per_epoch=24, peak_lr=2e-4, max_steps=120, num_train_epochs=5
    )


def test_non_finite_grad_norms_only_in_the_first_steps_are_the_scalers_calibration(tmp_path: Path) -> None:
    # test6 (a 5-epoch LoRA SFT, fp16, labelled healthy): grad_norm NaN at steps 1, 2 and 6 of 120 (2.5% of the logged
    # norms, over NAN_GRAD_RARE), every loss finite: GradScaler starts at 2**16 and skips steps until the scale fits.
    found = {f.rule: f for f in diagnose(_fp16_state(tmp_path, {0, 1, 5})).findings}
    assert found["nan_inf"].severity == Severity.INFO and "first calibration" in found["nan_inf"].message
    # The same three skipped steps spread through the run are a scale that never settles: a warning, as before.
    found = {f.rule: f for f in diagnose(_fp16_state(tmp_path, {0, 60, 110})).findings}
    assert found["nan_inf"].severity == Severity.WARNING


# ---- the best checkpoint's metric: min or max ----------------------------------------------------------------------


def test_a_best_checkpoint_at_a_saved_step_that_is_not_the_best_evaluation_keeps_a_loss_minimised(tmp_path: Path) -> None:
    # test6 (a segmentation checkpoint at step 500 of 800, labelled still-improving): the Trainer saved checkpoints every
    # 500 steps and evaluated every 20, so best_metric (eval_loss 0.774 at checkpoint-500) is neither the lowest
    # evaluation (0.758 at 480) nor the highest; the mode was read as "max" and a falling val loss became overfitting.
    val = [*decay(24, 1.7, 0.7, 2.0), 0.774]
    val[-2] = 0.758
    records: list[dict[str, float]] = []
    for i, v in enumerate(val):
        step = 20.0 * (i + 1)
        records.append({"step": step, "epoch": step / 16, "loss": v + 0.03, "learning_rate": 6e-5})
        records.append({"step": step, "epoch": step / 16, "eval_loss": v})
    path = tmp_path / "trainer_state.json"
    state = {"log_history": records, "max_steps": 800, "best_metric": 0.774, "best_model_checkpoint": "out/checkpoint-500"}
    path.write_text(json.dumps(state))
    h = read_history(path)
    assert (h.hints.metric, h.hints.mode) == ("val_loss", "min")
    rules = [f.rule for f in diagnose(h).findings]
    assert "overfitting" not in rules and "still_improving" in rules, rules
    # The lowest evaluation so far is still read as minimised, whatever the metric is called, and the highest as
    # maximised (an accuracy selected at a step where it was at its best).
    path.write_text(json.dumps({**state, "best_metric": val[-2], "best_model_checkpoint": "out/checkpoint-480"}))
    assert read_history(path).hints.mode == "min"
    for record in records:
        if "eval_loss" in record:
            record["eval_accuracy"] = 1.0 - record["eval_loss"] / 2
    path.write_text(
        json.dumps({**state, "log_history": records, "best_metric": 1.0 - val[-2] / 2, "best_model_checkpoint": "out/checkpoint-480"})
    )
    assert (read_history(path).hints.metric, read_history(path).hints.mode) == ("val_accuracy", "max")


# ---- underfitting: both accuracies low, and not on a single pass over the data --------------------------------------


def test_a_low_train_accuracy_beside_a_good_val_accuracy_is_not_underfitting() -> None:
    # test6 (a 40-epoch CNN with heavy augmentation, labelled healthy): train accuracy 0.31 -> 0.43 while val accuracy
    # rose 0.59 -> 0.75 and the train loss stayed above the val loss: the train side is measured under augmentation.
    train, val = noisy(decay(40, 1.56, 1.19, 3.0), 0.005), noisy(decay(40, 1.27, 0.96, 3.0), 0.005, seed=1)
    good = history(
        train, val, every=1, train_accuracy=[0.3 + 0.003 * i for i in range(40)], val_accuracy=[0.59 + 0.004 * i for i in range(40)]
    )
    assert run_checks(good, ["underfitting"])[0] == []
    # Both accuracies low (004's underfitting) is still underfitting.
    low = history(
        train, val, every=1, train_accuracy=[0.3 + 0.003 * i for i in range(40)], val_accuracy=[0.35 + 0.002 * i for i in range(40)]
    )
    assert [f.rule for f in run_checks(low, ["underfitting"])[0]] == ["underfitting"]


def test_a_single_pass_fine_tune_whose_train_loss_sits_on_its_val_loss_is_not_underfitting() -> None:
    # test6 (a 1-epoch LLM SFT, labelled healthy): eval loss 1.275 -> 1.147 converging, train loss 1.30 -> 1.17: in one
    # pass every train batch is new to the model, so train ~ val says nothing about capacity.
    train = noisy(decay(100, 1.3, 1.15, 4.0), 0.01)
    val = decay(10, 1.275, 1.145, 4.0)
    assert run_checks(history(train, val, every=10, epochs=1.0), ["underfitting"])[0] == []
    # Several passes over the data with the train loss still on the val loss and barely lowered: underfitting.
    assert [f.rule for f in run_checks(history(train, val, every=10, epochs=3.0), ["underfitting"])[0]] == ["underfitting"]


# ---- the source says what was read, and the fixes use that tool's names ---------------------------------------------


def test_a_keras_history_saved_with_pandas_is_read_as_keras_and_fixed_in_keras_names(tmp_path: Path) -> None:
    # test6: four Keras histories saved with pd.DataFrame(history.history).to_csv() (pandas' index column, Keras' own
    # keys, no epoch column) were read as hand-written CSVs and given trainwell keys as fixes.
    val = [0.9, 0.6, 0.45, 0.4, 0.42, 0.47, 0.52, 0.58]
    rows = [{"accuracy": 0.6 + 0.05 * e, "loss": 1.2 * 0.7**e, "val_accuracy": 0.7, "val_loss": v} for e, v in enumerate(val)]
    h = read_history(write_csv(tmp_path / "training_history.csv", rows, index=True))
    assert h.source == "keras-csv" and h.x_unit == "epoch"
    (found,) = [f for f in diagnose(h).findings if f.rule == "overfitting"]
    assert "keras.callbacks.EarlyStopping(monitor='val_loss', mode='min', patience=3, restore_best_weights=True)" in found.fix
    # A hand-written loop's names (train_loss) are not a Keras History: trainwell's keys.
    own = [{"train_loss": r["loss"], "val_loss": r["val_loss"]} for r in rows]
    h = read_history(write_csv(tmp_path / "own.csv", own, index=True))
    assert h.source == "csv" and "early_stopping.patience: 3" in next(f.fix for f in diagnose(h).findings if f.rule == "overfitting")


def test_keras_fixes_name_keras_arguments(tmp_path: Path) -> None:
    h = history(decay(30, 2.3, 0.3, 1.0), decay(6, 1.5, 0.5, 1.0), every=5)
    h.source = "keras-history"
    fixes = {f.rule: f.fix for f in run_checks(h)[0]}
    assert fixes["still_improving"].startswith("model.fit(..., epochs="), fixes
    h = history(noisy(decay(60, 2.3, 1.0) + [1.0 + 0.1 * i for i in range(1, 41)]))
    h.source = "keras-history"
    (found,), _ = run_checks(h, ["divergence"])
    assert "keras.optimizers.Adam(learning_rate=...)" in found.fix and "divide by 10" in found.fix


# ---- a late turn in a noisy curve -----------------------------------------------------------------------------------


def test_a_rise_from_the_luckiest_of_a_noisy_runs_last_evaluations_is_not_overfitting() -> None:
    # test6 (a 100-epoch Keras audio classifier, labelled spikes): a val loss jumping 3-10x for single epochs all run long
    # and best at epoch 97 (0.056), 0.085 three epochs later, was overfitting: 3 evaluations after the best are under
    # OVERFIT_LATE_FRACTION of 100, and the rise is inside the curve's jitter. Here: best at evaluation 35 of 40, five
    # evaluations after it, up to 30% above it, in a curve that jitters by +-35%.
    val = noisy(decay(40, 2.0, 0.1, 6.0), 0.35, seed=3)
    low = min(val) * 0.8
    val[34:] = [low * r for r in (1.0, 1.3, 1.0, 1.25, 1.15, 1.3)]
    train = decay(400, 2.3, 0.05, 6.0)
    assert run_checks(history(train, val, every=10), ["overfitting"])[0] == []
    # A clean curve whose late turn climbs well out of its jitter is still overfitting.
    clean = [*decay(37, 2.0, 0.1, 6.0), 0.14, 0.18, 0.22]
    assert [f.rule for f in run_checks(history(train, clean, every=10), ["overfitting"])[0]] == ["overfitting"]


# ---- a late blow-up of both losses --------------------------------------------------------------------------------


def test_a_val_loss_blowing_up_at_the_end_while_the_train_loss_rises_too_is_divergence() -> None:
    # test6 (a Keras CSVLogger run whose cosine schedule restarts to 1e-3 at epoch 10, labelled diverging): val loss
    # 8.33 -> 0.055 at epoch 10, then 0.64, 0.20, 0.19, 0.17, 0.48, 1.14 (20x its best, climbing) while the train loss
    # rose 0.037 -> 0.06 at the restart: overfitting handed it over ("both got worse") and divergence read only the train
    # loss, so only saturating (info) was left.
    val = [8.33, 0.2, 0.22, 0.25, 0.12, 0.18, 0.11, 0.083, 0.062, 0.055, 0.64, 0.2, 0.19, 0.17, 0.48, 1.14]
    train = [0.40, 0.13, 0.10, 0.087, 0.074, 0.062, 0.053, 0.046, 0.040, 0.037, 0.089, 0.075, 0.072, 0.066, 0.063, 0.057]
    found = diagnose(history(train, val, every=1)).findings
    assert found[0].rule == "divergence" and "val_loss blew up" in found[0].message, found
    # The same held-out blow-up while the train loss keeps falling is overfitting's to read, not divergence.
    falling = [0.40 * 0.8**i for i in range(16)]
    assert "divergence" not in [f.rule for f in diagnose(history(falling, val, every=1)).findings]
    # A blow-up the run came back from is not divergence either.
    back = [*val[:-2], 0.48, 0.06]
    assert "divergence" not in [f.rule for f in diagnose(history(train, back, every=1)).findings]


# ---- an evaluation logged twice --------------------------------------------------------------------------------------


def test_an_evaluation_logged_again_after_training_counts_once(tmp_path: Path) -> None:
    # test6 (a 3-epoch MNIST Lightning run, labelled too-few-evals): val_loss 0.254, 0.203, 0.168 at the epoch ends and
    # 0.168 again at the next step (trainer.validate after fit): four evaluations, so few_evals was skipped.
    rows: list[dict[str, float]] = []
    for step in range(10, 2346, 50):
        rows.append({"epoch": step // 782, "step": step, "train_loss": 1.1 * 0.95 ** (step / 50) + 0.1})
    for epoch, (step, value) in enumerate(((781, 0.2543), (1563, 0.2034), (2345, 0.1682), (2346, 0.1682))):
        rows.append({"epoch": epoch, "step": step, "val_loss": value})
    folder = tmp_path / "lightning_logs" / "version_1"
    folder.mkdir(parents=True)
    h = read_history(write_csv(folder / "metrics.csv", rows, header=["epoch", "step", "train_loss", "val_loss"]))
    assert h.eval_loss.values == [0.2543, 0.2034, 0.1682] and any("counted once" in n for n in h.notes)
    assert "few_evals" in [f.rule for f in diagnose(h).findings]
    # The same value again after more training is a second evaluation (the weights changed): kept.
    rows.append({"epoch": 3, "step": 2400, "train_loss": 0.12})
    rows.append({"epoch": 3, "step": 2401, "val_loss": 0.1682})
    h = read_history(write_csv(folder / "metrics.csv", rows, header=["epoch", "step", "train_loss", "val_loss"]))
    assert h.eval_loss.values == [0.2543, 0.2034, 0.1682, 0.1682]


# ---- still improving: not when the last evaluation fell away from the best -----------------------------------------


def test_a_metric_that_collapsed_at_its_last_evaluation_is_not_still_improving() -> None:
    # test6 (a seq2seq fine-tune selecting its checkpoint by BLEU): eval BLEU 0, 0, 0.18, 2.49, 0.007 was "still improving
    # at the end" because its best was next to the end, though the last evaluation gave back all of it.
    h = history(decay(50, 0.33, 0.24, 3.0), every=10)
    h.eval["val_bleu"] = Series([10.0, 20.0, 30.0, 40.0, 50.0], [0.0, 0.0, 0.18, 2.49, 0.007])
    h.hints.metric, h.hints.mode = "val_bleu", "max"
    assert "still_improving" not in [f.rule for f in run_checks(h)[0]]
    # The best next to the end with the last evaluation near it still counts.
    h.eval["val_bleu"] = Series([10.0, 20.0, 30.0, 40.0, 50.0], [0.0, 0.5, 1.2, 2.49, 2.47])
    assert "still_improving" in [f.rule for f in run_checks(h)[0]]


def test_the_passes_over_the_data_are_counted_from_the_logs_epoch_index() -> None:
    # Lightning and Keras write the epoch index from 0: epochs 0 and 1 are two passes, where HF's fractional 1.0 is one.
    h = history(decay(20), decay(4), every=5)
    h.epochs = Series([5.0, 10.0, 15.0, 20.0], [0.0, 0.0, 1.0, 1.0])
    assert _passes(h) == 2
    h.epochs = Series([5.0, 10.0, 15.0, 20.0], [0.25, 0.5, 0.75, 1.0])
    assert _passes(h) == 1
    h.hints.epochs = 3.0
    assert _passes(h) == 3


# ---- a spike jumps up from the values before it ---------------------------------------------------------------------


def test_the_second_log_of_a_steep_early_descent_is_not_a_spike() -> None:
    # test6 (a 750-step Lightning run logging a per-step loss every 50 steps, labelled healthy): 5.17, 3.90, 1.17, 1.10,
    # 0.66 ... read 3.90 as a spike (2x the running median there) though the loss was falling into it from 5.17.
    values = [5.17, 3.90, 1.17, 1.10, 0.66, 0.88, 0.61, 0.71, 0.82, 0.75, 0.80, 0.70, 0.55, 0.61, 0.85]
    assert run_checks(history(values), ["spikes"])[0] == []
    # The same run with a jump up from its level is a spike.
    values[9] = 3.2
    assert [f.rule for f in run_checks(history(values), ["spikes"])[0]] == ["spikes"]
