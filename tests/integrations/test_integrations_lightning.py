"""trainwell.integrations.lightning: the callback on a real Lightning Trainer, and lr_find on a LightningModule."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
tw_lightning = pytest.importorskip("trainwell.integrations.lightning")
pytest.importorskip("matplotlib.pyplot")  # imported at collection: the report test times its plots, not the import
try:  # imported at collection (~1.5 s), not inside the timed MLflow test; without mlflow that test skips
    from mlflow.tracking import MlflowClient
except ImportError:
    MlflowClient = None
L = tw_lightning.pl

GOOD_LR = 5e-2  # SGD with momentum trains the MLP below (loss falls); 100x that blows up within a few steps


class Blobs(L.LightningDataModule):  # type: ignore[misc]
    """5 Gaussian blobs in 16 dimensions (learnable), 320 train / 80 validation points."""

    def __init__(self, batch_size: int = 16) -> None:
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage: str | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        centres = 3 * torch.randn(5, 16, generator=g)
        y = torch.arange(400) % 5
        x = centres[y] + torch.randn(400, 16, generator=g)
        self.train, self.val = torch.utils.data.TensorDataset(x[:320], y[:320]), torch.utils.data.TensorDataset(x[320:], y[320:])

    def train_dataloader(self) -> Any:
        return torch.utils.data.DataLoader(self.train, batch_size=self.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))

    def val_dataloader(self) -> Any:
        return torch.utils.data.DataLoader(self.val, batch_size=80)


class MLP(L.LightningModule):  # type: ignore[misc]
    def __init__(self, lr: float = GOOD_LR, weight_decay: float = 0.0, optimizer: str = "sgd") -> None:
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 5))

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> Any:
        if self.hparams.optimizer == "sgd":
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9, weight_decay=self.hparams.weight_decay)
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


def _trainer(root: Path, steps: int, callback: Any, **kw: Any) -> Any:
    settings = {"max_steps": steps, "log_every_n_steps": 2, "val_check_interval": 10, "check_val_every_n_epoch": None,
                "enable_progress_bar": False, "enable_model_summary": False, "logger": False, "enable_checkpointing": False,
                "accelerator": "cpu", "default_root_dir": str(root), "num_sanity_val_steps": 0, **kw}  # fmt: skip
    return L.Trainer(callbacks=[callback], **settings)


def test_callback_writes_a_complete_run_folder(tmp_path: Path) -> None:
    callback = tw_lightning.TrainwellCallback()
    _trainer(tmp_path, 40, callback).fit(MLP(), Blobs())
    run = tmp_path / "trainwell"
    for name in ("config.yaml", "environment.json", "metrics.jsonl", "lint.json", "findings.json", "summary.json", "report.html"):
        assert (run / name).is_file(), name
    from trainwell.config import load_config

    config = load_config(run / "config.yaml")
    assert (config.optimizer.name, config.optimizer.lr, config.training.max_steps, config.batch.size) == ("sgd", GOOD_LR, 40, 16)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["event"] == "train"]
    evals = [r for r in records if r["event"] == "eval"]
    assert [r["step"] for r in train] == list(range(2, 41, 2))
    assert {"loss", "lr", "grad_norm"} <= set(train[0]) and train[-1]["loss"] < train[0]["loss"]
    assert [r["step"] for r in evals] == [10, 20, 30, 40] and {"val_loss", "val_accuracy"} <= set(evals[0])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 40 and summary["final"]["val_accuracy"] > 0.5
    assert not any(f["rule"] == "divergence" for f in json.loads((run / "findings.json").read_text()))


def test_hundredfold_lr_is_flagged_and_stop_on_divergence_stops_early(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    callback = tw_lightning.TrainwellCallback(tmp_path / "run", stop_on_divergence=True, report=False)
    trainer = _trainer(tmp_path, 60, callback)
    with caplog.at_level(logging.WARNING, logger="lightning.pytorch.callbacks.trainwell"):
        trainer.fit(MLP(lr=100 * GOOD_LR), Blobs())
    assert trainer.global_step < 60
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and "divergence" in summary["stop_reason"]
    assert any("trainwell doctor: divergence" in r.getMessage() for r in caplog.records)
    assert any("trainwell lint: lr-range" in line for line in callback.findings)  # the hyperparameters were linted first


def test_callback_logs_to_mlflow_and_mlflows_client_reads_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if MlflowClient is None:
        pytest.skip("mlflow is not installed")
    uri = (tmp_path / "mlruns").as_uri()
    _trainer(tmp_path, 20, tw_lightning.TrainwellCallback(tmp_path / "run", mlflow=uri, report=False)).fit(MLP(), Blobs())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading MLflow 3's file store needs the opt-in too
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("trainwell").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["optimizer.name"] == "sgd" and float(run.data.params["optimizer.lr"]) == GOOD_LR
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(2, 21, 2))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [10, 20]
    assert {"config.yaml", "summary.json", "findings.json", "lint.json"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_lr_find_uses_the_module_and_restores_it(tmp_path: Path) -> None:
    module = MLP(lr=1e-6, optimizer="adamw")
    before = {k: v.clone() for k, v in module.state_dict().items()}
    result = tw_lightning.lr_find(module, Blobs(), steps=60)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert "log" not in vars(module)  # the sweep's no-op logger is gone again
    assert result.settings["optimizer"] == "AdamW" and result.settings["batch_size"] == 16
    # Adam on a small MLP from scratch trains well near 1e-3..1e-2; the suggestion must land in that decade band,
    # not at the 1e-6 the module was built with.
    assert 3e-4 <= result.suggested_lr <= 5e-2, result.reason
    assert result.peak_lr == result.suggested_lr  # no config: a constant LR, so the peak is the suggestion
    cosine = tw_lightning.lr_find(
        module, Blobs(), steps=60, config={"schedule": {"name": "cosine", "warmup": 0.05}, "training": {"epochs": 5}}
    )
    assert cosine.suggested_lr == pytest.approx(result.suggested_lr) and cosine.peak_reason != result.peak_reason


def test_lr_find_needs_data_and_known_settings() -> None:
    from trainwell.errors import ConfigError

    with pytest.raises(ConfigError, match="datamodule"):
        tw_lightning.lr_find(MLP())
    with pytest.raises(ConfigError, match="stpes"):
        tw_lightning.lr_find(MLP(), Blobs(), stpes=3)
