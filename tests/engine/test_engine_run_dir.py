"""Where a run is written: a new run never writes over or beside another run (issue H, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tw_engine_helpers import tiny_config

from trainwell.cli.main import main
from trainwell.errors import ConfigError
from trainwell.run import train


def test_a_new_run_refuses_a_folder_that_holds_a_run(tmp_path: Path) -> None:
    cfg = tiny_config(training={"max_steps": 4}, evaluation={"every": 4}, checkpoint={"every": 4})
    train(cfg, run_dir=tmp_path / "run")
    before = {p.relative_to(tmp_path): p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*")}
    with pytest.raises(ConfigError) as err:
        train(tiny_config(seed=8), run_dir=tmp_path / "run")
    message = str(err.value)
    assert "new or empty folder" in message and "--resume" in message and "config.yaml" in message
    after = {p.relative_to(tmp_path): p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*")}
    assert after == before  # nothing written, deleted or touched
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["seed"] == 7


def test_an_empty_existing_folder_is_fine_and_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cfg = tiny_config(training={"max_steps": 2}, evaluation={"every": 2}, checkpoint={"every": 2})
    assert train(cfg, run_dir=tmp_path / "empty").summary["status"] == "completed"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="must be a folder"):
        train(cfg, run_dir=tmp_path / "file")


def test_cli_refuses_a_used_run_dir_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    assert main(["train", str(config), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "new or empty folder" in err and "notes.txt" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["notes.txt"]


def test_a_model_passed_to_train_is_labelled_as_such_and_not_reproduced_as_digits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue H, item 4: the run used to be called digits, with a reproduce command that trained digits."""
    from tw_engine_helpers import synthetic, tiny_model

    from trainwell.report import html
    from trainwell.tasks.passed import PASSED

    monkeypatch.setattr(html, "_plots", lambda run: "")  # the plots take seconds and are not what this checks
    cfg = tiny_config(
        task="digits", output_dir=str(tmp_path), report=True, training={"max_steps": 6}, evaluation={"every": 3}, checkpoint={"every": 3}
    )
    net = tiny_model()
    result = train(cfg, model=net, train_data=synthetic(100, 0), val_data=synthetic(40, 1))
    run = result.run_dir
    assert run.name.startswith("Sequential-") and "digits" not in run.name
    assert yaml.safe_load((run / "config.yaml").read_text())["task"] == PASSED
    model = result.summary["model"]
    assert model["class"] == "torch.nn.modules.container.Sequential"
    assert model["parameters"] == sum(p.numel() for p in net.parameters()) == 8 * 16 + 16 + 16 * 3 + 3
    assert result.summary["data"]["train_items"] == 100 and result.summary["data"]["val_items"] == 40
    page = (run / "report.html").read_text()
    assert "<title>trainwell report — Sequential (passed to trainwell.train)</title>" in page
    assert "No command rebuilds that model" in page and "<pre>trainwell train" not in page
    # Its config.yaml cannot train something else by mistake, and says why.
    assert main(["train", str(run / "config.yaml"), "--run-dir", str(tmp_path / "again")]) == 2
    assert "passed to trainwell.train()" in capsys.readouterr().err
    # Resuming it with the model passed again is the same run: no refused "task" change.
    again = train(model=tiny_model(), train_data=synthetic(100, 0), val_data=synthetic(40, 1), resume=run)
    assert again.summary["status"] == "completed" and again.summary["resume_changes"] == []
