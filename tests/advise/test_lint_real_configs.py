"""Lint on the 19 real configs in ../shared/data/configs: none may crash, each is read as the right
dialect, and the findings a practitioner would expect (and only those worth a warning) appear."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainwell.advise.lint import lint_file

CONFIGS = "configs"

# file -> dialect lint must read it as
DIALECT = {
    "AdilzhanB__Swin-EuroSAT__training_args.json": "script",
    "Green-Wood__CoMER__lightning_logs__version_0__config.yaml": "lightning",
    "Pectics__vad-macbert__training_args.json": "script",
    "ashleve__lightning-hydra-template__configs__experiment__example.yaml": "hydra",
    "ashleve__lightning-hydra-template__configs__model__mnist.yaml": "hydra",
    "ashleve__lightning-hydra-template__configs__trainer__default.yaml": "hydra",
    "axolotl-ai-cloud__axolotl__examples__gemma2__qlora.yml": "axolotl",
    "axolotl-ai-cloud__axolotl__examples__llama-3__fft-8b.yaml": "axolotl",
    "axolotl-ai-cloud__axolotl__examples__llama-3__lora-1b.yml": "axolotl",
    "axolotl-ai-cloud__axolotl__examples__llama-3__qlora-1b.yml": "axolotl",
    "hiyouga__LLaMA-Factory__examples__extras__galore__llama3_full_sft.yaml": "llamafactory",
    "hiyouga__LLaMA-Factory__examples__train_full__qwen3_full_sft.yaml": "llamafactory",
    "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_dpo.yaml": "llamafactory",
    "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_sft.yaml": "llamafactory",
    "huggingface__alignment-handbook__recipes__smollm2__sft__config.yaml": "hf",
    "huggingface__alignment-handbook__recipes__zephyr-7b-beta__sft__config_full.yaml": "hf",
    "huggingface__alignment-handbook__recipes__zephyr-7b-beta__sft__config_qlora.yaml": "hf",
    "pytorch__torchtune__recipes__configs__llama3_2__1B_full_single_device.yaml": "torchtune",
    "pytorch__torchtune__recipes__configs__llama3_2__1B_lora_single_device.yaml": "torchtune",
}

# file -> exactly the (rule, severity) findings above info level, plus selected infos that must be there
EXPECTED = {
    # torchtune full: no scheduler (constant LR from step 0) on Llama, clip_grad_norm null, no validation
    "pytorch__torchtune__recipes__configs__llama3_2__1B_full_single_device.yaml": {
        ("no-clipping", "warning"), ("transformer-no-warmup", "warning"), ("no-evaluation", "info")},
    # torchtune LoRA: 100 warmup steps are fine; seed null and no clipping are not
    "pytorch__torchtune__recipes__configs__llama3_2__1B_lora_single_device.yaml": {
        ("no-clipping", "warning"), ("seed-missing", "warning"), ("no-evaluation", "info")},
    # CoMER: a transformer decoder (nhead) with gradient_clip_val 0.0, and Lightning 1.x Trainer keys
    "Green-Wood__CoMER__lightning_logs__version_0__config.yaml": {("no-clipping", "warning"), ("lightning-1x-keys", "info")},
    # LLaMA-Factory DPO at 5e-6 is normal for DPO: no LR finding; eval is commented out, save every 500 w/o limit
    "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_dpo.yaml": {("checkpoint-limit", "info"), ("no-evaluation", "info")},
    # LoRA at 1e-4 is in the adapter band
    "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_sft.yaml": {("checkpoint-limit", "info"), ("no-evaluation", "info")},
    # alignment-handbook zephyr full SFT: a clean config (warmup 0.1, HF default clipping, seed, limit 1)
    "huggingface__alignment-handbook__recipes__zephyr-7b-beta__sft__config_full.yaml": set(),
    "huggingface__alignment-handbook__recipes__zephyr-7b-beta__sft__config_qlora.yaml": set(),
    # axolotl gemma2: val_set_size 0.0 means no evaluation; QLoRA at 2e-4 is fine
    "axolotl-ai-cloud__axolotl__examples__gemma2__qlora.yml": {("no-evaluation", "info")},
    "axolotl-ai-cloud__axolotl__examples__llama-3__fft-8b.yaml": set(),
    # real-run dumps: Swin records no seed; MacBERT runs fp16 and saves every 100 steps with no limit
    "AdilzhanB__Swin-EuroSAT__training_args.json": {("seed-missing", "warning")},
    "Pectics__vad-macbert__training_args.json": {("fp16-on-bf16-hardware", "info"), ("checkpoint-limit", "info")},
    # Hydra pieces are partial: nothing "missing" is reported, only that the file is partial
    "ashleve__lightning-hydra-template__configs__model__mnist.yaml": {("partial-config", "info")},
    "ashleve__lightning-hydra-template__configs__trainer__default.yaml": {("partial-config", "info")},
}  # fmt: skip


def _path(shared_data: Path, name: str) -> Path:
    return shared_data / CONFIGS / name


def test_every_real_config_is_listed(shared_data: Path) -> None:
    on_disk = {p.name for p in (shared_data / CONFIGS).iterdir() if p.suffix in (".json", ".yaml", ".yml")}
    assert on_disk == set(DIALECT)


@pytest.mark.parametrize("name", sorted(DIALECT))
def test_real_config_reads_as_its_dialect_without_errors(shared_data: Path, name: str) -> None:
    report = lint_file(_path(shared_data, name))
    assert report.dialect == DIALECT[name]
    # These are maintained examples and published runs: lint may warn, but nothing in them is an error.
    assert not report.has_errors, [f.message for f in report.findings if f.severity == "error"]
    for finding in report.findings:
        assert finding.rule and finding.message and finding.source, finding


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_config_key_findings(shared_data: Path, name: str) -> None:
    report = lint_file(_path(shared_data, name))
    got = {(f.rule, f.severity) for f in report.findings if f.rule != "unknown-keys"}
    warnings = {(r, s) for r, s in got if s != "info"}
    expected = EXPECTED[name]
    assert warnings == {(r, s) for r, s in expected if s != "info"}
    assert expected <= got


def test_lora_and_dpo_learning_rates_are_judged_in_their_own_bands(shared_data: Path) -> None:
    for name in (
        "hiyouga__LLaMA-Factory__examples__train_lora__qwen3_lora_dpo.yaml",
        "axolotl-ai-cloud__axolotl__examples__llama-3__qlora-1b.yml",
    ):
        assert not [f for f in lint_file(_path(shared_data, name)).findings if f.rule == "lr-range"]


def test_unknown_keys_are_reported_as_info_not_dropped(shared_data: Path) -> None:
    report = lint_file(_path(shared_data, "Pectics__vad-macbert__training_args.json"))
    unknown = [f for f in report.findings if f.rule == "unknown-keys"]
    assert len(unknown) == 1 and unknown[0].severity == "info"
    assert "huber_delta" in unknown[0].value and "learning_rate" not in unknown[0].value
