"""The study report reads the tuner's trials table (or an Optuna storage) and draws the search."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from trainwell.errors import DataError
from trainwell.report import write_study_report
from trainwell.report.study import importances, load_study, trial_from_row

pytest.importorskip("matplotlib")


def _trial_rows(n: int = 12) -> list[dict[str, Any]]:
    """A valley in log-LR centred on 1e-3; weight decay barely matters. Trial 3 was pruned, trial 5 failed."""
    rows = []
    for i in range(n):
        lr = 10 ** (-5 + 4 * i / (n - 1))
        wd = [0.0, 0.01, 0.1][i % 3]
        value = 0.2 + 0.3 * (math.log10(lr) + 3) ** 2 + 0.001 * wd
        state = "PRUNED" if i == 3 else "FAIL" if i == 5 else "COMPLETE"
        rows.append({"number": i, "state": state, "value": value if state == "COMPLETE" else None,
                     "params": {"lr": lr, "weight_decay": wd}, "stage": "lr" if i < 6 else "regularisation", "run_dir": f"trials/trial-{i:04d}"})  # fmt: skip
    return rows


def write_study(path: Path) -> Path:
    """A study folder in the layout trainwell.tune writes (trials.json with meta, finalists, reasons, best config)."""
    path.mkdir(parents=True, exist_ok=True)
    meta = {"study_name": "digits-<tune>", "direction": "minimize", "metric": "val_loss", "strategy": "staged", "storage": "sqlite:///x.db"}
    (path / "trials.json").write_text(json.dumps({**meta, "trials": _trial_rows()}), encoding="utf-8")
    finalists = [{"trial": 7, "params": {"lr": 0.0012}, "seeds": [42, 43], "values": [0.21, 0.22], "mean": 0.215, "std": 0.005}]
    (path / "finalists.json").write_text(json.dumps(finalists), encoding="utf-8")
    reasons = [{"field": "optimizer.lr", "value": 0.0012, "rule": "tune.lr", "why": "the winning configuration", "source": "001 §LR"}]
    (path / "reasons.json").write_text(json.dumps(reasons), encoding="utf-8")
    (path / "best_config.yaml").write_text("task: digits\n", encoding="utf-8")
    run = path / "trials" / "trial-0007"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<html></html>", encoding="utf-8")
    return path


def test_study_report_draws_history_importances_and_lr_response(tmp_path: Path) -> None:
    study_dir = write_study(tmp_path / "study")
    html = write_study_report(study_dir).read_text(encoding="utf-8")
    srcs = re.findall(r"<img [^>]*src=\"([^\"]+)\"", html)
    assert len(srcs) == 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "digits-&lt;tune&gt;" in html  # escaped study name
    assert "10 complete" in html and "1 pruned" in html and "1 fail" in html
    assert '<a href="trials/trial-0007/report.html">trial-0007</a>' in html  # link to the best trial's run report
    assert "0.215 ± 0.005" in html and "tune.lr" in html and "best_config.yaml" in html


def test_best_trial_and_lr_param_follow_the_direction(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path / "study"))
    assert study.best is not None and study.best.number == 6  # log10(lr) = -3 at i = 5.5; trial 5 failed, so trial 6
    assert study.lr_param() == "lr"
    assert [t.number for t in study.complete] == [0, 1, 2, 4, 6, 7, 8, 9, 10, 11]
    study.direction = "maximize"
    assert study.best is not None and study.best.number == 11  # lr 0.1 edges out lr 1e-5 by its weight decay


def test_importances_rank_the_parameter_that_moves_the_objective(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    imp, why = importances(load_study(write_study(tmp_path / "study")))
    assert imp["lr"] > imp["weight_decay"]
    assert "fANOVA" in why


def test_too_few_trials_give_no_importances_and_say_why(tmp_path: Path) -> None:
    study_dir = tmp_path / "small"
    study_dir.mkdir()
    (study_dir / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _trial_rows()[:3]), encoding="utf-8")
    html = write_study_report(study_dir).read_text(encoding="utf-8")
    assert "importances need at least 4 complete trials" in html


def test_csv_rows_in_optunas_dataframe_layout() -> None:
    t = trial_from_row({"number": "4", "state": "TrialState.COMPLETE", "value": "0.5", "params_lr": "0.001", "params_opt": "adamw"})
    assert (t.number, t.state, t.value, t.params) == (4, "COMPLETE", 0.5, {"lr": 0.001, "opt": "adamw"})


@pytest.mark.slow  # creating an Optuna SQLite schema takes seconds
def test_an_optuna_sqlite_storage_is_read_when_there_is_no_table(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: -((math.log10(t.suggest_float("lr", 1e-5, 1e-1, log=True)) + 3) ** 2), n_trials=6)
    data = load_study(tmp_path)
    assert data.direction == "maximize" and data.name == "s" and len(data.complete) == 6
    assert data.best is not None and data.best.value == study.best_value


def test_a_folder_without_trials_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_study(tmp_path)
    assert "trials.json" in err.value.problems[0].rule
