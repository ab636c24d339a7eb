"""trainwell.integrations.hf: the TrainwellCallback on a real (tiny) HF Trainer, and lr_find on it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from tw_integ_helpers import hf_trainer, tiny_bert, token_data

torch = pytest.importorskip("torch")
hf = pytest.importorskip("trainwell.integrations.hf")
pytest.importorskip("matplotlib.pyplot")  # imported at collection: the report test times its plots, not the import
try:  # imported at collection (~1.5 s), not inside the timed MLflow test; without mlflow that test skips
    from mlflow.tracking import MlflowClient
except ImportError:
    MlflowClient = None

GOOD_LR = 1e-2  # trains this model from scratch (loss falls); 100x that blows up within a few steps


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_callback_writes_a_complete_run_folder(tmp_path: Path) -> None:
    trainer = hf_trainer(tmp_path / "out", GOOD_LR, 40)
    callback = hf.TrainwellCallback()
    trainer.add_callback(callback)
    trainer.train()
    run = tmp_path / "out" / "trainwell"
    for name in (
        "config.yaml",
        "environment.json",
        "metrics.jsonl",
        "metrics.csv",
        "lint.json",
        "findings.json",
        "summary.json",
        "report.html",
    ):
        assert (run / name).is_file(), name
    from trainwell.config import load_config

    config = load_config(run / "config.yaml")  # the folder's config is a valid trainwell config of this run
    assert (config.optimizer.lr, config.training.max_steps, config.batch.size) == (GOOD_LR, 40, 16)
    assert config.task == "hf:BertForSequenceClassification"
    records = _records(run)
    train = [r for r in records if r["event"] == "train"]
    evals = [r for r in records if r["event"] == "eval"]
    assert [r["step"] for r in train] == list(range(2, 41, 2))
    assert {"loss", "lr", "grad_norm", "epoch", "time"} <= set(train[0])
    assert [r["step"] for r in evals] == [20, 40] and "val_loss" in evals[0]
    assert train[-1]["loss"] < train[0]["loss"]  # the sane LR made progress
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 40
    assert summary["best_metric"] == min(r["val_loss"] for r in evals)
    assert not any(f["rule"] == "divergence" for f in json.loads((run / "findings.json").read_text()))
    env = json.loads((run / "environment.json").read_text())
    assert env["framework"].startswith("transformers ") and env["model_class"] == "BertForSequenceClassification"
    assert "doctor" in (run / "report.html").read_text()


def test_hundredfold_lr_is_flagged_and_stop_on_divergence_stops_early(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trainer = hf_trainer(tmp_path / "out", 100 * GOOD_LR, 60)
    callback = hf.TrainwellCallback(tmp_path / "run", stop_on_divergence=True)
    trainer.add_callback(callback)
    with caplog.at_level(logging.WARNING, logger="transformers.trainer"):
        trainer.train()
    assert trainer.state.global_step < 60  # stopped early
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and "divergence" in summary["stop_reason"]
    assert any("trainwell doctor: divergence" in r.getMessage() for r in caplog.records)  # through the Trainer's logger
    assert any("trainwell lint: lr-range" in r.getMessage() for r in caplog.records)  # the arguments were linted first
    codes = {f["rule"] for f in json.loads((tmp_path / "run" / "findings.json").read_text())}
    assert "divergence" in codes


def test_without_stop_on_divergence_the_run_is_flagged_but_finishes(tmp_path: Path) -> None:
    trainer = hf_trainer(tmp_path / "out", 100 * GOOD_LR, 24, eval_strategy="no")
    callback = hf.TrainwellCallback(tmp_path / "run", report=False)
    trainer.add_callback(callback)
    trainer.train()
    assert trainer.state.global_step == 24
    assert any("divergence" in line for line in callback.findings)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "completed"
    assert not (tmp_path / "run" / "report.html").exists()


def test_callback_logs_to_mlflow_and_mlflows_client_reads_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if MlflowClient is None:
        pytest.skip("mlflow is not installed")
    uri = (tmp_path / "mlruns").as_uri()
    trainer = hf_trainer(tmp_path / "out", GOOD_LR, 20, eval_steps=10)
    reasons = [{"field": "optimizer.lr", "value": GOOD_LR, "rule": "adamw-scratch", "why": "a tiny model from scratch", "source": "001"}]
    trainer.add_callback(hf.TrainwellCallback(mlflow=uri, reasons=reasons))
    trainer.train()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading MLflow 3's file store needs the opt-in too
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("trainwell").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["trainwell.status"] == "completed"
    assert float(run.data.params["optimizer.lr"]) == GOOD_LR and run.data.params["training.max_steps"] == "20"
    assert run.data.tags["reason.optimizer.lr"].startswith("a tiny model from scratch")
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(2, 21, 2))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [10, 20]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "summary.json", "findings.json", "lint.json", "reasons.json", "report.html"} <= artifacts


def test_config_from_args_drops_what_trainwell_cannot_express() -> None:
    args = hf.transformers.TrainingArguments(output_dir="x", optim="adamw_torch", lr_scheduler_type="cosine", report_to=[])
    model = tiny_bert()
    config, notes = hf.config_from_args(args, model)
    assert config.schedule.name == "cosine" and config.optimizer.name == "adamw"
    # The note names the task the config records: the watched model's class, not the import's placeholder.
    assert config.task == f"hf:{type(model).__name__}" and any(f"task is {config.task} " in n for n in notes)
    bad = hf.transformers.TrainingArguments(output_dir="x", optim="sgd", lr_scheduler_type="cosine", report_to=[])
    bad.lr_scheduler_type = "made_up"  # a schedule trainwell lacks must not stop the user's training
    config, notes = hf.config_from_args(bad)
    assert any("lr_scheduler_type" in n for n in notes) and config.optimizer.name == "sgd"


def test_lr_find_restores_weights_and_optimizer_and_apply_lr_sets_the_arguments(tmp_path: Path) -> None:
    trainer = hf_trainer(tmp_path / "out", 5e-5, 4, eval_strategy="no")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    rng = torch.get_rng_state()
    result = hf.lr_find(trainer, steps=40)
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    assert trainer.optimizer is None  # the Trainer still builds its own optimizer for training
    assert result.suggested_lr is not None and 1e-5 < result.suggested_lr < 1.0
    assert set(result.picks) >= {"combined", "valley", "steepest"} and result.settings["trainer"] == "Trainer"
    assert result.to_json()["rules"]  # the same result object (and JSON) as `trainwell lr-find`
    lr = hf.apply_lr(trainer, result)
    assert trainer.args.learning_rate == lr == result.peak_lr
    trainer.train()  # the Trainer trains after the sweep, with an optimizer built at the new LR
    assert trainer.optimizer.param_groups[0]["initial_lr"] == pytest.approx(lr)


def test_lr_find_is_trainwells_own_range_test_when_both_see_the_same_batches(tmp_path: Path) -> None:
    """The MiniLM benchmark's parity, on the tiny BERT: given the same model, rows, data order
    (``TrainwellOrder``), RNG state and sweep, the Trainer's finder and trainwell's own range test trace the
    same curve and suggest the same LR; only the Trainer's loss, optimizer and loader are the Trainer's."""
    import importlib.util

    from trainwell.engine.rng import seed_everything
    from trainwell.find.lr_finder import range_test
    from trainwell.integrations.hf_find import finder_config
    from trainwell.optim.losses import build_loss

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "integrations.py"
    spec = importlib.util.spec_from_file_location("integrations_benchmark", path)
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    trainer = hf_trainer(tmp_path / "out", 1e-3, 4, eval_strategy="no", make=bench.same_order_trainer)
    sweep = {"steps": 40, "min_lr": 1e-5, "max_lr": 10.0}
    config = finder_config(trainer, sweep)  # the trainwell config the Trainer's arguments translate to
    rows = [({"input_ids": r["input_ids"], "attention_mask": r["attention_mask"]}, r["labels"]) for r in trainer.train_dataset]
    seed_everything(0)
    ours = range_test(config, trainer.model, rows, build_loss(config.loss), device="cpu")
    seed_everything(0)
    theirs = hf.lr_find(trainer, **sweep)
    assert len(ours.losses) == len(theirs.losses) > 10
    assert ours.losses == pytest.approx(theirs.losses, rel=1e-3)  # float noise only (measured: 2e-5 at the blow-up)
    assert ours.suggested_lr == pytest.approx(theirs.suggested_lr, rel=1e-6) and ours.reliable == theirs.reliable


def test_lr_find_restores_an_optimizer_passed_to_the_trainer(tmp_path: Path) -> None:
    trainer = hf_trainer(tmp_path / "out", 1e-3, 10)
    opt = torch.optim.AdamW(trainer.model.parameters(), lr=1e-3)
    trainer.optimizer = opt
    trainer.train()  # the optimizer now has moments to keep
    own = trainer.optimizer  # the Trainer's (Accelerate-wrapped) optimizer over `opt`
    saved = {k: v.clone() for k, v in opt.state_dict()["state"][0].items()}
    hf.lr_find(trainer, steps=20)
    assert trainer.optimizer is own
    assert all(torch.equal(saved[k], v) for k, v in opt.state_dict()["state"][0].items())


def test_lr_find_rejects_unknown_settings(tmp_path: Path) -> None:
    from trainwell.errors import ConfigError

    with pytest.raises(ConfigError, match="stpes"):
        hf.lr_find(hf_trainer(tmp_path / "out", 1e-3, 10), stpes=20)


def test_pretrained_models_get_the_finetuning_peak_rule() -> None:
    model = tiny_bert()
    from trainwell.integrations.hf_find import training_mode

    assert training_mode(model, "auto") == "scratch"
    model.config.name_or_path = "sentence-transformers/all-MiniLM-L6-v2"  # what from_pretrained records
    assert training_mode(model, "auto") == "finetune"
    assert token_data()[0][0]["labels"] == token_data()[0][0]["input_ids"][0] % 10


def _compute_dtypes(model: torch.nn.Module) -> list[torch.dtype]:
    """The dtypes the first attention projection computes in, recorded on every forward."""
    seen: list[torch.dtype] = []
    model.bert.encoder.layer[0].attention.self.query.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    return seen


def test_lr_find_under_bf16_runs_the_trainers_autocast_on_cpu(tmp_path: Path) -> None:
    trainer = hf_trainer(tmp_path / "out", 1e-3, 4, eval_strategy="no", bf16=True)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    seen = _compute_dtypes(trainer.model)
    result = hf.lr_find(trainer, steps=30)
    assert set(seen) == {torch.bfloat16}  # the sweep ran in the Accelerator's bf16 autocast, as training will
    assert all(torch.equal(before[k], v) and v.dtype == before[k].dtype for k, v in trainer.model.state_dict().items())
    assert result.settings["precision"] == "bf16" and len(result.losses) > 1


def test_fp16_on_cpu_is_recorded_as_the_fp32_the_trainer_runs(tmp_path: Path) -> None:
    # HF accepts fp16=True with use_cpu=True, and its Accelerator then neither autocasts nor scales the loss:
    # the callback must record that run (not refuse it, which stopped the user's training) and the finder
    # sweeps the same fp32 steps.
    trainer = hf_trainer(tmp_path / "out", 1e-3, 4, eval_strategy="no", fp16=True)
    seen = _compute_dtypes(trainer.model)
    callback = hf.TrainwellCallback(tmp_path / "run", report=False)
    trainer.add_callback(callback)
    trainer.train()
    assert set(seen) == {torch.float32} and trainer.accelerator.scaler is None  # pins HF's behaviour this relies on
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert any("fp16=True on CPU" in note for note in env["import_notes"])
    from trainwell.config import load_config

    assert load_config(tmp_path / "run" / "config.yaml").training.precision == "fp32"
    assert hf.lr_find(trainer, steps=20).settings["precision"] == "fp32"
