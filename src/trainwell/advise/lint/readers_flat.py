"""Readers for flat key: value dialects built on HF TrainingArguments: HF dumps and TRL /
alignment-handbook YAML, LLaMA-Factory, axolotl, and hand-written training-script argument dumps.

HF-based dialects get HF's defaults for keys the file leaves out, because that is what the trainer
will run with: a TRL YAML without ``max_grad_norm`` clips at 1.0, one without ``warmup_ratio`` has
no warmup. Script dumps get no defaults: an absent key there is simply unknown.
"""

from __future__ import annotations

from typing import Any

from trainwell.advise.lint.readers import (
    DIALECTS,
    Dialect,
    Table,
    apply_table,
    precision_name,
    read_model_name,
    read_optimizer_name,
    strategy,
    unknown_keys,
)
from trainwell.advise.lint.view import ConfigView, flag, integer, optimizer_family, positive_integer, scheduler_name
from trainwell.config.paths import get_path
from trainwell.values import to_float

# TrainingArguments fields (transformers 4.x and 5.x), so a valid HF key is never called unknown.
HF_FIELDS = frozenset(
    """output_dir overwrite_output_dir do_train do_eval do_predict eval_strategy evaluation_strategy prediction_loss_only
    per_device_train_batch_size per_device_eval_batch_size per_gpu_train_batch_size per_gpu_eval_batch_size
    gradient_accumulation_steps eval_accumulation_steps eval_delay torch_empty_cache_steps learning_rate weight_decay
    adam_beta1 adam_beta2 adam_epsilon max_grad_norm num_train_epochs max_steps lr_scheduler_type lr_scheduler_kwargs
    warmup_ratio warmup_steps log_level log_level_replica log_on_each_node logging_dir logging_strategy logging_first_step
    logging_steps logging_nan_inf_filter save_strategy save_steps save_total_limit save_safetensors save_on_each_node
    save_only_model restore_callback_states_from_checkpoint no_cuda use_cpu use_mps_device seed data_seed jit_mode_eval
    use_ipex bf16 fp16 fp16_opt_level half_precision_backend bf16_full_eval fp16_full_eval tf32 local_rank ddp_backend
    tpu_num_cores tpu_metrics_debug debug dataloader_drop_last eval_steps dataloader_num_workers dataloader_prefetch_factor
    past_index run_name disable_tqdm remove_unused_columns label_names load_best_model_at_end metric_for_best_model
    greater_is_better ignore_data_skip fsdp fsdp_min_num_params fsdp_config fsdp_transformer_layer_cls_to_wrap
    accelerator_config parallelism_config deepspeed label_smoothing_factor optim optim_args adafactor group_by_length
    length_column_name report_to ddp_find_unused_parameters ddp_bucket_cap_mb ddp_broadcast_buffers dataloader_pin_memory
    dataloader_persistent_workers dataloader_multiprocessing_context dataloader_in_order skip_memory_metrics
    use_legacy_prediction_loop push_to_hub resume_from_checkpoint hub_model_id hub_strategy hub_token hub_private_repo
    hub_always_push hub_revision gradient_checkpointing gradient_checkpointing_kwargs include_inputs_for_metrics
    include_for_metrics eval_do_concat_batches fp16_backend push_to_hub_model_id push_to_hub_organization
    push_to_hub_token mp_parameters auto_find_batch_size full_determinism torchdynamo ray_scope ddp_timeout torch_compile
    torch_compile_backend torch_compile_mode include_tokens_per_second include_num_input_tokens_seen neftune_noise_alpha
    optim_target_modules batch_eval_metrics eval_on_start use_liger_kernel liger_kernel_config eval_use_gather_object
    average_tokens_across_devices activation_checkpointing activation_checkpointing_kwargs use_cache project
    trackio_space_id trackio_bucket_id trackio_static_space_id enable_jit_checkpoint train_sampling_strategy
    ddp_static_graph early_stopping_patience early_stopping_threshold""".split()
)
# TRL configs (SFT/DPO/ORPO/KTO/GRPO) and alignment-handbook model/script arguments.
TRL_FIELDS = frozenset(
    """model_name_or_path model_revision torch_dtype attn_implementation trust_remote_code use_peft lora_r lora_alpha
    lora_dropout lora_target_modules lora_modules_to_save lora_task_type use_rslora use_dora load_in_8bit load_in_4bit
    bnb_4bit_quant_type use_bnb_nested_quant bnb_4bit_compute_dtype chat_template dataset_name dataset_config
    dataset_mixture dataset_train_split dataset_test_split dataset_num_proc dataset_text_field dataset_kwargs
    dataset_batch_size max_seq_length max_length packing padding_free eos_token pad_token completion_only_loss
    assistant_only_loss model_init_kwargs beta loss_type max_prompt_length max_completion_length ref_model_init_kwargs
    reference_free label_pad_token_id truncation_mode precompute_ref_log_probs rpo_alpha generate_during_eval
    num_generations temperature use_vllm reward_funcs tokenizer_name_or_path system_prompt desirable_weight
    undesirable_weight""".split()
)

HF_TABLE: Table = (
    ("lr", ("learning_rate",), to_float),
    ("weight_decay", ("weight_decay",), to_float),
    ("warmup_ratio", ("warmup_ratio",), to_float),
    ("scheduler", ("lr_scheduler_type",), lambda v: scheduler_name(str(v))),
    ("max_grad_norm", ("max_grad_norm",), to_float),
    ("batch_size", ("per_device_train_batch_size",), integer),
    ("accumulation", ("gradient_accumulation_steps",), integer),
    ("epochs", ("num_train_epochs",), to_float),
    ("max_steps", ("max_steps",), positive_integer),
    ("eval_strategy", ("eval_strategy", "evaluation_strategy"), strategy),
    ("eval_every", ("eval_steps",), to_float),
    ("save_strategy", ("save_strategy",), strategy),
    ("save_every", ("save_steps",), to_float),
    ("save_total_limit", ("save_total_limit",), integer),
    ("load_best", ("load_best_model_at_end",), flag),
    ("metric", ("metric_for_best_model",), str),
    ("patience", ("early_stopping_patience",), integer),
    ("seed", ("seed",), integer),
    ("logging_steps", ("logging_steps",), to_float),
)


def _hf_defaults() -> dict[str, Any]:
    """HF's defaults as lint facts, read through HF_TABLE from the one list of them (advise/hf.py)."""
    from trainwell.advise import hf

    out: dict[str, Any] = {}
    for fact, names, convert in HF_TABLE:
        value = convert(hf.HF_DEFAULTS[names[0]]) if names[0] in hf.HF_DEFAULTS else None
        if value is not None:
            out[fact] = value
    # Facts that come from more than one HF key, or from a key by more than its value.
    steps = int(hf.HF_DEFAULTS["warmup_steps"])
    precision = "bf16" if hf.HF_DEFAULTS["bf16"] else "fp16" if hf.HF_DEFAULTS["fp16"] else "fp32"
    optimizer = str(hf.HF_DEFAULTS["optim"])
    return out | {"warmup_steps": steps, "warmup_ratio": 0.0, "precision": precision, "optimizer": optimizer,
                  "optimizer_family": optimizer_family(optimizer)}  # fmt: skip


HF_DEFAULTS: dict[str, Any] = _hf_defaults()


def _read_warmup_steps(view: ConfigView, data: dict[str, Any]) -> None:
    """HF 5 folds warmup_ratio into warmup_steps: a value below 1 is a ratio of the total steps."""
    value = to_float(data.get("warmup_steps"))
    if value is None:
        return
    if 0 < value < 1:
        view.set("warmup_ratio", value, "warmup_steps")
    else:
        view.set("warmup_steps", int(value), "warmup_steps")


def _read_precision(view: ConfigView, data: dict[str, Any]) -> None:
    for key, name in (("bf16", "bf16"), ("pure_bf16", "bf16"), ("fp16", "fp16")):
        value = data.get(key)
        if value == "auto":
            view.set("precision", "auto", key)
            return
        if flag(value):
            view.set("precision", name, key)
            return
    if any(flag(data.get(k)) is False for k in ("bf16", "fp16")):
        view.set("precision", "fp32", "bf16/fp16")


def _read_mode(view: ConfigView, data: dict[str, Any]) -> None:
    """greater_is_better, or HF's own default: True unless metric_for_best_model ends with 'loss'."""
    better = flag(data.get("greater_is_better"))
    if better is not None:
        view.set("mode", "max" if better else "min", "greater_is_better")
    elif view.metric:
        view.set("mode", "min" if view.metric.endswith("loss") else "max", "greater_is_better (HF default: from the metric name)")
    elif view.load_best:
        view.set("metric", "loss", "metric_for_best_model (HF default)")
        view.set("mode", "min", "greater_is_better (HF default)")


def _cadence_defaults(view: ConfigView) -> None:
    """HF: eval_steps defaults to logging_steps; an 'epoch' strategy fires once per epoch."""
    if view.eval_strategy == "steps" and not view.known("eval_every") and view.logging_steps:
        view.set("eval_every", view.logging_steps, "eval_steps (HF default: logging_steps)")
    for strat, every in (("eval_strategy", "eval_every"), ("save_strategy", "save_every")):
        if getattr(view, strat) == "epoch":
            view.set(every, 1.0, f"{view.where(strat)} (once per epoch)")


def _read_lora(view: ConfigView, data: dict[str, Any]) -> None:
    lora = flag(data.get("use_peft")) or (data.get("lora_r") is not None and flag(data.get("use_peft")) is not False)
    if lora:
        quantized = flag(data.get("load_in_4bit")) or flag(data.get("load_in_8bit"))
        view.set("training_mode", "qlora" if quantized else "lora", "use_peft")
    elif view.known("model_name"):
        view.set("training_mode", "full", "no use_peft")


def read_loraplus(view: ConfigView, data: dict[str, Any]) -> None:
    """LoRA+ (LLaMA-Factory and axolotl ``loraplus_lr_ratio``): the B matrices train at lr x ratio."""
    ratio = to_float(data.get("loraplus_lr_ratio"))
    if ratio is not None:
        view.set("loraplus_ratio", ratio, "loraplus_lr_ratio")


def read_hf_like(view: ConfigView, data: dict[str, Any], framework: str = "HF") -> set[str]:
    """The HF TrainingArguments part every HF-based dialect shares; returns the keys it consumed."""
    used = apply_table(view, data, HF_TABLE)
    _read_warmup_steps(view, data)
    _read_precision(view, data)
    read_optimizer_name(view, data.get("optim"), "optim")
    keys = {fact: names[0] for fact, names, _ in HF_TABLE} | {
        "warmup_steps": "warmup_steps",
        "precision": "bf16",
        "optimizer": "optim",
        "optimizer_family": "optim",
    }
    for fact, value in HF_DEFAULTS.items():
        view.default(fact, value, keys[fact], framework)
    _read_mode(view, data)
    _cadence_defaults(view)
    return used


def _detect_hf(data: dict[str, Any]) -> int:
    marks = ("per_device_train_batch_size", "num_train_epochs", "lr_scheduler_type", "eval_strategy", "evaluation_strategy",
             "gradient_accumulation_steps", "save_strategy", "logging_steps", "load_best_model_at_end")  # fmt: skip
    hits = sum(k in data for k in marks)
    return 70 if hits >= 2 else 0


# TRL preference trainers (DPO, ORPO, KTO, CPO) take these; SFT does not. Their LRs sit far below SFT's.
_PREFERENCE_KEYS = ("beta", "max_prompt_length", "precompute_ref_log_probs", "ref_model_init_kwargs", "desirable_weight", "rpo_alpha")


def _read_hf(view: ConfigView) -> None:
    data = view.raw
    read_model_name(view, data, ("model_name_or_path",))
    marker = next((k for k in _PREFERENCE_KEYS if k in data), None)
    if marker:
        view.set("stage", "preference", marker)
    read_hf_like(view, data)
    _read_lora(view, data)
    # "_n_gpu" and similar private fields appear in TrainingArguments.to_dict() dumps; they are HF's, not typos.
    view.unknown = [k for k in unknown_keys(data, HF_FIELDS | TRL_FIELDS) if not k.startswith("_")]


DIALECTS.register("hf", Dialect("hf", "HF TrainingArguments / TRL / alignment-handbook", _detect_hf, _read_hf))

# --- LLaMA-Factory ----------------------------------------------------------------------------------

LLAMAFACTORY_FIELDS = frozenset(
    """stage finetuning_type lora_rank lora_alpha lora_dropout lora_target additional_target template dataset eval_dataset
    dataset_dir cutoff_len max_samples overwrite_cache preprocessing_num_workers val_size plot_loss use_galore
    galore_layerwise galore_target galore_rank galore_scale galore_update_interval galore_proj_type use_badam use_apollo
    pref_beta pref_loss pref_ftx quantization_bit quantization_method pure_bf16 freeze_trainable_layers
    freeze_trainable_modules use_dora use_rslora pissa_init flash_attn enable_liger_kernel use_unsloth mix_strategy
    streaming buffer_size packing neat_packing tokenized_path image_max_pixels video_max_pixels rope_scaling
    upcast_layernorm booster cache_dir export_dir adapter_name_or_path create_new_adapter use_muon use_adam_mini
    loraplus_lr_ratio loraplus_lr_embedding badam_mode badam_switch_mode badam_switch_interval badam_update_ratio
    apollo_rank apollo_scale apollo_target""".split()
)


def _detect_llamafactory(data: dict[str, Any]) -> int:
    return 90 if "stage" in data and ("finetuning_type" in data or "template" in data) else 0


def _read_llamafactory(view: ConfigView) -> None:
    data = view.raw
    read_model_name(view, data, ("model_name_or_path",))
    if isinstance(data.get("stage"), str):
        view.set("stage", data["stage"], "stage")
    if flag(data.get("use_muon")):
        # LLaMA-Factory's use_muon swaps the optimizer for Muon (2-D weights; AdamW for the rest): not AdamW's LR scale.
        view.set("optimizer", "muon", "use_muon")
        view.set("optimizer_family", "muon", "use_muon")
    elif flag(data.get("use_galore")):
        # GaLore projects AdamW's gradients; the LR and decay semantics stay AdamW's.
        view.set("optimizer", "galore_adamw", "use_galore")
        view.set("optimizer_family", "adamw", "use_galore")
    read_hf_like(view, data, "HF (LLaMA-Factory)")
    ftype = str(data.get("finetuning_type", "lora"))  # LLaMA-Factory's default is lora
    mode = {"lora": "lora", "full": "full", "freeze": "frozen"}.get(ftype)
    if mode == "lora" and data.get("quantization_bit") is not None:
        mode = "qlora"
    if mode:
        view.set("training_mode", mode, "finetuning_type")
    read_loraplus(view, data)
    view.unknown = unknown_keys(data, HF_FIELDS | TRL_FIELDS | LLAMAFACTORY_FIELDS)


DIALECTS.register("llamafactory", Dialect("llamafactory", "LLaMA-Factory", _detect_llamafactory, _read_llamafactory))

# --- axolotl -------------------------------------------------------------------------------------------

AXOLOTL_TABLE: Table = (
    ("batch_size", ("micro_batch_size",), integer),
    ("epochs", ("num_epochs",), to_float),
    ("scheduler", ("lr_scheduler",), lambda v: scheduler_name(str(v))),
    ("warmup_steps", ("warmup_steps",), integer),
)
AXOLOTL_FIELDS = frozenset(
    """base_model base_model_config model_type tokenizer_type tokenizer_config trust_remote_code load_in_8bit load_in_4bit
    strict chat_template eot_tokens datasets test_datasets dataset_prepared_path val_set_size output_dir adapter
    lora_model_dir lora_r lora_alpha lora_dropout lora_target_linear lora_target_modules lora_modules_to_save
    sequence_len sample_packing eval_sample_packing pad_to_sequence_len wandb_project wandb_entity wandb_watch wandb_name
    wandb_log_model micro_batch_size num_epochs optimizer lr_scheduler train_on_inputs group_by_length
    gradient_checkpointing gradient_checkpointing_kwargs early_stopping_patience logging_steps xformers_attention
    flash_attention attn_implementation sdp_attention s2_attention loss_watchdog_threshold loss_watchdog_patience
    warmup_steps warmup_ratio evals_per_epoch eval_table_size saves_per_epoch debug deepspeed fsdp fsdp_config
    special_tokens tokens resume_from_checkpoint local_rank hub_model_id plugins liger_rope liger_rms_norm
    liger_glu_activation liger_layer_norm liger_fused_linear_cross_entropy cut_cross_entropy save_first_step
    eval_max_new_tokens lr_quadratic_warmup cosine_min_lr_ratio loraplus_lr_ratio loraplus_lr_embedding optim_args
    optim_target_modules muon_lr""".split()
)


def _detect_axolotl(data: dict[str, Any]) -> int:
    marks = ("base_model", "micro_batch_size", "sequence_len", "adapter", "num_epochs", "lr_scheduler", "val_set_size")
    return 85 if sum(k in data for k in marks) >= 2 else 0


def _read_axolotl_cadence(view: ConfigView, data: dict[str, Any]) -> None:
    """val_set_size 0 means no evaluation at all; evals/saves_per_epoch become step cadences per epoch."""
    val = to_float(data.get("val_set_size"))
    if val is not None and val <= 0 and not data.get("test_datasets"):
        view.set("eval_strategy", "no", "val_set_size")
    elif data.get("evals_per_epoch") or data.get("eval_steps"):
        key = "evals_per_epoch" if data.get("evals_per_epoch") else "eval_steps"
        view.set("eval_strategy", "steps", key)
        if key == "evals_per_epoch":  # a count per epoch, not a step interval; axolotl converts it at run time
            view.set("eval_every", None, key)
    if data.get("saves_per_epoch") or data.get("save_steps"):
        per_epoch = to_float(data.get("saves_per_epoch"))
        view.set("save_strategy", "epoch" if per_epoch == 1 else "steps", "saves_per_epoch" if per_epoch else "save_steps")


def _read_axolotl(view: ConfigView) -> None:
    data = view.raw
    read_model_name(view, data, ("base_model",))
    apply_table(view, data, AXOLOTL_TABLE)
    read_optimizer_name(view, data.get("optimizer"), "optimizer")
    _read_axolotl_cadence(view, data)
    adapter = data.get("adapter")
    view.set("training_mode", adapter if adapter in ("lora", "qlora") else "full", "adapter")
    # axolotl passes these through to HF TrainingArguments, so HF's defaults apply to what is left out.
    read_hf_like(view, {k: v for k, v in data.items() if k not in ("optimizer", "lr_scheduler")}, "HF (via axolotl)")
    read_loraplus(view, data)
    view.unknown = unknown_keys(data, AXOLOTL_FIELDS | HF_FIELDS)


DIALECTS.register("axolotl", Dialect("axolotl", "axolotl", _detect_axolotl, _read_axolotl))

# --- training-script argument dumps (argparse / dataclass dumps with common names) -----------------------

SCRIPT_TABLE: Table = (
    ("lr", ("learning_rate", "lr"), to_float),
    ("weight_decay", ("weight_decay", "wd"), to_float),
    ("warmup_ratio", ("warmup_ratio",), to_float),
    ("warmup_steps", ("warmup_steps", "num_warmup_steps"), integer),
    ("scheduler", ("lr_scheduler_type", "lr_scheduler", "scheduler"), lambda v: scheduler_name(str(v))),
    ("max_grad_norm", ("max_grad_norm", "grad_clip", "clip_grad_norm", "gradient_clip_val"), to_float),
    ("batch_size", ("per_device_train_batch_size", "train_batch_size", "batch_size"), integer),
    ("accumulation", ("gradient_accumulation_steps", "grad_accum_steps", "accumulation_steps", "grad_accum"), integer),
    ("epochs", ("num_train_epochs", "num_epochs", "epochs", "max_epochs"), to_float),
    ("max_steps", ("max_steps",), positive_integer),
    ("eval_every", ("eval_steps", "eval_every", "eval_interval"), to_float),
    ("save_every", ("save_steps", "save_every", "save_interval"), to_float),
    ("save_total_limit", ("save_total_limit", "keep_checkpoints"), integer),
    ("patience", ("early_stopping_patience", "patience"), integer),
    ("seed", ("seed",), integer),
    ("logging_steps", ("logging_steps", "log_every", "log_interval"), to_float),
    ("precision", ("dtype", "precision", "mixed_precision"), precision_name),
)
# Keys that only locate data or outputs: not hyperparameters, so not worth an "unknown" line.
SCRIPT_IGNORED = frozenset("output_dir data_path data_dir train_file validation_file cache_dir resume_from encoding".split())


def _detect_script(data: dict[str, Any]) -> int:
    marks = ("learning_rate", "lr", "batch_size", "epochs", "num_epochs", "weight_decay", "model_name")
    return 30 if sum(k in data for k in marks) >= 2 else 0


def _read_script(view: ConfigView) -> None:
    data = view.raw
    used = apply_table(view, data, SCRIPT_TABLE)
    used |= {k for k in ("model_name", "model_name_or_path", "model") if read_model_name(view, data, (k,))}
    read_optimizer_name(view, get_path(data, "optimizer") or get_path(data, "optim"), "optimizer")
    used |= {"optimizer", "optim"}
    for fact, strat in (("eval_every", "eval_strategy"), ("save_every", "save_strategy")):
        if view.known(fact) and (getattr(view, fact) or 0) > 0:
            view.set(strat, "steps", view.where(fact))
    if flag(data.get("fp16")) or flag(data.get("bf16")):
        view.set("precision", "fp16" if flag(data.get("fp16")) else "bf16", "fp16" if flag(data.get("fp16")) else "bf16")
        used |= {"fp16", "bf16"}
    view.unknown = [k for k in unknown_keys(data, used | SCRIPT_IGNORED)]


DIALECTS.register("script", Dialect("script", "training-script argument dump", _detect_script, _read_script))
