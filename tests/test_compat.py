"""The private torch/Optuna names behind one module: a missing one is a clear error naming the tested versions."""

from __future__ import annotations

import types

import pytest
import torch

from trainwell import compat
from trainwell.errors import TrainwellError


def test_version_of_reads_major_and_minor() -> None:
    assert compat.version_of(types.SimpleNamespace(__version__="2.13.0+cpu")) == (2, 13)
    assert compat.version_of(types.SimpleNamespace()) == (0, 0)


def test_a_private_name_that_moved_names_itself_and_the_tested_versions() -> None:
    pytest.importorskip("optuna")
    with pytest.raises(TrainwellError, match=r"no _trial_id on SimpleNamespace.*tested with optuna 4\.0–5\.1"):
        compat.trial_id(types.SimpleNamespace(number=3))


def test_fused_adamw_is_the_optimizer_whose_step_skips_on_found_inf() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert compat.steps_with_amp_scaling(torch.optim.AdamW(params, fused=True))
    assert not compat.steps_with_amp_scaling(torch.optim.AdamW(params))
    assert not compat.steps_with_amp_scaling(torch.optim.SGD(params, lr=0.1))


def test_heartbeat_is_a_no_op_on_storages_without_heartbeats() -> None:
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study()
    trial = study.ask()
    with compat.heartbeat(study._storage, trial):  # the in-memory storage has no heartbeat
        pass
    assert not compat.heartbeat_enabled(study._storage)
