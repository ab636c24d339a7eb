"""The TrainingArguments beside an HF trainer_state.json: read without torch, never executed, and used to
compare the logged LR with the configured one (lr_mismatch), fixes in TrainingArguments' names."""

from __future__ import annotations

import enum
import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trainwell.doctor import diagnose, read_history
from trainwell.doctor.checks import run_checks
from trainwell.doctor.readers.hf_args import read_bin


class SchedulerType(enum.Enum):  # stands for transformers' enum: pickled as REDUCE(SchedulerType, ('cosine',))
    COSINE = "cosine"


@dataclass
class TrainingArguments:  # stands for transformers' dataclass: pickled as NEWOBJ + BUILD(state dict)
    learning_rate: float
    lr_scheduler_type: SchedulerType
    warmup_ratio: float
    metric_for_best_model: str
    greater_is_better: bool
    output_dir: str = "out"


def _torch_style_bin(path: Path, obj: Any) -> Path:
    """A zip laid out as torch.save writes one (``<name>/data.pkl`` beside version files)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("training_args/data.pkl", pickle.dumps(obj, protocol=2))
        archive.writestr("training_args/version", "3\n")
    return path


def test_a_training_args_bin_is_read_for_its_fields_without_resolving_any_class(tmp_path: Path) -> None:
    args = TrainingArguments(3e-5, SchedulerType.COSINE, 0.1, "f1", True)
    found = read_bin(_torch_style_bin(tmp_path / "training_args.bin", args))
    assert found == {
        "learning_rate": 3e-5,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "metric_for_best_model": "f1",
        "greater_is_better": True,
    }


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = _torch_style_bin(tmp_path / "training_args.bin", {"learning_rate": _Evil()})
    assert read_bin(path) is None  # a dict is not a TrainingArguments object: nothing to read
    (tmp_path / "other.bin").write_bytes(b"not a zip")
    assert read_bin(tmp_path / "other.bin") is None
    with zipfile.ZipFile(tmp_path / "bomb.bin", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("training_args/data.pkl", b"\0" * (4 << 20))  # 4 MiB of zeros inflates from a few KiB
    assert (tmp_path / "bomb.bin").stat().st_size < 100_000 and read_bin(tmp_path / "bomb.bin") is None
    assert not (tmp_path / "pwned").exists()


def _state(folder: Path, lrs: list[tuple[int, float]], max_steps: int, evals: list[tuple[int, float, float]] | None = None) -> Path:
    records: list[dict[str, Any]] = [{"step": s, "loss": 2.0 / (1 + i), "learning_rate": lr} for i, (s, lr) in enumerate(lrs)]
    records += [{"step": s, "eval_loss": loss, "eval_f1": f1} for s, loss, f1 in evals or []]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": records, "max_steps": max_steps}))
    return folder


def _args(folder: Path, **fields: Any) -> None:
    (folder / "training_args.json").write_text(json.dumps({"learning_rate": 5e-5, "lr_scheduler_type": "linear", **fields}))


def test_a_config_that_was_not_applied_is_reported_in_training_arguments_terms(tmp_path: Path) -> None:
    # The run was given 1e-5 (its folder says so) but the Trainer ran at the 5e-5 default: shared log Nicolassalvan Etape1's story.
    run = _state(tmp_path / "run", [(s, 5e-5 * (1000 - s) / 1000) for s in range(50, 1000, 50)], 1000)
    _args(run, learning_rate=1e-5, warmup_steps=0)
    found = next(f for f in diagnose(run).findings if f.rule == "lr_mismatch")
    assert "above the configured 1e-05" in found.message
    assert "TrainingArguments(learning_rate=1e-05)" in found.fix


def test_a_sparsely_logged_decay_is_compared_with_what_its_schedule_gives(tmp_path: Path) -> None:
    # Three logs of a linear decay from 3e-5 over 80 steps: the logged peak (2.06e-5) is 0.69x the configured LR, and right.
    lrs = [(s, 3e-5 * (80 - s) / 80) for s in (25, 50, 75)] + [(s, 3e-5 * (80 - s) / 80) for s in (76, 77)]
    run = _state(tmp_path / "ok", lrs, 80)
    _args(run, learning_rate=3e-5, warmup_steps=0)
    assert run_checks(read_history(run), ["lr_mismatch"])[0] == []
    wrong = _state(tmp_path / "wrong", lrs, 80)
    _args(wrong, learning_rate=6e-5, warmup_steps=0)
    [found], _ = run_checks(read_history(wrong), ["lr_mismatch"])
    assert "below the 4.1e-05 the configured linear schedule" in found.message


def test_metric_for_best_model_names_the_monitored_metric_when_the_state_does_not(tmp_path: Path) -> None:
    run = _state(tmp_path / "run", [(s, 1e-5) for s in range(10, 60, 10)], 50, [(10, 0.5, 0.6), (20, 0.6, 0.7), (30, 0.7, 0.8)])
    _args(run, learning_rate=1e-5, lr_scheduler_type="constant", metric_for_best_model="f1", greater_is_better=True, warmup_ratio=0.1)
    history = read_history(run)
    assert (history.hints.metric, history.hints.mode) == ("val_f1", "max")
    assert history.hints.schedule == "constant" and history.hints.warmup_steps == pytest.approx(5.0)
    assert any("configured (from training_args.json)" in note for note in history.notes)


def test_a_checkpoint_folder_reads_the_arguments_of_its_output_folder(tmp_path: Path) -> None:
    checkpoint = _state(tmp_path / "out" / "checkpoint-40", [(s, 2e-5) for s in range(10, 50, 10)], 100)
    _args(tmp_path / "out", learning_rate=2e-5, lr_scheduler_type="cosine_with_min_lr")
    history = read_history(checkpoint)
    assert history.hints.lr == 2e-5 and history.hints.schedule == "cosine"


@pytest.mark.slow
def test_a_real_training_args_bin_from_torch_save(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    args = transformers.TrainingArguments(output_dir=str(tmp_path), learning_rate=7e-6, lr_scheduler_type="cosine", warmup_steps=30)
    torch.save(args, tmp_path / "training_args.bin")
    found = read_bin(tmp_path / "training_args.bin")
    assert found is not None
    assert (found["learning_rate"], found["lr_scheduler_type"], found["warmup_steps"]) == (7e-6, "cosine", 30)
