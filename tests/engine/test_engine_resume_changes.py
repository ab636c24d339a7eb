"""--resume with key=value: what keeps the run meaningful is applied and recorded, what breaks the
checkpoint's meaning is refused and points at --init-from (issue H, item 1)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from tw_engine_helpers import read_jsonl, tiny_config, tiny_model, without_time

from trainwell.cli.main import main
from trainwell.engine.callbacks import Callback
from trainwell.engine.checkpoint import latest_checkpoint, load_model_weights
from trainwell.errors import ConfigError
from trainwell.report.html import write_report
from trainwell.run import train

CFG = tiny_config(
    training={"max_steps": 20}, logging={"every": 1}, evaluation={"every": 5}, checkpoint={"every": 5, "load_best_at_end": False}
)


class Kill(Callback):
    """Stands in for a kill at step 11, after the checkpoint of step 10."""

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        if state.step == 11:
            raise KeyboardInterrupt
        return None


def _first_half(tmp_path: Path) -> Path:
    """A 20-step run killed after its checkpoint at step 10, to be resumed."""
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(CFG, run_dir=run, callbacks=[Kill()])
    return run


def test_a_new_lr_on_resume_is_applied_from_the_current_step_and_recorded(tmp_path: Path) -> None:
    full = train(CFG, run_dir=tmp_path / "full")
    run = _first_half(tmp_path)
    resumed = train({**CFG, "optimizer": {**CFG["optimizer"], "lr": 0.1}}, resume=run)
    base = {r["step"]: r["lr"] for r in full.history if r["event"] == "train"}
    after = {r["step"]: r["lr"] for r in resumed.history if r["event"] == "train"}
    for step in range(1, 11):  # the steps before the resume keep the LR they had
        assert after[step] == base[step]
    for step in range(11, 21):  # after it: the schedule's multiplier times the new peak (was 0.01)
        assert math.isclose(after[step], 10 * base[step], rel_tol=1e-12), step
    assert yaml.safe_load((run / "config.yaml").read_text())["optimizer"]["lr"] == 0.1
    change = {"step": 10, "field": "optimizer.lr", "old": 0.01, "new": 0.1}
    assert [{k: c[k] for k in change} for c in resumed.summary["resume_changes"]] == [change]
    records = [r for r in read_jsonl(run / "metrics.jsonl") if r["event"] == "resume"]
    assert records[0]["step"] == 10 and records[0]["changes"][0]["new"] == 0.1
    assert "resume" not in (run / "metrics.csv").read_text()
    page = write_report(run).read_text()
    assert "resumed with changes" in page and "optimizer.lr" in page


def test_a_resume_without_changes_records_nothing_and_stays_bit_identical(tmp_path: Path) -> None:
    full = train(CFG, run_dir=tmp_path / "full")
    run = _first_half(tmp_path)
    resumed = train(CFG, resume=run)
    assert resumed.summary["resume_changes"] == []
    assert without_time(full.history) == without_time(resumed.history)


def test_more_epochs_and_patience_on_resume_continue_a_finished_run(tmp_path: Path) -> None:
    train(CFG, run_dir=tmp_path / "run")
    assert main(["train", "--resume", str(tmp_path / "run"), "training.max_steps=30", "early_stopping.patience=40"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["status"] == "completed"
    assert {c["field"] for c in summary["resume_changes"]} == {"training.max_steps", "early_stopping.patience"}
    assert latest_checkpoint(tmp_path / "run" / "checkpoints").step == 30  # type: ignore[union-attr]


def test_changes_that_break_the_resume_are_refused_all_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _first_half(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    argv = ["train", "--resume", str(run), "seed=8", "batch.size=16", "optimizer.name=sgd", "model.dropout=0.3", "training.max_steps=30"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    for field in ("seed", "batch.size", "optimizer.name", "model.dropout"):
        assert f"{field}: cannot change on --resume" in err, field
    assert "training.max_steps" not in err and f"--init-from {run}" in err and "Traceback" not in err
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before  # nothing written
    with pytest.raises(ConfigError, match="must be a number on --resume"):
        train({**CFG, "optimizer": {**CFG["optimizer"], "lr": "find"}}, resume=run)


class Weights(Callback):
    def on_train_start(self, state: Any) -> None:
        self.start = {k: v.detach().clone() for k, v in state.model.state_dict().items()}


def test_init_from_starts_a_new_run_from_the_checkpoint_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _first_half(tmp_path)
    assert main(["train", "--init-from", str(run), "--run-dir", str(tmp_path / "new"), "batch.size=16", "seed=8"]) == 0
    saved = yaml.safe_load((tmp_path / "new" / "config.yaml").read_text())
    step10 = str((run / "checkpoints" / "step-10").resolve())
    assert saved["init_from"] == step10 and saved["batch"]["size"] == 16 and saved["seed"] == 8
    assert saved["training"]["max_steps"] == 20  # the rest comes from the run's config.yaml
    # The Python API from that config: the model starts from the checkpoint's weights, not from a fresh init.
    seen = Weights()
    train(tmp_path / "new" / "config.yaml", run_dir=tmp_path / "again", callbacks=[seen])
    want = load_model_weights(Path(step10))
    assert all(torch.equal(seen.start[k], want[k]) for k in want)


def test_init_from_refuses_what_is_not_a_checkpoint_or_does_not_fit(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="must be a run folder with a checkpoint"):
        train({**CFG, "init_from": str(tmp_path)}, run_dir=tmp_path / "a")
    (tmp_path / "ck").mkdir()
    torch.save({"0.weight": torch.zeros(2, 2)}, tmp_path / "ck" / "model.pt")
    with pytest.raises(Exception, match="must fit this run's model"):
        train({**CFG, "init_from": str(tmp_path / "ck")}, run_dir=tmp_path / "b")
    assert main(["train", "--init-from", str(tmp_path / "ck"), "--resume", str(tmp_path)]) == 2


def test_init_from_a_shards_only_checkpoint_names_the_conversion(tmp_path: Path) -> None:
    """An FSDP run with distributed.whole_weights: false keeps its weights sharded only: the fix is torch's converter."""
    from trainwell.engine.resume import init_weights
    from trainwell.errors import CheckpointError

    (tmp_path / "checkpoints" / "step-3" / "sharded").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step-3" / "meta.json").write_text('{"step": 3}')
    with pytest.raises(CheckpointError) as err:
        init_weights(torch.nn.Linear(2, 2), tmp_path)
    text = err.value.render()
    assert "whole_weights: false" in text and "dcp_to_torch_save" in text and "step-3/sharded" in text


def test_init_from_a_run_takes_its_latest_checkpoint_and_a_step_folder_its_best(tmp_path: Path) -> None:
    """`--init-from RUN` is where RUN stopped (its latest checkpoint), even when RUN returned its best weights
    (load_best_at_end): the best is one folder away, RUN/checkpoints/step-<summary's best_step>, never deleted."""
    from trainwell.engine.resume import init_weights

    cfg = {**CFG, "optimizer": {"name": "adamw", "lr": 0.5}, "checkpoint": {"every": 5, "keep": 1, "load_best_at_end": True}}
    result = train(cfg, run_dir=tmp_path / "run")
    best = result.summary["best_step"]
    assert best != 20 and result.summary["loaded_best"]  # an LR too high: val_loss is lowest early, not at the end
    model = tiny_model()
    assert init_weights(model, tmp_path / "run") == str((tmp_path / "run" / "checkpoints" / "step-20").resolve())
    latest = load_model_weights(tmp_path / "run" / "checkpoints" / "step-20")
    assert all(torch.equal(model.state_dict()[k], latest[k]) for k in latest)
    folder = tmp_path / "run" / "checkpoints" / f"step-{best}"
    assert init_weights(model, folder) == str(folder.resolve())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in result.model.state_dict().items())  # the returned model
