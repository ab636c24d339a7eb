"""Reader parity (issue M item 5): one trainwell run read from each of its formats -- the run folder
(metrics.jsonl + config.yaml), its own TensorBoard copy under tb/, and a CSV export of metrics.jsonl -- must
give the same findings. Before, the tb/ copy's 'eval/val_loss' tags were read as 'val_val_loss' and an
overfitting run came out as "nothing to fix" there."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from test_doctor_engine_runs import _config

from trainwell.doctor import diagnose

# The pathologies of test_doctor_engine_runs, with TensorBoard on: a memorised tiny training set, LR x100.
RUNS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "overfit": ({"lr": 1e-2, "epochs": 40, "limit": 64, "log_every": 2}, ["overfitting"]),
    "diverge": ({"lr": 0.3, "epochs": 10, "limit": 300, "log_every": 5}, ["divergence"]),
}


def _csv_export(run: Path, path: Path) -> Path:
    """metrics.jsonl as one CSV (a column per key, blank where a record has none), as a spreadsheet export writes it."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    keys = sorted({k for r in rows for k in r if k not in ("event", "time")})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in keys})
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("sklearn")
    pytest.importorskip("tensorboard")
    from trainwell.run import train

    out = tmp_path_factory.mktemp("parity")
    folders = {}
    for name, (settings, _) in RUNS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the live doctor's warnings are test_doctor_live's business
            config = _config(**settings)
            config["logging"]["tensorboard"] = "on"
            folders[name] = train(config, run_dir=out / name).run_dir
        _csv_export(folders[name], out / f"{name}.csv")
    return folders


FORMATS = {
    "run-folder": (lambda run: run, "trainwell-run"),
    "tensorboard": (lambda run: run / "tb", "tensorboard"),
    "csv-export": (lambda run: run.parent / f"{run.name}.csv", "csv"),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("name", sorted(RUNS))
def test_each_format_of_one_run_gives_the_same_findings(runs: dict[str, Path], name: str, fmt: str) -> None:
    locate, source = FORMATS[fmt]
    result = diagnose(locate(runs[name]))
    assert result.history.source == source
    assert [f.rule for f in result.findings] == RUNS[name][1]
    reference = diagnose(runs[name])
    assert [(f.rule, f.severity) for f in result.findings] == [(f.rule, f.severity) for f in reference.findings]
    assert sorted(result.history.eval) == sorted(reference.history.eval)  # the same series, under the same names


def test_a_run_folders_tensorboard_tags_map_to_the_run_folders_names() -> None:
    from trainwell.doctor.naming import classify

    assert classify("eval/val_loss") == ("eval", "val_loss")
    assert classify("eval/val_accuracy") == ("eval", "val_accuracy")
    assert classify("eval/epoch")[0] == classify("train/epoch")[0] == "epoch"
    assert classify("train/samples")[0] == "ignore"
    assert classify("train/loss") == ("train_loss", "train_loss")
    assert classify("val_loss") == ("eval", "val_loss")  # a single prefix is unchanged
