"""The shapes test3 of benchmarks/doctor_corpus showed the doctor misreading (issue M): each test builds the shape
synthetically, small and deterministic, and checks the generic rule that now reads it right."""

from __future__ import annotations

import json
from pathlib import Path

from test_doctor_checks import series

from trainwell.doctor import History, diagnose
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
    assert h.source == "keras-history" and h.x_unit == "epoch"
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
