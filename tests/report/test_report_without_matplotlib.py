"""`trainwell train` writes report.html for every run, as the README says (issue H, item 10). matplotlib
is a core dependency for the plots; an install that lacks it anyway still gets the report, with the
install hint where the plots would be. The test hides matplotlib from this process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch._dynamo  # noqa: F401  # the first optimizer imports it (seconds); pay that at collection, not in the test
import yaml

from trainwell.cli.main import main


def make_task(config: Any) -> Any:
    """A tiny user task (the built-in digits would cost seconds of sklearn import)."""
    import torch

    from trainwell.tasks.base import Task, classification_metrics

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g), torch.randint(0, 2, (64,), generator=g)
    data = torch.utils.data.TensorDataset(x, y)
    return Task("tiny", torch.nn.Linear(4, 2), data, data, num_classes=2, metrics=classification_metrics)


CONFIG = {
    "task": "test_report_without_matplotlib:make_task",
    "batch": {"size": 16},
    "optimizer": {"lr": 0.01},
    "training": {"epochs": 1, "threads": 1},
    "evaluation": {"strategy": "epoch", "every": 1},
    "checkpoint": {"strategy": "epoch", "every": 1},
    "logging": {"every": 2, "tensorboard": "off", "progress": "off"},
    "doctor": {"live": False},
}


def _hide_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every later `import matplotlib...` raises ImportError, as in an install without it."""
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)


def test_train_writes_a_report_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide_matplotlib(monkeypatch)
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    assert main(["train", str(tmp_path / "c.yaml"), "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "no report" not in out
    page = (tmp_path / "run" / "report.html").read_text()
    assert "No plots" in page and "trainwell[plot]" in page
    assert "optimizer.lr" in page and "<img" not in page  # the config table is there, no figure
    assert "report_note" not in json.loads((tmp_path / "run" / "summary.json").read_text())


def test_the_base_install_names_matplotlib() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("matplotlib") for dep in project["dependencies"])
