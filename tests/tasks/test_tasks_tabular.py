"""Tabular CSVs: header or not, the label column, '?' as missing, labels ending in '.', train-only encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainwell.config import load_config
from trainwell.errors import DataError
from trainwell.tasks.catalog import build_task

ROWS = [
    "39, State-gov, 77516, Bachelors, 2174, <=50K",
    "50, Self-emp, 83311, Bachelors, 0, >50K",
    "38, Private, 215646, HS-grad, 0, <=50K",
    "53, ?, 234721, 11th, 0, <=50K",
    "28, Private, 338409, Bachelors, 0, >50K",
    "37, Private, 284582, Masters, ?, <=50K",
    "49, Private, 160187, 9th, 0, <=50K",
    "52, Self-emp, 209642, HS-grad, 0, >50K",
]
HEADER = "age, workclass, fnlwgt, education, capital, salary"
TEST_ROWS = ["25, Private, 226802, 11th, 0, <=50K.", "44, Never-seen, 160323, Doctorate, 7688, >50K."]


def write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n\n")
    return str(path)


def config(path: str, **options: object) -> dict[str, object]:
    return {"task": "tabular", "data": {"path": path, "options": options}, "model": {"hidden": 8, "layers": 1}}


def test_headerless_file_with_val_path_and_dotted_labels(tmp_path: Path) -> None:
    train = write(tmp_path / "adult.data", ROWS)
    test = write(tmp_path / "adult.test", TEST_ROWS)
    task = build_task(load_config(config(train, val_path=test)))
    assert (len(task.train_data), len(task.val_data)) == (8, 2)
    assert task.val_data.tensors[1].tolist() == [0, 1]  # '<=50K.' and '>50K.' map to the training classes
    assert task.class_counts == [5, 3] and task.facts.imbalance == round(5 / 3, 2)
    x = task.train_data.tensors[0]
    # 3 numerics (age, fnlwgt, capital) + workclass {?, Private, Self-emp, State-gov} + 5 educations
    assert x.shape == (8, 3 + 4 + 5)
    assert torch.allclose(x[:, :3].mean(0), torch.zeros(3), atol=1e-5)
    assert task.model(x).shape == (8, 2)
    # an unseen category encodes as all zeros in its one-hot block
    assert task.val_data.tensors[0][1, 3:7].sum() == 0


def test_header_detection_target_by_name_and_drop(tmp_path: Path) -> None:
    path = write(tmp_path / "with_header.csv", [HEADER, *ROWS])
    auto = build_task(load_config(config(path, drop=["fnlwgt"], target="salary")))
    explicit = build_task(load_config(config(write(tmp_path / "plain.csv", ROWS), header=False, target=-1, drop=["col2"])))
    assert len(auto.train_data) + len(auto.val_data) == 8
    kept = build_task(load_config(config(path, target="salary")))
    assert kept.train_data.tensors[0].shape[1] == auto.train_data.tensors[0].shape[1] + 1  # fnlwgt was dropped
    assert torch.equal(auto.train_data.tensors[0], explicit.train_data.tensors[0])


def test_bad_options_are_data_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", [HEADER, *ROWS])
    with pytest.raises(DataError, match="must name a column"):
        build_task(load_config(config(path, target="income")))
    with pytest.raises(DataError, match="existing columns"):
        build_task(load_config(config(path, drop=["nope"])))
    with pytest.raises(DataError, match="CSV file"):
        build_task(load_config({"task": "tabular"}))
    with pytest.raises(DataError, match="fields"):
        build_task(load_config(config(write(tmp_path / "ragged.csv", [*ROWS, "1, 2"]))))


def test_adult_from_shared_data(shared_data: Path) -> None:
    adult = shared_data / "adult"
    cfg = config(str(adult / "adult.data"), val_path=str(adult / "adult.test"))
    task = build_task(load_config({**cfg, "data": {**cfg["data"], "limit": 2000}}))  # type: ignore[dict-item]
    assert len(task.train_data) == 2000 and len(task.val_data) == 16281
    assert task.num_classes == 2 and task.class_counts is not None
    positive = task.class_counts[1] / sum(task.class_counts)
    assert 0.2 < positive < 0.3  # adult is imbalanced, about 24 % earn >50K
    assert 0.2 < float(task.val_data.tensors[1].float().mean()) < 0.3
