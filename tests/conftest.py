"""Shared fixtures. Tests are CPU-only, tiny and deterministic; each should finish well under 2 s."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("CI", "true")  # quiet progress bars in tests
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip when the checkout has no shared folder beside it."""
    if not DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return DATA


@pytest.fixture(autouse=True)
def _torch_threads() -> None:
    # One thread keeps tests deterministic and fast on a 2-core CI machine running two workers.
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
