"""Item 5 of issue H: inputs that used to give a silent wrong answer are clear errors (rule, value, fix; exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainwell.cli.main import main


def test_import_refuses_a_trainwell_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It used to print HF's defaults (lr 5e-5, no warmup) for a trainwell file, with exit 0."""
    path = tmp_path / "config.yaml"
    path.write_text("task: digits\noptimizer:\n  lr: 0.01\ntraining:\n  epochs: 3\n", encoding="utf-8")
    assert main(["import", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "it is a trainwell config already" in captured.err


def test_import_refuses_a_file_with_no_hf_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"foo": 1, "bar": {"baz": 2}}), encoding="utf-8")
    assert main(["import", str(path)]) == 2
    assert "must hold HF TrainingArguments keys" in capsys.readouterr().err


def test_import_still_reads_hf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "training_args.json"
    path.write_text(json.dumps({"learning_rate": 1e-4, "num_train_epochs": 2, "per_device_train_batch_size": 8}), encoding="utf-8")
    assert main(["import", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["optimizer"]["lr"] == 1e-4


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    assert "must be a run folder" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_recommend_refuses_one_class(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--num-classes", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "`num_classes >= 2` must hold" in captured.err


def test_doctor_refuses_a_header_only_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,train_loss,val_loss\n", encoding="utf-8")
    assert main(["doctor", str(path)]) == 2
    captured = capsys.readouterr()
    assert "nothing to fix" not in captured.out and "must hold at least one logged value" in captured.err


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.9])
def test_doctor_says_truncated(tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: float) -> None:
    text = json.dumps({"log_history": [{"loss": 2.0 - i / 50, "learning_rate": 1e-4, "step": i} for i in range(1, 50)], "global_step": 49})
    path = tmp_path / "trainer_state.json"
    path.write_text(text[: int(len(text) * cut)], encoding="utf-8")
    assert main(["doctor", str(path)]) == 2
    err = capsys.readouterr().err
    assert "must be complete JSON" in err and "truncated" in err and "supported training log" not in err


@pytest.mark.parametrize("verb", [["recommend"], ["import", "IN"], ["export", "--to", "hf", "optimizer.lr=1e-3"]])
def test_output_onto_a_folder_or_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: list[str]) -> None:
    """Found by the fuzzer: `recommend --output out.png` where out.png is a folder was an IsADirectoryError traceback."""
    source = tmp_path / "training_args.json"
    source.write_text(json.dumps({"learning_rate": 1e-4, "num_train_epochs": 2, "per_device_train_batch_size": 8}), encoding="utf-8")
    argv = [str(source) if a == "IN" else a for a in verb]
    (tmp_path / "folder").mkdir()
    assert main([*argv, "-o", str(tmp_path / "folder")]) == 2
    assert main([*argv, "-o", str(tmp_path / "missing" / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert "that is a folder" in err and "a folder on the path does not exist" in err and "Traceback" not in err
