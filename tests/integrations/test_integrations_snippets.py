"""`trainwell recommend --format hf-args | lightning`: ready-to-paste code that runs, with the reasons as comments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Imported at collection: the tests time the snippets, not the frameworks' imports.
transformers = pytest.importorskip("transformers")
pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

from trainwell.advise.recommender import Profile, recommend  # noqa: E402
from trainwell.cli.main import main  # noqa: E402
from trainwell.integrations import snippets  # noqa: E402


def test_hf_args_snippet_builds_the_recommended_training_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["recommend", "--model", "transformer", "--mode", "finetune", "--dataset-size", "20000", "--epochs", "3", "--format", "hf-args"]
        )
        == 0
    )
    code = capsys.readouterr().out
    rec = recommend(Profile(model="transformer", mode="finetune", dataset_size=20000, epochs=3))
    lr = rec.reason_for("optimizer.lr")
    assert f"# {lr.why} — {lr.source}\n    learning_rate={rec.config.optimizer.lr!r}," in code  # each value under its reason
    scope: dict[str, object] = {}
    exec(code.replace("output_dir='runs'", f"output_dir={str(tmp_path)!r}"), scope)  # the snippet runs as printed
    args = scope["args"]
    assert isinstance(args, transformers.TrainingArguments)
    assert args.learning_rate == rec.config.optimizer.lr and args.weight_decay == rec.config.optimizer.weight_decay
    assert args.lr_scheduler_type.value == rec.config.schedule.name and args.per_device_train_batch_size == rec.config.batch.size
    patience = rec.config.early_stopping.patience
    assert ("callbacks" in scope) == (patience is not None)  # an EarlyStoppingCallback exactly when patience is set
    if patience is not None:
        assert scope["callbacks"][0].early_stopping_patience == patience


def test_lightning_snippet_trains_with_trainwells_schedule(tmp_path: Path) -> None:
    rec = recommend(Profile.from_task("digits"))
    code = snippets.lightning(rec)
    assert rec.reason_for("optimizer.weight_decay").why in code
    scope: dict[str, object] = {}
    try:
        exec(code, scope)
    finally:  # the snippet's L.seed_everything() exports the seed to the environment, as it should in a script
        for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS"):
            os.environ.pop(name, None)
    trainer, module_cls = scope["trainer"], scope["Module"]
    assert trainer.max_epochs == rec.config.training.epochs and trainer.gradient_clip_val == rec.config.training.max_grad_norm

    class Net(module_cls):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

    net = Net()
    net.trainer = type("T", (), {"estimated_stepping_batches": 100, "max_epochs": 5})()  # what a running Trainer offers
    out = net.configure_optimizers()
    optimizer, scheduler = out["optimizer"], out["lr_scheduler"]["scheduler"]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [rec.config.optimizer.weight_decay, 0.0]  # bias undecayed
    from trainwell.optim.schedules import multipliers

    expected = multipliers(rec.config.schedule.name, 100, rec.config.schedule.warmup, rec.config.schedule)
    seen = []
    for _ in range(100):
        seen.append(optimizer.param_groups[0]["lr"] / rec.config.optimizer.lr)
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx(expected)


def test_recommend_snippets_import_no_framework(tmp_path: Path) -> None:
    code = (
        "import sys, io, contextlib\n"
        "from trainwell.cli.main import main\n"
        "for fmt in ('hf-args', 'lightning'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(['recommend', '--task', 'digits', '--format', fmt]) == 0\n"
        "print(','.join(m for m in ('torch', 'transformers', 'lightning') if m in sys.modules) or '-')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "-"


def test_an_optimizer_lightning_lacks_is_refused_with_a_fix() -> None:
    import dataclasses

    from trainwell.errors import ConfigError

    rec = recommend(Profile.from_task("digits"))
    rec = dataclasses.replace(rec, config=dataclasses.replace(rec.config, optimizer=dataclasses.replace(rec.config.optimizer, name="lion")))
    with pytest.raises(ConfigError, match="lion"):
        snippets.lightning(rec)
