"""`loss.class_weights: auto` through the Python API with the user's own model and data (issue G: the corpus's
imbalanced text settings crashed here, because a raw dataset's labels were never counted)."""

from __future__ import annotations

from pathlib import Path

import torch
from tw_engine_helpers import synthetic, tiny_config, tiny_model

from trainwell.run import train
from trainwell.tasks.base import count_labels


class Items(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """A dataset that is neither a TensorDataset nor has .targets: only its items tell the labels."""

    def __init__(self, base: torch.utils.data.TensorDataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.base[i]


def test_count_labels_reads_targets_without_iterating_unless_asked() -> None:
    data = synthetic(60, 0)
    expected = torch.bincount(data.tensors[1]).tolist()
    assert count_labels(data, iterate=False) == expected
    assert count_labels(Items(data), iterate=False) is None  # describing the task never costs a pass over the data
    assert count_labels(Items(data), iterate=True) == expected
    floats = torch.utils.data.TensorDataset(torch.zeros(4, 2), torch.tensor([0.5, 1.0, 2.0, 0.0]))
    assert count_labels(floats, iterate=True) is None  # regression targets: no classes to count


def test_auto_class_weights_train_on_a_users_dataset(tmp_path: Path) -> None:
    for k, data in enumerate((synthetic(80, 0), Items(synthetic(80, 0)))):
        cfg = tiny_config(loss={"class_weights": "auto"}, training={"max_steps": 4}, evaluation={"every": 4}, checkpoint={"every": 4})
        result = train(cfg, model=tiny_model(), train_data=data, val_data=synthetic(20, 1), run_dir=tmp_path / f"run{k}")
        assert result.summary["steps"] == 4
