"""SFT advice (advise/_rules_sft.py): 003's epoch table row by row for LoRA, the lower full fine-tuning rates,
the adapter read from the model, LoRA rank/alpha/dropout, clip 0.3 vs 1.0, memory-aware micro-batches."""

from __future__ import annotations

import json

import pytest

from trainwell.advise.recommender import Profile, decide, recommend
from trainwell.cli.main import main
from trainwell.errors import ConfigError


@pytest.mark.parametrize(
    ("epochs", "lr", "schedule", "warmup", "wd"),
    [
        (1, 2e-4, "linear", 0.03, 0.0),
        (2, 1e-4, "linear", 0.03, 0.0),
        (5, 5e-5, "cosine", 0.05, 0.01),
        (10, 3e-5, "cosine", 0.1, 0.05),
        (20, 1e-5, "cosine", 0.1, 0.1),
    ],
)
def test_003_quick_reference_rows_are_reproduced_for_lora(epochs: int, lr: float, schedule: str, warmup: float, wd: float) -> None:
    rec = recommend(Profile("llm", "finetune", epochs=epochs, adapter="lora"))
    c = rec.config
    assert (c.optimizer.lr, c.schedule.name, c.schedule.warmup, c.optimizer.weight_decay) == (lr, schedule, warmup, wd)
    assert c.training.max_grad_norm == 0.3 and c.task == "causal-lm" and c.model["adapter"] == "lora"
    reason = rec.reason_for("optimizer.lr")
    assert reason is not None and reason.rule == f"budget.003-{epochs}-epochs" and "003 §Quick Reference Table" in reason.source
    wd_reason = rec.reason_for("optimizer.weight_decay")
    assert wd_reason is not None and "as the budget grows" not in wd_reason.why  # the old text stood next to 0.0


@pytest.mark.parametrize(
    ("epochs", "lr", "cited"), [(1, 5e-5, "001"), (2, 3e-5, "000"), (5, 2e-5, "001"), (10, 1e-5, "003"), (20, 1e-5, "003")]
)
def test_full_finetuning_gets_the_lower_sourced_rates(epochs: int, lr: float, cited: str) -> None:
    full = recommend(Profile("llm", "finetune", epochs=epochs, adapter="full"))
    lora = recommend(Profile("llm", "finetune", epochs=epochs, adapter="lora"))
    assert full.config.optimizer.lr == lr and 1e-5 <= lr <= 5e-5  # 001's AdamW fine-tuning range, floored at 003's 1e-5
    assert full.config.optimizer.lr <= lora.config.optimizer.lr
    reason = full.reason_for("optimizer.lr")
    assert reason is not None and reason.rule == f"budget.full-{epochs}-epochs" and reason.source.startswith(cited)
    # Everything but the LR follows 003's row for the same budget.
    for path in ("schedule", "optimizer"):
        a, b = getattr(full.config, path), getattr(lora.config, path)
        assert (a.name if path == "schedule" else a.weight_decay) == (b.name if path == "schedule" else b.weight_decay)
    assert full.config.training.max_grad_norm == 1.0 and full.config.model == {"adapter": "none"}
    assert "clip.full-sft" in full.rules and "clip.llm-sft" in lora.rules


def test_the_adapter_is_read_from_the_model_when_not_given() -> None:
    lora = decide(Profile("llm", "finetune", epochs=2, params=1_000_000_000, trainable_params=4_000_000))[0]
    full = decide(Profile("llm", "finetune", epochs=2, params=1_000_000_000, trainable_params=1_000_000_000))[0]
    unknown = decide(Profile("llm", "finetune", epochs=2))[0]
    assert "budget.003-2-epochs" in lora.fired and "budget.full-2-epochs" in full.fired
    assert "budget.003-2-epochs" in unknown.fired  # 003's own setting


@pytest.mark.parametrize(("params", "dropout"), [(7_000_000_000, 0.1), (13_000_000_000, 0.1), (70_000_000_000, 0.05), (None, 0.05)])
def test_lora_rank_alpha_and_dropout(params: int | None, dropout: float) -> None:
    rec = recommend(Profile("llm", "finetune", params=params))
    assert rec.config.model == {"adapter": "lora", "lora_r": 16, "lora_alpha": 16, "lora_dropout": dropout, "lora_target_modules": "auto"}
    reason = rec.reason_for("model.lora_r")
    assert reason is not None and "r=16 → r=32" in reason.source and "Hu et al. 2021" in reason.source


def test_micro_batch_from_memory_counts_optimizer_state_for_trained_parameters_only() -> None:
    # LoRA on 7B: 28 GB of fp32 weights + 12 B x 40M trained = 28.5 GB of 72 GB usable; activations 2.48 GB per sequence.
    lora = recommend(Profile("llm", "finetune", params=7_000_000_000, trainable_params=40_000_000, width=4096, gpu_memory=80))
    assert (lora.config.batch.size, lora.config.batch.accumulation) == (16, 4)
    # The same model fully fine-tuned: 16 B x 7B = 112 GB does not fit 80 GB.
    full = recommend(Profile("llm", "finetune", params=7_000_000_000, adapter="full", width=4096, gpu_memory=80))
    reason = full.reason_for("batch.size")
    assert (full.config.batch.size, full.config.batch.accumulation) == (1, 64)
    assert reason is not None and "does not fit" in reason.why and "LoRA" in reason.why
    # Without the width the activations are unknown: 003's 1 per device, accumulate to 64.
    blind = recommend(Profile("llm", "finetune", params=1_000_000_000, gpu_memory=80, gpus=2))
    assert (blind.config.batch.size, blind.config.batch.accumulation) == (1, 32)
    assert all(r.config.batch.size * r.config.batch.accumulation * (r.profile.gpus or 1) == 64 for r in (lora, full, blind) if r.profile)


def test_precision_is_bf16_where_supported_else_resolved_at_start() -> None:
    assert recommend(Profile("llm", "finetune", bf16=True)).config.training.precision == "bf16"
    assert recommend(Profile("llm", "finetune")).config.training.precision == "auto"


def test_cli_gives_different_sourced_lrs_for_lora_and_full(capsys: pytest.CaptureFixture[str]) -> None:
    out = {}
    for adapter in ("lora", "full"):
        assert main(["recommend", "--model", "llm", "--mode", "finetune", "--adapter", adapter, "--epochs", "3", "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        out[adapter] = next(r for r in data["reasons"] if r["field"] == "optimizer.lr")
    assert (out["lora"]["value"], out["full"]["value"]) == (1e-4, 3e-5)
    assert out["lora"]["source"] != out["full"]["source"] and "000 §2.2.1" in out["full"]["source"]
    assert main(["recommend", "--model", "llm", "--adapter", "qlora"]) == 2
    with pytest.raises(ConfigError, match=r"profile\.adapter"):
        Profile("llm", "finetune", adapter="qlora")


def test_export_writes_trl_and_peft_fields_and_import_reads_them_back() -> None:
    from trainwell.advise.hf import to_hf
    from trainwell.advise.hf_import import from_hf
    from trainwell.config import load_config

    config = load_config(
        {
            "task": "causal-lm",
            "model": {
                "name_or_path": "./tiny",
                "adapter": "lora",
                "lora_r": 8,
                "lora_alpha": 16,
                "lora_target_modules": ["q_proj", "v_proj"],
            },
            "data": {"options": {"max_length": 256, "packing": True}},
            "training": {"max_grad_norm": 0.3},
        }
    )
    out = to_hf(config, hf_major=5).data
    assert {k: out[k] for k in ("model_name_or_path", "use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")} == {
        "model_name_or_path": "./tiny",
        "use_peft": True,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "lora_target_modules": ["q_proj", "v_proj"],
    }
    assert (out["max_length"], out["packing"], out["completion_only_loss"]) == (256, True, True)
    back = from_hf(json.loads(json.dumps(out))).data
    assert back["task"] == "causal-lm" and back["data"]["options"] == {"max_length": 256, "packing": True}
    assert back["model"] == {k: v for k, v in config.model.items()} | {"lora_dropout": 0.05}
    full = to_hf(load_config({"task": "causal-lm", "model": {"name_or_path": "./tiny"}}), hf_major=5).data
    assert full["use_peft"] is False and "lora_r" not in full


@pytest.mark.parametrize("imbalance", [7.0, 12.0])
def test_class_imbalance_rules_leave_an_llm_on_next_token_cross_entropy(imbalance: float) -> None:
    # the severe-imbalance rule gave an LLM profile focal loss and macro-F1, which the causal-lm task refuses to train
    c = recommend(Profile("llm", "finetune", imbalance=imbalance)).config
    assert (c.loss.name, c.loss.class_weights, c.evaluation.metric) == ("cross_entropy", "none", "val_loss")
    mlp = recommend(Profile("mlp", "scratch", imbalance=imbalance)).config
    assert mlp.evaluation.metric == "val_f1_macro" and (mlp.loss.name == "focal" or mlp.loss.class_weights == "auto")
