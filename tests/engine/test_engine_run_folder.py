"""The run folder's files and schema, callbacks, the integration hooks, the CLI and a fresh-process seed test."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tw_engine_helpers import read_jsonl, run_script, tiny_config, without_time

from trainwell.cli.main import main
from trainwell.config import load_config
from trainwell.config.structure import to_dict
from trainwell.engine.callbacks import Callback
from trainwell.run import train

TRAIN_KEYS = {"event", "step", "epoch", "lr", "loss", "grad_norm", "samples", "time"}
SUMMARY_KEYS = {
    "status",
    "stop_reason",
    "best_metric",
    "best_step",
    "metric",
    "mode",
    "steps",
    "epochs",
    "wall_time_s",
    "samples_per_s",
    "final",
}
ENV_KEYS = {"trainwell", "torch", "python", "platform", "device", "precision", "git_revision", "seed", "command", "threads"}


def test_run_folder_holds_every_documented_file(tmp_path: Path) -> None:
    cfg = tiny_config()
    result = train(cfg, run_dir=tmp_path, reasons=[{"field": "optimizer.lr", "value": 0.01, "rule": "r", "why": "w", "source": "s"}])
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.yaml", "environment.json", "metrics.jsonl", "metrics.csv", "summary.json", "checkpoints", "reasons.json"} <= names
    # config.yaml reproduces the run's config
    assert to_dict(load_config(tmp_path / "config.yaml")) == to_dict(load_config(cfg))
    env = json.loads((tmp_path / "environment.json").read_text())
    assert ENV_KEYS <= env.keys() and env["seed"] == 7 and env["device"] == "cpu" and env["precision"] == "fp32"
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert all(TRAIN_KEYS <= r.keys() for r in records if r["event"] == "train")
    evals = [r for r in records if r["event"] == "eval"]
    assert evals and all({"val_loss", "val_accuracy", "val_f1_macro", "epoch", "step", "time"} <= r.keys() for r in evals)
    assert [r["step"] for r in records if r["event"] == "train"] == [*range(2, 39, 2), 39]  # every 2 steps, and the last
    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(records) and {"val_loss", "loss", "lr"} <= set(rows[0])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert SUMMARY_KEYS <= summary.keys() and summary == json.loads(json.dumps(result.summary, default=str))
    assert summary["status"] == "completed" and summary["steps"] == 39 and summary["samples"] == 300
    assert json.loads((tmp_path / "reasons.json").read_text())[0]["field"] == "optimizer.lr"


@pytest.mark.slow  # importing tensorboard alone takes about 2 s
def test_tensorboard_events_are_written_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    train(tiny_config(logging={"tensorboard": "on"}, training={"max_steps": 4}), run_dir=tmp_path)
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())


class Recorder(Callback):
    def __init__(self, stop_at_eval: int | None = None) -> None:
        self.calls: list[str] = []
        self.stop_at_eval = stop_at_eval

    def on_train_start(self, state: Any) -> None:
        self.calls.append(f"start:{state.step}")

    def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
        self.calls.append("log")
        return None

    def on_evaluate(self, state: Any, metrics: dict[str, float]) -> str | None:
        self.calls.append("eval")
        if self.calls.count("eval") == self.stop_at_eval:
            return "pruned by the test"
        return None

    def on_train_end(self, state: Any, summary: dict[str, Any]) -> None:
        self.calls.append(f"end:{summary['status']}")


def test_callbacks_see_the_lifecycle_and_can_stop_the_run(tmp_path: Path) -> None:
    rec = Recorder(stop_at_eval=2)
    result = train(tiny_config(), run_dir=tmp_path, callbacks=[rec])
    assert rec.calls[0] == "start:0" and rec.calls[-1] == "end:stopped"
    assert rec.calls.count("eval") == 2 and result.summary["steps"] == 8
    assert result.summary["stop_reason"] == "pruned by the test"


def test_user_model_and_data_through_the_python_api(tmp_path: Path) -> None:
    from tw_engine_helpers import synthetic, tiny_model

    result = train(
        {
            "report": False,
            "doctor": {"live": False},
            "training": {"max_steps": 5},
            "evaluation": {"every": 5},
            "checkpoint": {"every": 5},
            "logging": {"tensorboard": "off"},
        },
        model=tiny_model(),
        train_data=synthetic(64, 0),
        val_data=synthetic(16, 1),
        run_dir=tmp_path,
    )
    assert result.summary["steps"] == 5 and "val_accuracy" in result.summary["final"]


def test_train_without_validation_data_explains_what_to_change(tmp_path: Path) -> None:
    from tw_engine_helpers import synthetic, tiny_model

    from trainwell.errors import ConfigError

    with pytest.raises(ConfigError, match="evaluation needs validation data"):
        train({"report": False}, model=tiny_model(), train_data=synthetic(64, 0), run_dir=tmp_path)


@pytest.mark.slow  # the LR range test, matplotlib and the report take about 4 s
def test_integrations_lr_find_live_doctor_and_report(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    cfg = tiny_config(
        optimizer={"lr": "find"},
        lr_find={"steps": 20},
        doctor={"live": True},
        report=True,
        training={"max_steps": 12},
        checkpoint={"load_best_at_end": False},
    )
    result = train(cfg, run_dir=tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"lr_find.json", "findings.json", "report.html"} <= names
    found = json.loads((tmp_path / "lr_find.json").read_text())["used_lr"]
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["optimizer"]["lr"] == pytest.approx(found)  # config.yaml reproduces the run without the finder
    assert result.summary["steps"] == 12


def test_cli_trains_a_config_and_prints_where_the_results_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    assert main(["train", str(config), "training.max_steps=6", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert f"results: {tmp_path / 'run'}" in out and "status: completed" in out
    assert main(["train", "--resume", str(tmp_path / "run"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_dir"] == str(tmp_path / "run") and data["summary"]["resumed_from_step"] == 6
    assert main(["train", str(config), "--resume", str(tmp_path / "run")]) == 2  # CONFIG with --resume is refused


_SEEDED = """
import json, sys
from trainwell.run import train
from tw_engine_helpers import tiny_config
r = train(tiny_config(), run_dir=sys.argv[1])
print(json.dumps(r.history))
"""


@pytest.mark.slow
def test_same_seed_in_fresh_processes_gives_identical_metrics(tmp_path: Path) -> None:
    first = json.loads(run_script(_SEEDED, str(tmp_path / "a")).stdout)
    second = json.loads(run_script(_SEEDED, str(tmp_path / "b")).stdout)
    assert without_time(first) == without_time(second) and len(first) > 10


def test_batch_auto_find_records_its_choice_and_hard_codes_it(tmp_path: Path) -> None:
    cfg = tiny_config(batch={"size": 8, "auto_find": True, "memory_budget_mb": 64}, training={"max_steps": 4})
    train(cfg, run_dir=tmp_path)
    record = json.loads((tmp_path / "batch_find.json").read_text())
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["batch"]["auto_find"] is False
    assert saved["batch"]["size"] == record["size"] and saved["batch"]["accumulation"] == record["accumulation"]


def test_cli_summary_says_what_the_finders_decided_and_warns_when_the_lr_curve_is_unreliable(tmp_path: Path) -> None:
    from trainwell.cli.train_cmd import finder_lines

    assert finder_lines(tmp_path) == []
    record = {"used_lr": 3.4e-4, "reliable": False, "reasons": ["no clear descent: the smoothed loss falls only 3%"]}
    (tmp_path / "lr_find.json").write_text(json.dumps(record))
    batch = {"size": 16, "accumulation": 4, "max_fit": 24, "limit": "memory budget 64 MB", "paste": "batch.size=16 batch.accumulation=4"}
    (tmp_path / "batch_find.json").write_text(json.dumps(batch))
    lines = finder_lines(tmp_path)
    assert lines[0] == "lr-find: trained with LR 0.00034 (NOT reliable: no clear descent: the smoothed loss falls only 3%)"
    assert "set optimizer.lr to a number" in lines[1]
    assert lines[2].startswith("batch-find: batch 16 x accumulation 4") and lines[2].endswith("batch.size=16 batch.accumulation=4")
    record["reliable"], record["reasons"] = True, []
    (tmp_path / "lr_find.json").write_text(json.dumps(record))
    assert finder_lines(tmp_path)[0] == "lr-find: trained with LR 0.00034 (reliable)"
