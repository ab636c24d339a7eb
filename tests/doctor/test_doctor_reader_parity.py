"""Reader parity (issue M): one run saved in each of its formats gives the same findings, read from the same series.

One synthetic run per tool, written the way that tool (or its users) saves it: an HF log_history as trainer_state.json,
as the bare list and as the CSV pandas writes; a Keras History as JSON, as per-epoch records, as CSVLogger's file and as
the TensorBoard callback's train/ and validation/ event files; a Lightning run as CSVLogger's metrics.csv and as
TensorBoardLogger's events. The trainwell run folder against its own tb/ events is test_doctor_parity.py's.
Everything is written in tmp_path; the event files with tensorboard's own writer (no torch)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from trainwell.doctor import Diagnosis, diagnose, read_history
from trainwell.doctor.readers import sniff_format


def write_events(folder: Path, scalars: list[tuple[str, int, float]]) -> Path:
    """An event file holding (tag, step, value) scalars, as any TensorBoard writer leaves it."""
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    for tag, step, value in scalars:
        writer.add_event(Event(step=step, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)])))
    writer.close()
    return folder


def write_csv(path: Path, rows: list[dict[str, Any]], index: bool = False, header: list[str] | None = None) -> Path:
    """Rows as a CSV with a column per key (blank where a row has none); ``index``: pandas' unnamed index column first."""
    keys = header or list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(([""] if index else []) + keys)
        for number, row in enumerate(rows):
            writer.writerow(([number] if index else []) + [row.get(k, "") for k in keys])
    return path


def signature(d: Diagnosis) -> dict[str, Any]:
    """What must match across formats: the findings (rule, severity, step) and the series each was read from."""
    h = d.history
    return {
        "findings": [(f.rule, f.severity, f.step) for f in d.findings],
        "x_unit": h.x_unit,
        "series": {name: (s.steps, s.values) for name, s in {"train_loss": h.train_loss, **h.eval}.items()},
        "train_metrics": sorted(h.train_metrics),
        "lr": h.lr.steps,
    }


def assert_same(formats: dict[str, Path], reference: str, sources: dict[str, str]) -> Diagnosis:
    base = diagnose(formats[reference])
    assert base.findings, "the reference run must have something to find, or parity says little"
    expected = signature(base)
    for name, path in formats.items():
        d = diagnose(path)
        assert d.history.source == sources[name], name
        got = signature(d)
        assert sorted(got.pop("series").items()) == [
            (key, (steps, pytest.approx(values, rel=1e-6))) for key, (steps, values) in sorted(expected["series"].items())
        ], name
        assert got == {k: v for k, v in expected.items() if k != "series"}, name
    return base


# ---- Hugging Face: trainer_state.json, the bare log_history list, its CSV --------------------------------------------


def _hf_records() -> list[dict[str, Any]]:
    """400 steps, a train record every 10, an evaluation every 40 whose loss turns up after step 200: overfitting."""
    records: list[dict[str, Any]] = []
    for step in range(10, 401, 10):
        epoch = round(step / 40, 4)
        loss = round(2.0 * math.exp(-step / 80) + 0.02, 4)
        records.append(
            {"epoch": epoch, "grad_norm": 1.0 + step / 400, "learning_rate": 5e-5 * (1 - step / 400), "loss": loss, "step": step}
        )
        if step % 40 == 0:
            eval_loss = round(0.8 + 0.6 * ((step - 160) / 240) ** 2, 4)
            records.append(
                {
                    "epoch": epoch,
                    "eval_accuracy": round(0.8 - 0.1 * abs(step - 160) / 240, 4),
                    "eval_loss": eval_loss,
                    "eval_runtime": 1.5,
                    "step": step,
                }
            )
    records.append(
        {"epoch": 10.0, "step": 400, "total_flos": 1e12, "train_loss": 0.4, "train_runtime": 60.0, "train_samples_per_second": 5.0}
    )
    return records


def test_an_hf_log_history_reads_the_same_from_trainer_state_its_bare_list_and_its_csv(tmp_path: Path) -> None:
    records = _hf_records()
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 400, "log_history": records}), encoding="utf-8")
    (tmp_path / "log_history.json").write_text(json.dumps(records), encoding="utf-8")
    formats = {
        "trainer_state": tmp_path / "trainer_state.json",
        "bare-list": tmp_path / "log_history.json",
        "pandas-csv": write_csv(tmp_path / "log_history.csv", records, index=True),
        "plain-csv": write_csv(tmp_path / "plain.csv", records),
    }
    # The source says what was read; every form is an HF Trainer's log, so the fixes use TrainingArguments' names.
    sources = {
        "trainer_state": "hf-trainer-state",
        "bare-list": "hf-log-history",
        "pandas-csv": "hf-log-history-csv",
        "plain-csv": "hf-log-history-csv",
    }
    base = assert_same(formats, "trainer_state", sources)
    assert base.main_finding is not None and base.main_finding.rule == "overfitting"
    csv_history = read_history(formats["pandas-csv"])
    assert "train_loss" not in csv_history.extra  # the closing summary row is skipped, as in the JSON
    assert sniff_format(formats["pandas-csv"]).name == "hf"  # type: ignore[union-attr]
    assert {"TrainingArguments" in diagnose(path).findings[0].fix for path in formats.values()} == {True}


def test_a_csv_with_hf_like_names_beside_its_own_columns_is_not_taken_for_hf(tmp_path: Path) -> None:
    # loss, learning_rate, step and epoch, but also a column the Trainer never writes: a hand-written loop's log.
    rows = [{"step": s, "epoch": s // 10, "loss": 2.0 / s, "learning_rate": 1e-3, "my_metric": 0.5} for s in range(1, 41)]
    path = write_csv(tmp_path / "log.csv", rows)
    assert sniff_format(path).name == "lightning"  # type: ignore[union-attr]
    assert read_history(path).source == "csv"  # and not Lightning's either: that is a metrics.csv


# ---- Keras: History JSON, per-epoch records, CSVLogger, TensorBoard callback ------------------------------------------

_EPOCHS = 20
_KERAS = {
    "loss": [round(1.2 * 0.85**e + 0.1, 5) for e in range(_EPOCHS)],
    "accuracy": [round(0.5 + 0.45 * (1 - 0.85**e), 5) for e in range(_EPOCHS)],
    "val_loss": [round(0.7 + 0.02 * (e - 7) ** 2, 5) for e in range(_EPOCHS)],
    "val_accuracy": [round(0.8 - 0.004 * abs(e - 7), 5) for e in range(_EPOCHS)],
}


def test_a_keras_history_reads_the_same_from_json_records_csvlogger_and_tensorboard(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(json.dumps(_KERAS), encoding="utf-8")
    records = [{"epoch": e + 1, **{k: v[e] for k, v in _KERAS.items()}} for e in range(_EPOCHS)]
    (tmp_path / "records.json").write_text(json.dumps(records), encoding="utf-8")
    # CSVLogger: 'epoch' (from 0) first, then the metric names sorted.
    logged = [{"epoch": e, **{k: _KERAS[k][e] for k in sorted(_KERAS)}} for e in range(_EPOCHS)]
    write_csv(tmp_path / "training_log.csv", logged)
    # A hand-written loop's CSV of the same run counting its epochs from 1, with its own column order.
    write_csv(tmp_path / "custom.csv", [{"epoch": e + 1, "train_loss": _KERAS["loss"][e], "val_loss": _KERAS["val_loss"][e],
                                         "train_acc": _KERAS["accuracy"][e], "val_acc": _KERAS["val_accuracy"][e]} for e in range(_EPOCHS)])  # fmt: skip
    # The TensorBoard callback: logs/train and logs/validation, epoch_<metric> tags at the 0-based epoch.
    for side, prefix in (("train", ""), ("validation", "val_")):
        write_events(
            tmp_path / "logs" / side, [(f"epoch_{m}", e, _KERAS[prefix + m][e]) for m in ("loss", "accuracy") for e in range(_EPOCHS)]
        )
    formats = {
        "history": tmp_path / "history.json",
        "records": tmp_path / "records.json",
        "csvlogger": tmp_path / "training_log.csv",
        "custom-csv": tmp_path / "custom.csv",
        "tensorboard": tmp_path / "logs",
    }
    sources = {
        "history": "keras-history",
        "records": "keras-history",
        "csvlogger": "keras-csv",
        "custom-csv": "csv",
        "tensorboard": "keras-tensorboard",
    }
    base = assert_same(formats, "history", sources)
    # Every Keras form gets its fixes in Keras' names; the hand-written loop's CSV in trainwell's.
    fixes = {name: diagnose(path).findings[0].fix for name, path in formats.items()}
    assert all("keras.callbacks.EarlyStopping" in fixes[name] for name in ("history", "records", "csvlogger", "tensorboard")), fixes
    assert fixes["custom-csv"].startswith("early_stopping.patience"), fixes
    assert base.history.x_unit == "epoch" and base.history.eval["val_loss"].steps[:2] == [1.0, 2.0]
    assert base.main_finding is not None and base.main_finding.rule == "overfitting"


# ---- Lightning: CSVLogger metrics.csv and TensorBoardLogger events --------------------------------------------------


def _lightning_logs() -> list[tuple[str, int, float]]:
    """(name, step, value) as Lightning logs them: train_loss_step every 10 steps, and at each epoch's end (50 steps)
    val_loss, val_acc and train_loss_epoch, with the epoch beside every value. The val loss turns after epoch 6."""
    logs: list[tuple[str, int, float]] = []
    for step in range(9, 1000, 10):
        logs += [("train_loss_step", step, 2.0 * math.exp(-step / 250) + 0.05), ("epoch", step, step // 50)]
    for epoch in range(20):
        end = 50 * epoch + 49
        logs += [
            ("val_loss", end, 0.6 + 0.01 * (epoch - 6) ** 2),
            ("val_acc", end, 0.85 - 0.003 * abs(epoch - 6)),
            ("train_loss_epoch", end, 2.0 * math.exp(-end / 250) + 0.05),
            ("epoch", end, epoch),
        ]
    return logs


def test_a_lightning_run_reads_the_same_from_metrics_csv_and_its_tensorboard_events(tmp_path: Path) -> None:
    logs = _lightning_logs()
    version = tmp_path / "lightning_logs" / "version_0"
    version.mkdir(parents=True)
    # CSVLogger: one row per log call and step, epoch on each; the val and train rows of a step are separate rows.
    rows = []
    for name, step, value in logs:
        if name != "epoch":
            rows.append({"epoch": step // 50, "step": step, name: value})
    header = ["epoch", "step", "train_loss_epoch", "train_loss_step", "val_acc", "val_loss"]
    write_csv(version / "metrics.csv", rows, header=header)
    write_events(tmp_path / "tb" / "lightning_logs" / "version_0", logs)
    formats = {"csv": version / "metrics.csv", "version-folder": version, "tensorboard": tmp_path / "tb" / "lightning_logs" / "version_0"}
    sources = {"csv": "lightning-csv", "version-folder": "lightning-csv", "tensorboard": "tensorboard"}
    base = assert_same(formats, "csv", sources)
    assert base.main_finding is not None and base.main_finding.rule == "overfitting"
    assert base.history.train_loss.steps[0] == 9.0  # the per-step loss, not the 20 epoch means
