"""Every registered log reader on a small sample of its format, plus the partial and unknown logs that
must degrade with a note (or a DataError naming the file), never crash. Driven from READERS."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from trainwell.doctor import READERS, diagnose, read_history
from trainwell.doctor.readers import sniff_format
from trainwell.errors import DataError

HF_STATE = """{
  "global_step": 40, "max_steps": 40, "num_train_epochs": 2,
  "stateful_callbacks": {"EarlyStoppingCallback": {"args": {"early_stopping_patience": 4}}},
  "log_history": [
    {"epoch": 0.5, "grad_norm": 1.5, "learning_rate": 5e-05, "loss": 2.1, "step": 10},
    {"epoch": 1.0, "eval_loss": NaN, "eval_accuracy": 0.5, "eval_runtime": 1.2, "step": 20},
    {"epoch": 1.0, "grad_norm": Infinity, "learning_rate": 2.5e-05, "loss": 1.7, "step": 20},
    {"epoch": 2.0, "eval_loss": 0.9, "eval_accuracy": 0.7, "eval_runtime": 1.1, "step": 40},
    {"epoch": 2.0, "step": 40, "train_loss": 1.9, "train_runtime": 10.0, "total_flos": 1.0}
  ]
}"""


def write_trainwell(folder: Path) -> Path:
    folder.mkdir()
    rows = [
        {
            "event": "train",
            "step": s,
            "epoch": s / 10,
            "lr": 1e-3,
            "loss": 2.3 - 0.1 * s / 5,
            "grad_norm": 1.0,
            "samples": 32 * s,
            "time": s,
        }
        for s in range(5, 41, 5)
    ]
    rows += [
        {"event": "eval", "step": s, "epoch": s / 10, "val_loss": 2.0 - s / 40, "val_accuracy": 0.2 + s / 100, "time": s}
        for s in (10, 20, 30, 40)
    ]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{torn", encoding="utf-8")
    (folder / "config.yaml").write_text(
        "task: digits\noptimizer: {lr: '3e-4', weight_decay: 0.01}\nschedule: {name: cosine, warmup: 0.1}\n"
        "training: {epochs: 4, max_grad_norm: 1.0}\nevaluation: {strategy: epoch, every: 1, metric: val_loss, mode: min}\n"
        "early_stopping: {patience: 3}\n",
        encoding="utf-8",
    )
    (folder / "summary.json").write_text(json.dumps({"status": "completed", "stop_reason": "finished"}), encoding="utf-8")
    return folder


def write_hf(folder: Path) -> Path:
    path = folder / "trainer_state.json"
    path.write_text(HF_STATE, encoding="utf-8")
    return path


def write_lightning(folder: Path) -> Path:
    path = folder / "metrics.csv"
    path.write_text(
        "lr-Adam,step,train_loss_step,epoch,val_loss,val_acc,train_loss_epoch\n"
        "0.001,9,,,,,\n,9,2.2,0,,,\n,19,1.9,0,,,\n,19,,0,1.8,0.40,\n,19,,0,,,2.0\n,29,1.6,1,,,\n,39,1.4,1,,,\n,39,,1,1.5,0.55,\n",
        encoding="utf-8",
    )
    return path


def write_keras(folder: Path) -> Path:
    path = folder / "history.json"
    data = {
        "loss": [1.0, 0.8, 0.6],
        "val_loss": [1.1, 0.9, 0.95],
        "val_acc": [40.0, 55.0, 54.0],
        "lr": [1e-3] * 3,
        "classes": ["a", "b", "c"],
        "model": "x",
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_tensorboard(folder: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder / "tb"))
    for step in range(1, 9):
        writer.add_scalar("train/loss", 2.0 / step, step)
        writer.add_scalar("train/learning_rate", 1e-3, step)
        if step % 4 == 0:
            writer.add_scalar("eval/loss", 1.5 / step, step)
    writer.close()
    return folder / "tb"


SAMPLES: dict[str, Callable[[Path], Path]] = {
    "trainwell": lambda tmp: write_trainwell(tmp / "run"),
    "hf": write_hf,
    "lightning": write_lightning,
    "keras": write_keras,
    "tensorboard": write_tensorboard,
}


def test_every_reader_has_a_sample() -> None:
    assert set(SAMPLES) == set(READERS.names())


@pytest.mark.parametrize("name", READERS.names())
def test_reader_sniffs_and_reads_its_sample(tmp_path: Path, name: str) -> None:
    path = SAMPLES[name](tmp_path)
    assert sniff_format(path) is READERS.get(name)
    history = read_history(path)
    assert history.train_loss, history.notes
    assert history.train_loss.steps == sorted(history.train_loss.steps)
    assert "val_loss" in history.eval
    diagnose(history)  # must not raise on any format


def test_trainwell_run_reads_config_hints(tmp_path: Path) -> None:
    h = read_history(write_trainwell(tmp_path / "run"))
    assert h.source == "trainwell-run"
    assert (h.hints.num_classes, h.hints.patience, h.hints.max_grad_norm, h.hints.lr) == (10, 3, 1.0, 3e-4)
    assert h.hints.eval_every == 10  # strategy epoch x 10 steps per epoch
    assert h.hints.planned_steps == 40 and h.hints.warmup_steps == pytest.approx(4.0)
    assert any("not JSON" in n for n in h.notes) and any("run ended" in n for n in h.notes)
    assert len(h.train_loss) == 8 and len(h.eval["val_accuracy"]) == 4


def test_hf_nan_tokens_and_closing_summary(tmp_path: Path) -> None:
    h = read_history(write_hf(tmp_path))
    assert h.train_loss.values == [2.1, 1.7]  # the closing train_loss average is not a log point
    assert math.isnan(h.eval_loss.values[0]) and math.isinf(h.grad_norm.values[1])
    assert "val_runtime" not in h.eval and h.hints.patience == 4
    assert diagnose(h).main_finding.rule == "nan_inf"  # type: ignore[union-attr]


def test_hf_output_folder_uses_latest_checkpoint(tmp_path: Path) -> None:
    for step in (100, 20):
        (tmp_path / f"checkpoint-{step}").mkdir()
        write_hf(tmp_path / f"checkpoint-{step}")
    assert read_history(tmp_path).path.endswith("checkpoint-100/trainer_state.json")


def test_lightning_sparse_rows(tmp_path: Path) -> None:
    h = read_history(write_lightning(tmp_path))
    assert h.train_loss.values == [2.2, 1.9, 1.6, 1.4]  # train_loss_step has more points than train_loss_epoch
    assert h.eval["val_accuracy"].values == [0.40, 0.55] and h.lr.values == [0.001]
    assert "train_loss_epoch" in h.extra


def test_keras_percent_accuracy_and_metadata(tmp_path: Path) -> None:
    h = read_history(write_keras(tmp_path))
    assert h.x_unit == "epoch" and h.eval["val_accuracy"].values == [0.40, 0.55, 0.54]
    assert h.hints.num_classes == 3
    assert any("percentage" in n for n in h.notes) and any("metadata" in n for n in h.notes)


@pytest.mark.parametrize(
    "name, text",
    [
        ("only_eval.json", '{"log_history": [{"eval_loss": 1.0, "step": 5}]}'),
        ("gan.json", '{"G_loss": [3.0, 2.0, 1.5], "D_loss": [0.5, 0.6, 0.4]}'),
        ("one.csv", "epoch,loss\n0,1.0\n"),
    ],
)
def test_partial_logs_degrade_with_a_note(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = diagnose(path)
    # A single evaluation is stated (few_evals, info), never judged; nothing else is claimed from so little.
    assert [f.rule for f in result.findings] in ([], ["few_evals"]) and result.notes and result.skipped


@pytest.mark.parametrize(
    "name, text",
    [
        ("x.txt", "hello"),
        ("broken.json", "{"),
        ("list.json", "[1, 2]"),
        ("x.csv", "a,b\n1,2\n"),
        ("empty_state.json", '{"log_history": []}'),
    ],
)
def test_unknown_files_are_a_data_error(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_history(path)
    assert info.value.problems[0].where == str(path) and info.value.exit_code == 2


def test_missing_path_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="must exist"):
        read_history(tmp_path / "nope")


def test_tensorboard_missing_gives_the_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from trainwell.errors import MissingDependencyError

    events = tmp_path / "events.out.tfevents.1.host"
    events.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto.event_pb2", None)
    with pytest.raises(MissingDependencyError, match=r"trainwell\[tensorboard\]"):
        read_history(events)


def _trainer_state(tmp_path: Path, **extra: object) -> Path:
    import json

    log = [{"loss": 1.0 / (i + 1), "step": 25 * (i + 1), "epoch": i / 10} for i in range(40)]
    for k, (loss, wer) in enumerate([(0.30, 34.6), (0.36, 33.1), (0.42, 32.6), (0.45, 32.0), (0.47, 32.1)]):
        log.append({"eval_loss": loss, "eval_wer": wer, "step": 200 * (k + 1), "epoch": k})
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": log, "max_steps": 1000, "num_train_epochs": 5, **extra}))
    return path


def test_hf_best_checkpoint_names_the_metric_the_run_optimises(tmp_path: Path) -> None:
    from trainwell.doctor import diagnose, read_history

    path = _trainer_state(tmp_path, best_metric=32.0, best_model_checkpoint="./out/checkpoint-800")
    h = read_history(path)
    assert (h.hints.metric, h.hints.mode) == ("val_wer", "min")
    main = diagnose(h).main_finding
    assert main is not None and main.rule == "loss_metric_disagree"
    assert "metric_for_best_model='eval_wer'" in main.fix and "greater_is_better=False" in main.fix


def test_an_unfinished_hf_checkpoint_is_told_to_resume_not_to_double_its_epochs(tmp_path: Path) -> None:
    import json

    from trainwell.doctor import diagnose

    log = [{"loss": 2.0 - 0.001 * i, "step": 2 * (i + 1), "epoch": i / 700} for i in range(700)]
    log += [{"eval_loss": 1.0 - 0.1 * k, "step": 200 * (k + 1), "epoch": k / 7} for k in range(7)]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": log, "max_steps": 10000, "num_train_epochs": 97}))
    found = next(f for f in diagnose(path).findings if f.rule == "still_improving")
    assert "resume_from_checkpoint" in found.fix and "194" not in found.fix
    assert "step 1400 of a planned 10000" in found.message


def test_a_bare_log_history_list_reads_like_its_trainer_state(tmp_path: Path) -> None:
    """``json.dump(trainer.state.log_history, f)`` saves just the list: the same series, no trainer-state hints."""
    state = read_history(write_hf(tmp_path))
    bare = tmp_path / "log_history.json"
    bare.write_text(json.dumps(json.loads(HF_STATE.replace("NaN", "null").replace("Infinity", "1e400"))["log_history"]), encoding="utf-8")
    assert sniff_format(bare) is READERS.get("hf")
    history = read_history(bare)
    assert history.source == "hf-log-history" and history.train_loss.values == state.train_loss.values
    assert history.eval["val_accuracy"].values == [0.5, 0.7]
    assert history.hints.patience is None and any("bare log_history" in note for note in history.notes)
    (tmp_path / "other.json").write_text(json.dumps([{"a": 1}, {"b": 2}]), encoding="utf-8")
    assert sniff_format(tmp_path / "other.json") is None  # a list without step records is not a log


def test_lightning_hparams_yaml_supplies_the_configured_lr(tmp_path: Path) -> None:
    """save_hyperparameters() writes hparams.yaml beside metrics.csv; its lr is what lr_mismatch compares the logged LR with."""
    path = tmp_path / "metrics.csv"
    rows = ["lr-AdamW,step,train_loss_step"] + [f"{1e-2 * (1 - i / 20):.6f},{i},{2.0 - 0.05 * i:.4f}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "hparams.yaml").write_text("lr: 0.001\nweight_decay: 0.01\nhidden: 64\n", encoding="utf-8")
    history = read_history(path)
    assert history.hints.lr == 1e-3 and history.hints.weight_decay == 0.01
    found = next(f for f in diagnose(history).findings if f.rule == "lr_mismatch")
    assert "0.01" in found.message and found.fix.startswith("lr=0.01 in hparams")
    (tmp_path / "hparams.yaml").write_text("lr: [unclosed\n", encoding="utf-8")
    assert any("hparams.yaml ignored" in note for note in read_history(path).notes)


def test_a_json_log_is_parsed_once_and_nothing_stays_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sniffers peek at the file and its reader loads it: one parse (a 3 MB trainer_state.json took 0.07 CPU s each).
    from trainwell.doctor.readers import base

    calls: list[Path] = []
    real = base.read_document

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        calls.append(Path(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(base, "read_document", counting)
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": [{"step": i, "loss": 2.0 / i} for i in range(1, 30)]}))
    assert len(read_history(path).train_loss) == 29 and calls == [path]
    path.write_text(json.dumps({"log_history": [{"step": i, "loss": 1.0 / i} for i in range(1, 10)]}))
    assert len(read_history(path).train_loss) == 9 and calls == [path, path]  # the next read parses the edited file
    assert base._PARSED.get() is None
