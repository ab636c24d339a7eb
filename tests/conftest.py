"""Shared fixtures. Tests are CPU-only, tiny and deterministic; each should finish well under 2 s."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

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


@pytest.fixture(autouse=True)
def _no_leaked_globals(_torch_threads: None) -> Iterator[None]:
    """Fail a test whose library calls leave process-wide state changed (Lightning's fixtures do the same):
    threads, deterministic algorithms, cuDNN flags, environment variables. RNGs are left out: tests seed
    them on purpose. torch adds TORCHINDUCTOR_CACHE_DIR itself the first time determinism is switched on."""
    try:
        from trainwell.runtime import capture, leaks
    except ImportError:  # no torch: nothing of this kind to leak
        yield
        return
    saved = capture()
    yield
    # torch's and pytest's own, and the two scikit-learn sets (setdefault) when first imported, e.g. by
    # Optuna's parameter importances: an import's side effect, which no run can undo or repeat.
    ignored = {
        "environ[TORCHINDUCTOR_CACHE_DIR]",
        "environ[PYTEST_CURRENT_TEST]",
        "environ[KMP_DUPLICATE_LIB_OK]",
        "environ[KMP_INIT_AT_FORK]",
    }
    leaked = [name for name in leaks(saved) if not name.endswith("_rng") and name not in ignored]
    assert not leaked, f"the test left process-wide state changed: {leaked}"


CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus"  # the calibration corpus's scripts


@pytest.fixture
def corpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    """The corpus scripts' modules, imported the way the scripts import each other (by bare name), and
    forgotten afterwards so their generic names (``data``, ``plan``) cannot shadow another test's imports."""
    monkeypatch.syspath_prepend(str(CORPUS))
    yield {name: importlib.import_module(name) for name in ("ledger", "plan", "settings", "finder", "analysis", "decisions")}
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").parent == CORPUS:
            del sys.modules[name]
