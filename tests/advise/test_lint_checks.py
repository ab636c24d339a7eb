"""Every registered lint check fires on a config that breaks its rule and stays silent on one that
does not; every registered dialect is detected from a sample; the name classifiers behave."""

from __future__ import annotations

from typing import Any

import pytest

from trainwell.advise.lint import CHECKS, DIALECTS, build_view, lint_mapping
from trainwell.advise.lint.view import model_kind, model_params_b, optimizer_family, scheduler_name

# A clean HF fine-tuning config: no check should complain about it.
BASE: dict[str, Any] = {
    "model_name_or_path": "google-bert/bert-base-uncased", "learning_rate": 2e-5, "per_device_train_batch_size": 16,
    "num_train_epochs": 3, "warmup_ratio": 0.1, "seed": 42, "eval_strategy": "steps", "eval_steps": 100,
    "save_steps": 100, "save_total_limit": 3,
}  # fmt: skip
TRAINWELL: dict[str, Any] = {"task": "digits", "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01}}


def _hf(**patch: Any) -> dict[str, Any]:
    out = {**BASE, **patch}
    return {k: v for k, v in out.items() if v is not None}


# check id -> (config that breaks the rule, severity expected, config that keeps it)
CASES: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "adam-l2-decay": ({**TRAINWELL, "optimizer": {"name": "adam", "lr": 1e-3, "weight_decay": 0.01}}, "warning",
                      {**TRAINWELL, "optimizer": {"name": "adam", "lr": 1e-3, "weight_decay": 0.0}}),
    "transformer-no-warmup": (_hf(warmup_ratio=None), "warning", BASE),
    "no-clipping": (_hf(max_grad_norm=0.0), "warning", _hf(max_grad_norm=1.0)),
    "load-best-no-eval": (_hf(load_best_model_at_end=True, eval_strategy="no"), "error", _hf(load_best_model_at_end=True)),
    "load-best-cadence": (_hf(load_best_model_at_end=True, save_steps=150), "error", _hf(load_best_model_at_end=True, save_steps=200)),
    "metric-mode": (_hf(load_best_model_at_end=True, metric_for_best_model="eval_wer"), "error",
                    _hf(load_best_model_at_end=True, metric_for_best_model="eval_wer", greater_is_better=False)),
    "fp16-on-bf16-hardware": (_hf(fp16=True, model_name_or_path="meta-llama/Llama-3.2-1B"), "warning", _hf(bf16=True)),
    "accumulation-batch-fits": (_hf(per_device_train_batch_size=1, gradient_accumulation_steps=16), "info",
                                _hf(per_device_train_batch_size=16, gradient_accumulation_steps=1)),
    "patience-vs-cadence": (_hf(early_stopping_patience=1), "warning", _hf(early_stopping_patience=5)),
    "warmup-exceeds-total": (_hf(warmup_ratio=None, warmup_steps=200, max_steps=100), "error", _hf(max_steps=1000)),
    "warmup-both-set": (_hf(warmup_steps=50), "info", BASE),
    "checkpoint-limit": (_hf(save_total_limit=None), "info", BASE),
    "seed-missing": ({"learning_rate": 1e-3, "batch_size": 32, "epochs": 3}, "warning", {"learning_rate": 1e-3, "batch_size": 32, "epochs": 3, "seed": 1}),
    "no-evaluation": (_hf(eval_strategy="no"), "info", BASE),
    "lr-range": (_hf(learning_rate=1e-2), "warning", BASE),
    "family-expectations": (_hf(model_name_or_path="google/vit-base-patch16-224", weight_decay=0.001), "info",
                            _hf(model_name_or_path="google/vit-base-patch16-224", weight_decay=0.05)),
    "search-space-scale": (
        {"defaults": ["_self_"], "hydra": {"sweeper": {"params": {"model.optimizer.lr": "interval(0.0001, 0.1)"}}}}, "warning",
        {"defaults": ["_self_"], "hydra": {"sweeper": {"params": {"model.optimizer.lr": "tag(log, interval(0.0001, 0.1))"}}}}),
    "search-space-range": (
        {"defaults": ["_self_"], "model": {"optimizer": {"_target_": "torch.optim.AdamW", "lr": 1e-3}},
         "hydra": {"sweeper": {"params": {"model.optimizer.lr": "tag(log, interval(0.1, 10))"}}}}, "warning",
        {"defaults": ["_self_"], "model": {"optimizer": {"_target_": "torch.optim.AdamW", "lr": 1e-3}},
         "hydra": {"sweeper": {"params": {"model.optimizer.lr": "tag(log, interval(1e-4, 1e-2))"}}}}),
    "loraplus-ratio": ({"stage": "sft", "finetuning_type": "lora", "learning_rate": 1e-4, "loraplus_lr_ratio": 0.5}, "warning",
                       {"stage": "sft", "finetuning_type": "lora", "learning_rate": 1e-4, "loraplus_lr_ratio": 16}),
}  # fmt: skip


def _rules(data: dict[str, Any]) -> dict[str, str]:
    return {f.rule: f.severity for f in lint_mapping(data).findings}


def test_every_check_has_a_case() -> None:
    assert set(CASES) == set(CHECKS.names())


@pytest.mark.parametrize("check_id", CHECKS.names())
def test_check_fires_on_its_case_and_not_on_the_clean_one(check_id: str) -> None:
    bad, severity, good = CASES[check_id]
    assert _rules(bad).get(check_id) == severity
    assert check_id not in _rules(good)


@pytest.mark.parametrize("check_id", CHECKS.names())
def test_check_carries_summary_and_source(check_id: str) -> None:
    entry = CHECKS.get(check_id)
    assert entry.summary and entry.source and entry.severity in ("error", "warning", "info")
    bad, _, _ = CASES[check_id]
    for finding in entry.run(build_view(bad)):
        assert finding.source == entry.source and finding.fix and finding.message


def test_clean_base_has_no_findings() -> None:
    assert lint_mapping(BASE).findings == []


def test_findings_are_sorted_worst_first() -> None:
    findings = lint_mapping(_hf(load_best_model_at_end=True, eval_strategy="no", max_grad_norm=0, save_total_limit=None)).findings
    order = {"error": 0, "warning": 1, "info": 2}
    assert [order[f.severity] for f in findings] == sorted(order[f.severity] for f in findings)


def test_lr_range_is_mode_aware() -> None:
    lora = {"stage": "sft", "finetuning_type": "lora", "learning_rate": 2e-4, "model_name_or_path": "Qwen/Qwen3-4B"}
    assert "lr-range" not in _rules(lora)
    assert _rules({**lora, "finetuning_type": "full", "learning_rate": 5e-3}).get("lr-range") == "warning"
    assert "lr-range" not in _rules({**lora, "stage": "dpo", "learning_rate": 5e-7})
    # an alignment-handbook DPO recipe (TRL keys): 5e-7 is normal there, and would be far too low for SFT
    dpo = {**BASE, "model_name_or_path": "alignment-handbook/zephyr-7b-sft-full", "learning_rate": 5e-7, "optim": "adamw_torch"}
    assert _rules(dpo).get("lr-range") == "warning"
    assert "lr-range" not in _rules({**dpo, "beta": 0.01, "max_prompt_length": 512})
    # just outside the band is worth a note, not a warning
    assert _rules(_hf(learning_rate=1e-3)).get("lr-range") == "info"


def test_trainwell_config_is_validated_first() -> None:
    report = lint_mapping({**TRAINWELL, "evaluation": {"metric": "val_accuracy", "mode": "min"}, "optimzer": {}})
    assert report.dialect == "trainwell"
    errors = [(f.rule, f.where) for f in report.findings if f.severity == "error"]
    assert ("trainwell-config", "optimzer") in errors
    assert ("trainwell-config", "evaluation.mode") in errors
    assert len([e for e in errors if e[1] == "evaluation.mode"]) == 1  # not repeated by the metric-mode check


def test_garbage_values_are_unknown_not_a_crash() -> None:
    report = lint_mapping(
        {"learning_rate": "fast", "per_device_train_batch_size": [1, 2], "num_train_epochs": {"a": 1}, "eval_strategy": 3}
    )
    assert report.dialect == "hf"


SAMPLES: dict[str, dict[str, Any]] = {
    "trainwell": TRAINWELL,
    "hf": BASE,
    "llamafactory": {"stage": "sft", "finetuning_type": "lora", "learning_rate": 1e-4},
    "axolotl": {"base_model": "NousResearch/Llama-3.2-1B", "micro_batch_size": 2, "num_epochs": 1},
    "torchtune": {"model": {"_component_": "torchtune.models.llama3_2.lora_llama3_2_1b"}, "seed": None},
    "lightning": {"seed_everything": 1, "trainer": {"max_epochs": 3}, "model": {"lr": 1e-3}},
    "hydra": {"defaults": ["_self_"], "trainer": {"max_epochs": 3}},
    "script": {"learning_rate": 1e-3, "batch_size": 32},
    "unknown": {"foo": 1},
}


def test_every_dialect_has_a_sample() -> None:
    assert set(SAMPLES) == set(DIALECTS.names())


@pytest.mark.parametrize("dialect", DIALECTS.names())
def test_dialect_detected(dialect: str) -> None:
    assert build_view(SAMPLES[dialect]).dialect == dialect


@pytest.mark.parametrize(
    ("name", "kind", "size"),
    [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llm", 8.0),
        ("HuggingFaceTB/SmolLM2-1.7B", "llm", 1.7),
        ("torchtune.models.llama3_2.lora_llama3_2_1b", "llm", 1.0),
        ("microsoft/swin-base-patch4-window7-224", "vit", None),
        ("hfl/chinese-macbert-base", "transformer", None),
        ("src.models.components.simple_dense_net.SimpleDenseNet", "mlp", None),
        ("torchvision.models.resnet50", "resnet", None),
        ("EleutherAI/pythia-160m", "llm", 0.16),
        ("openai/whisper-small", "transformer", None),
        ("facebook/wav2vec2-base-960h", "transformer", None),
        ("microsoft/trocr-base-handwritten", "transformer", None),
        ("google/mt5-small", "transformer", None),
        ("facebook/detr-resnet-50", "transformer", None),
        ("openai/clip-vit-base-patch32", "vit", None),
    ],
)
def test_model_classifier(name: str, kind: str, size: float | None) -> None:
    assert model_kind(name) == kind
    assert model_params_b(name) == pytest.approx(size) if size is not None else model_params_b(name) is None


@pytest.mark.parametrize(
    ("name", "family"),
    [("adamw_torch_fused", "adamw"), ("paged_adamw_8bit", "adamw"), ("bitsandbytes.optim.PagedAdamW8bit", "adamw"),
     ("torch.optim.Adam", "adam"), ("adafactor", "adafactor"), ("lion_32bit", "lion"), ("sgd", "sgd"), ("adagrad", None), ("muon", "muon")],
)  # fmt: skip
def test_optimizer_family(name: str, family: str | None) -> None:
    assert optimizer_family(name) == family


@pytest.mark.parametrize(
    ("name", "ours"),
    [("torch.optim.lr_scheduler.ReduceLROnPlateau", "reduce_on_plateau"), ("cosine_with_min_lr", "cosine"),
     ("torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup", "cosine"), ("MultiStepLR", "multistep"), ("rex", "rex")],
)  # fmt: skip
def test_scheduler_name(name: str, ours: str) -> None:
    assert scheduler_name(name) == ours


@pytest.mark.parametrize(
    ("name", "family", "kind"),
    [("google-bert/bert-base-uncased", "bert", "transformer"), ("FacebookAI/roberta-base", "roberta", "transformer"),
     ("microsoft/deberta-v3-base", "deberta", "transformer"), ("openai-community/gpt2", "gpt2", "llm"),
     ("meta-llama/Llama-3.2-1B", "llama", "llm"), ("mistralai/Mistral-7B-v0.1", "llama", "llm"), ("t5-small", "t5", "transformer"),
     ("google/mt5-base", "t5", "transformer"), ("facebook/bart-large-cnn", "bart", "transformer"),
     ("openai/whisper-large-v3", "whisper", "transformer"), ("facebook/wav2vec2-large-xlsr-53", "wav2vec2", "transformer"),
     ("microsoft/trocr-small-printed", "trocr", "transformer"), ("google/vit-base-patch16-224", "vit", "vit"),
     ("facebook/detr-resnet-50", "detr", "transformer"), ("openai/clip-vit-large-patch14", "clip", "vit"),
     # model_type values and architecture class names name the same families
     ("whisper", "whisper", "transformer"), ("WhisperForConditionalGeneration", "whisper", "transformer"),
     ("Wav2Vec2ForCTC", "wav2vec2", "transformer"), ("VisionEncoderDecoderModel", "trocr", "transformer"),
     ("MT5ForConditionalGeneration", "t5", "transformer"), ("DetrForObjectDetection", "detr", "transformer"),
     ("CLIPModel", "clip", "vit"), ("LlamaForCausalLM", "llama", "llm"), ("GPT2LMHeadModel", "gpt2", "llm")],
)  # fmt: skip
def test_model_families(name: str, family: str, kind: str) -> None:
    from trainwell.advise.lint.view import model_family

    assert model_family(name) == (family, kind)
    assert model_kind(name) == kind


def test_speech_and_vision_transformers_get_the_transformer_checks() -> None:
    """Issue M item 6: Whisper, wav2vec2, TrOCR, mT5 and DETR were not transformers (DETR was a ResNet), so a
    config with no warmup and no clipping passed."""
    for name in (
        "openai/whisper-small",
        "facebook/wav2vec2-base",
        "microsoft/trocr-base-stage1",
        "google/mt5-small",
        "facebook/detr-resnet-50",
    ):
        rules = _rules(_hf(model_name_or_path=name, warmup_ratio=None, max_grad_norm=0.0))
        assert {"transformer-no-warmup", "no-clipping"} <= set(rules), name


def test_model_type_and_architectures_name_the_family_of_a_local_checkpoint() -> None:
    view = build_view(_hf(model_name_or_path="./checkpoints/run-3", model_type="whisper"))
    assert (view.model_family, view.model_kind, view.where("model_family")) == ("whisper", "transformer", "model_type")
    view = build_view({"base_model": "./local", "micro_batch_size": 2, "num_epochs": 1, "architectures": ["DetrForObjectDetection"]})
    assert view.model_family == "detr"


def test_sweeper_spaces_are_parsed_in_each_spelling() -> None:
    from trainwell.advise.lint.search_space import parse_override

    assert parse_override("lr", "w", "interval(0.0001, 0.1)") == parse_override("lr", "w", {"type": "float", "low": 1e-4, "high": 0.1})
    logged = parse_override("lr", "w", "tag(log, interval(1e-5, 1e-2))")
    assert logged is not None and logged.log and (logged.low, logged.high) == (1e-5, 1e-2)
    assert parse_override("lr", "w", {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}) == logged
    assert parse_override("bs", "w", "choice(32, 64, 128)").choices == (32.0, 64.0, 128.0)  # type: ignore[union-attr]
    assert parse_override("act", "w", "choice(relu, gelu)") is None  # names, not numbers
    assert parse_override("lr", "w", "0.001,0.002,0.003").choices == (0.001, 0.002, 0.003)  # type: ignore[union-attr]


def test_search_space_scale_flags_linear_weight_decay_and_evenly_spaced_choices() -> None:
    space = {"optimizer.weight_decay": "interval(0.0, 0.1)", "model.optimizer.lr": "choice(0.0001, 0.0334, 0.0667, 0.1)"}
    found = [
        f
        for f in lint_mapping({"defaults": ["_self_"], "hydra": {"sweeper": {"params": space}}}).findings
        if f.rule == "search-space-scale"
    ]
    assert [f.where for f in found] == ["hydra.sweeper.params.model.optimizer.lr"]  # a range from 0 has no decades to count
    space = {"model.optimizer.weight_decay": "interval(1e-5, 1e-1)", "model.net.hidden": "choice(64, 128, 256)"}
    found = [
        f
        for f in lint_mapping({"defaults": ["_self_"], "hydra": {"sweeper": {"params": space}}}).findings
        if f.rule == "search-space-scale"
    ]
    assert [f.where for f in found] == ["hydra.sweeper.params.model.optimizer.weight_decay"] and "tag(log" in found[0].fix


def test_muon_and_loraplus_keys_are_known_and_muon_is_not_read_as_adamw() -> None:
    """Issue M item 6: use_muon and loraplus_lr_ratio were unknown keys, and a Muon config was judged as AdamW."""
    data = {"stage": "sft", "finetuning_type": "full", "learning_rate": 0.02, "use_muon": True, "model_name_or_path": "Qwen/Qwen2.5-0.5B"}
    report = lint_mapping(data)
    view = build_view(data)
    assert (view.optimizer, view.optimizer_family) == ("muon", "muon")
    assert "lr-range" not in {f.rule for f in report.findings}  # AdamW's band is not Muon's
    lora = build_view({"stage": "sft", "finetuning_type": "lora", "learning_rate": 1e-4, "loraplus_lr_ratio": 16, "use_muon": False})
    assert lora.loraplus_ratio == 16 and not any(k.startswith("loraplus") or k == "use_muon" for k in lora.unknown)
    axolotl = build_view(
        {"base_model": "NousResearch/Llama-3.2-1B", "micro_batch_size": 2, "num_epochs": 1, "optimizer": "muon", "loraplus_lr_ratio": 16}
    )
    assert axolotl.optimizer_family == "muon" and axolotl.loraplus_ratio == 16 and "loraplus_lr_ratio" not in axolotl.unknown
