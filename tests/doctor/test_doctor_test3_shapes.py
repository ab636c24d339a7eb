"""The shapes test3 of benchmarks/doctor_corpus showed the doctor misreading (issue M): each test builds the shape
synthetically, small and deterministic, and checks the generic rule that now reads it right."""

from __future__ import annotations

import json
from pathlib import Path

from test_doctor_checks import series

from trainwell.doctor import History, Severity, diagnose, run_checks
from trainwell.doctor.checks.base import mode_of
from trainwell.doctor.readers import read_history


def _rules(h: History) -> list[str]:
    return [f.rule for f in diagnose(h).findings]


# ---- readers -----------------------------------------------------------------------------------------------------


def test_a_history_kept_as_a_list_of_per_epoch_records_is_read(tmp_path: Path) -> None:
    records = [{"epoch": i + 1, "train_cos": 0.6 + 0.01 * i, "val_cos": 0.65 + 0.008 * i} for i in range(12)]
    path = tmp_path / "training_history.json"
    path.write_text(json.dumps(records))
    h = read_history(path)
    assert h.source == "json-history" and h.x_unit == "epoch"  # no Keras "loss" key: a hand-written loop's history
    assert h.eval["val_cos"].values[-1] == records[-1]["val_cos"] and len(h.epochs) == 12
    assert mode_of("val_cos") == "max" and mode_of("val_r2") == "max" and mode_of("val_mape") == "min" and mode_of("cost") == "min"


def test_a_per_batch_loss_column_is_the_train_loss_and_its_nan_is_reported(tmp_path: Path) -> None:
    rows = ["train_loss_batch,epoch,step"] + [f"{25 + (i * 7) % 5},0,{50 * i + 49}" for i in range(20)] + ["nan,0,1049"]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    d = diagnose(tmp_path / "metrics.csv")
    assert len(d.history.train_loss) == 21
    assert d.main_finding is not None and d.main_finding.rule == "nan_inf"


def test_accuracy_zeros_from_a_metric_never_updated_are_not_read_as_accuracy(tmp_path: Path) -> None:
    # Lightning rows: per-epoch train accuracy rising to 0.98, a twin '_epoch' column at 0.0 throughout, and a last row
    # (logged at the test stage) whose accuracy is 0.0: none of the zeros is a measurement.
    rows = ["step,train_loss_step,epoch,train_acc_step,train_acc_step_epoch"]
    for epoch in range(10):
        rows += [f"{epoch * 250 + 49 + 50 * i},{1.5 / (epoch + 1 + i / 5)},{epoch},," for i in range(4)]
        rows.append(f"{epoch * 250 + 249},,{epoch},{0.6 + 0.04 * epoch},0.0")
    rows.append("2500,,10,0.0,")
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    d = diagnose(tmp_path / "metrics.csv")
    assert d.history.train_metrics["accuracy"].values[-1] == 0.6 + 0.04 * 9
    assert "acc_step" not in d.history.train_metrics and "acc_step" in d.history.extra
    assert "underfitting" not in [f.rule for f in d.findings]


def test_a_held_out_accuracy_at_zero_throughout_is_kept() -> None:
    # With no other accuracy column a 0.0 throughout is a measurement (labels shifted against the inputs).
    from trainwell.doctor.readers.base import Collector

    collector = Collector()
    for epoch in range(1, 9):
        collector.add("loss", epoch, 1.0 / epoch)
        collector.add("val_loss", epoch, 1.0 + epoch)
        collector.add("val_accuracy", epoch, 0.0)
    h = collector.build(History(source="keras-history", x_unit="epoch"))
    assert h.eval["val_accuracy"].values == [0.0] * 8


# ---- zero loss: near zero means something only for a cross-entropy ----------------------------------------------


def test_a_small_bare_loss_near_zero_from_the_first_evaluation_is_not_leakage() -> None:
    # A regression on targets of scale 0.01 logging only 'train_loss'/'val_loss': its MSE is below 1e-3 from the first
    # evaluation and halves every epoch. Nothing says it is a cross-entropy, so nothing says it leaks.
    train = [0.08 * 0.8**i for i in range(28)]
    val = [7.4e-4 * 0.45**i for i in range(5)]
    h = History(source="lightning-csv")
    h.train_loss = series(train, 19, 20)
    h.eval["val_loss"] = series(val, 113, 114)
    h.finish()
    assert "zero_loss" not in _rules(h)
    h.eval["val_accuracy"] = series([0.9995] * 5, 113, 114)  # a classifier: 99.95% confidence at once is leakage
    assert diagnose(h).main_finding.rule == "zero_loss"  # type: ignore[union-attr]


# ---- oscillation, spikes and turns on plateaus --------------------------------------------------------------------


def _with_val(train: list[float], val: list[float], every: int = 10) -> History:
    h = History(source="keras-history", x_unit="epoch")
    h.train_loss = series(train, 1, 1)
    h.eval["val_loss"] = series(val, every, every)
    return h.finish()


def _jitter(n: int, level: float, amplitude: float) -> list[float]:
    """A deterministic noise band: level +- amplitude, no period the oscillation check could lock on to."""
    return [level + amplitude * (((i * 7919) % 13) / 6 - 1) for i in range(n)]


def test_evaluation_noise_on_a_plateau_is_not_oscillation() -> None:
    # 2303A52442's and 10wins13's shape: a fast drop, then the val loss wanders in a band far smaller than the progress.
    train = [2.0 * 0.97**i + 0.4 for i in range(200)]
    val = [1.85, 0.43, 0.62, 0.37, 0.49, 0.49, 0.42, 0.41, 0.40]
    h = _with_val(train[:9], val, every=1)
    assert "oscillation" not in _rules(h)
    long = _with_val(train, [0.71, 0.66, *_jitter(198, 0.62, 0.008)], every=1)
    assert "oscillation" not in _rules(long)
    # 0.71 -> 0.62 (13% below its first value) and flat for the last half: a stall at a poor level (rule 9 of the
    # corpus label rules; 10wins13 is labelled plateau), which supersedes the saturating reading of the same plateau.
    assert diagnose(long).main_finding.rule == "no_progress"  # type: ignore[union-attr]
    # Swings that undo most of the progress are still oscillation.
    swinging = _with_val(train[:12], [1.0, 0.6, 0.9, 0.5, 0.85, 0.45, 0.8, 0.4, 0.7, 0.38, 0.65, 0.36], every=1)
    assert "oscillation" in _rules(swinging)


def test_a_small_turn_after_an_early_plateau_is_the_plateau_not_overfitting() -> None:
    # DCTrading24's training run: the val loss is near its best by 30% of the run, then wanders 0-17% above it.
    val = [0.0368, 0.0507, 0.0247, 0.0220, 0.0236, 0.0227, 0.0226, 0.0245, 0.0258, 0.0254, 0.0233]
    train = [0.167, 0.0395, 0.0287, 0.0292, 0.0231, 0.0297, 0.028, 0.0248, 0.026, 0.0246, 0.0245]
    h = _with_val(train, val, every=1)
    assert "overfitting" not in _rules(h) and diagnose(h).main_finding.rule == "saturating"  # type: ignore[union-attr]
    # The same small turn late in a run that improved until then is the first sign of overfitting (7Sumant's shape).
    late = _with_val(
        [1.3, 0.42, 0.26, 0.18, 0.13, 0.11, 0.086, 0.072, 0.059, 0.057],
        [0.48, 0.34, 0.23, 0.155, 0.205, 0.151, 0.110, 0.120, 0.131, 0.127],
        every=1,
    )
    assert diagnose(late).main_finding.rule == "overfitting"  # type: ignore[union-attr]


def test_a_blow_up_the_run_recovered_from_is_a_val_spike_not_overfitting() -> None:
    # DCTrading24's fine-tune: val loss ~0.002, 17 and 23 for two epochs (val accuracy at chance), back to 0.0013.
    val = [0.51, 0.197, 0.0045, 0.0162, 0.0162, 0.00105, 0.00233, 17.2, 23.4, 14.3, 3.45, 0.27, 0.06, 0.023, 0.035, 0.0013]
    train = [0.106, 0.0129, 0.0155, 0.0088, 0.0028, 0.0005, 0.0026, 0.061, 0.052, 0.0042, 0.0002, 0.0034, 0.0014, 0.0019, 0.0006, 0.0002]
    h = _with_val(train, val, every=1)
    h.eval["val_accuracy"] = series(
        [0.98, 0.978, 0.998, 0.99, 0.995, 1.0, 0.999, 0.503, 0.501, 0.626, 0.887, 0.973, 0.99, 0.992, 0.994, 0.999]
    )
    d = diagnose(h)
    assert "overfitting" not in [f.rule for f in d.findings]
    spike = next(f for f in d.findings if f.rule == "val_spikes")
    assert "23.4" in spike.message and "for 3 evaluations" in spike.message
    assert spike.severity == Severity.INFO and "harmless so far" in spike.message  # val_accuracy ends at its best
    # A rise that lasts to the end is overfitting.
    lasting = _with_val(train, [*val[:7], 0.004, 0.006, 0.008, 0.01, 0.012, 0.014, 0.016, 0.018, 0.02], every=1)
    assert diagnose(lasting).main_finding.rule == "overfitting"  # type: ignore[union-attr]


# ---- still improving without an evaluation ----------------------------------------------------------------------


def test_a_noisy_train_only_loss_still_falling_at_the_end_is_still_improving() -> None:
    # 0Xero7's aborted LM epoch: per-step losses 9.7 -> 6.3 with batch noise of +-0.15 that hides the smoothed minimum.
    trend = [6.2 + 3.5 * (1 + i / 8) ** -0.9 for i in range(136)]
    wobble = [0.15 * (((i * 7919) % 11) / 5 - 1) for i in range(136)]
    h = History(source="lightning-csv")
    h.train_loss = series([a + b for a, b in zip(trend, wobble)], 49, 50)
    h.finish()
    found = next(f for f in diagnose(h).findings if f.rule == "still_improving")
    assert "Mann-Kendall" in found.message and "max_steps" in found.fix
    # The same noise around a level that stopped falling is no finding of that kind.
    flat = History(source="lightning-csv")
    flat.train_loss = series([*trend[:45], *[trend[45] + w for w in wobble[45:]]], 49, 50)
    flat.finish()
    assert "still_improving" not in _rules(flat)


def test_a_plateau_is_measured_from_the_level_the_curve_settled_at_not_its_luckiest_evaluation() -> None:
    # 10wins13's regression: 200 evaluations, 0.71 -> 0.62 by evaluation 25, then a band of +-0.006 around 0.618 whose
    # luckiest evaluation (0.606) would put the "95% of the improvement" line inside the noise, crossed late by chance.
    creep = [0.71, 0.66, *[0.64 - 0.02 * i / 23 for i in range(23)]]
    band = [0.618 + 0.006 * (((i * 7919) % 13) / 6 - 1) for i in range(175)]
    band[150] = 0.606
    train = [0.6 * 0.98**i + 0.41 for i in range(200)]
    h = _with_val(train, [*creep, *band], every=1)
    # saturating alone: on this log no_progress (a stall 13% below the first value) supersedes it in diagnose.
    found = next(f for f in run_checks(h, ["saturating"])[0] if f.rule == "saturating")
    assert found.step is not None and found.step <= 0.3 * 200


def test_saturating_offers_no_patience_the_run_already_has() -> None:
    # trainwell's default digits run (early_stopping.patience 5) was told "or early_stopping.patience: 5".
    creep = [0.71, 0.66, *[0.64 - 0.02 * i / 23 for i in range(23)]]
    band = [0.618 + 0.006 * (((i * 7919) % 13) / 6 - 1) for i in range(175)]
    train = [0.6 * 0.98**i + 0.41 for i in range(200)]
    without, tight = _with_val(train, [*creep, *band], every=1), _with_val(train, [*creep, *band], every=1)
    tight.hints.patience = 5
    fixes = [next(f for f in run_checks(h, ["saturating"])[0] if f.rule == "saturating").fix for h in (without, tight)]
    assert "patience" in fixes[0] and "patience" not in fixes[1], fixes


def test_val_spikes_scan_a_long_evaluation_history_in_one_pass() -> None:
    # 3,000 evaluations of a falling val loss with eval noise and one blow-up two evaluations wide: found once, and
    # each start is scanned only while the excursion could still qualify (a slice-min per end took seconds here).
    from trainwell.doctor.checks.stability import val_excursions

    values = [1.0 / (1 + i / 50) + 0.01 * (((i * 7919) % 13) / 12) for i in range(3000)]
    values[1500:1502] = [5.0, 6.0]
    assert val_excursions(values) == [(1500, 1502)]
    assert val_excursions([1.0, *[5.0] * 3000]) == []  # a jump that never comes back is no spike
