"""logging.mlflow: a trainwell run is written to an MLflow store and read back with MLflow's own client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")  # imported at collection (~1.5 s), not inside a timed test
pytest.importorskip("matplotlib.pyplot")
from mlflow.tracking import MlflowClient  # noqa: E402

from trainwell.cli.main import main  # noqa: E402
from trainwell.integrations import mlflow as tw_mlflow  # noqa: E402


def _client(uri: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading MLflow 3's file store needs the opt-in too
    return MlflowClient(tracking_uri=uri)


def test_train_logs_params_reasons_metrics_and_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = (tmp_path / "mlruns").as_uri()
    argv = ["train", "task=digits", "data.limit=200", "training.max_steps=8", "logging.every=2", "evaluation.strategy=steps", "evaluation.every=4",
            "checkpoint.strategy=no", "checkpoint.load_best_at_end=false", "logging.mlflow=true", f"logging.mlflow_uri={uri}", "logging.mlflow_experiment=tw-test",
            "--run-dir", str(tmp_path / "run"), "--format", "json"]  # fmt: skip
    assert main(argv) == 0
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # the tracker put the environment back
    client = _client(uri, monkeypatch)
    experiment = client.get_experiment_by_name("tw-test")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["optimizer.name"] == "adamw" and run.data.params["training.max_steps"] == "8"
    reasons = {k: v for k, v in run.data.tags.items() if k.startswith("reason.")}
    assert "reason.optimizer.lr" in reasons and "rule" in reasons["reason.optimizer.lr"]  # the recommender's why
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in losses] == [2, 4, 6, 8]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [4, 8]
    assert run.data.tags["trainwell.status"] == "completed" and "summary.steps" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "summary.json", "findings.json", "reasons.json", "report.html"} <= artifacts


def test_default_store_is_mlruns_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    tracker = tw_mlflow.MLflowTracker(None, "tw", "r")
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # allowed while the store opened, then taken back
    run_id = tracker.start({"task": "t", "optimizer": {"lr": 0.1}}, [{"field": "optimizer.lr", "why": "w", "rule": "r", "source": "s"}])
    tracker.log_record({"event": "train", "step": 1, "loss": 1.0, "time": 0.1})
    tracker.finish({"status": "completed", "steps": 1})
    assert (tmp_path / "mlruns").is_dir()
    got = _client((tmp_path / "mlruns").as_uri(), monkeypatch).get_run(run_id)
    assert got.data.params == {"task": "t", "optimizer.lr": "0.1"} and got.data.metrics["loss"] == 1.0
    assert got.data.tags["reason.optimizer.lr"] == "w (rule r; s)"


def test_missing_mlflow_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from trainwell.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "mlflow", None)  # an import of mlflow now fails as if it were absent
    with pytest.raises(MissingDependencyError, match=r"trainwell\[mlflow\]"):
        tw_mlflow.MLflowTracker()


def test_a_users_file_store_setting_is_left_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")  # the user asked MLflow to refuse the file store
    with pytest.raises(Exception, match="MLFLOW_ALLOW_FILE_STORE"):  # MLflow's own refusal, which names the variable
        tw_mlflow.MLflowTracker((tmp_path / "mlruns").as_uri(), "tw", "r")
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "false"
