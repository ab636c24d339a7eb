"""The one training config. Every field carries one line of help, which the CLI and docs reuse.

Defaults are guide 000's "optimal stack" (AdamW, cosine with 10 % warmup, weight decay 0.01, clip 1.0,
patience 15, batch 32, 20 epochs, seed 42, keep 3 checkpoints). ``trainwell recommend`` replaces them
with values fitted to a task; this file only says what a bare config means.

Every section is a frozen dataclass: a config is changed by building a new one
(``trainwell.config.resolved.replace_paths``, ``dataclasses.replace``), never by assignment.

Range rules live in each field's metadata (``ge``, ``gt``, ``le``, ``lt``, ``choices``) so the validator
can collect every problem at once; cross-field rules live in ``config/rules.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from trainwell.errors import ConfigError, Problem

Precision = Literal["auto", "fp32", "bf16", "fp16"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Strategy = Literal["steps", "epoch", "no"]
Mode = Literal["min", "max"]
NanPolicy = Literal["skip", "stop"]
Toggle = Literal["auto", "on", "off"]


def fld(default: Any, help: str, **rules: Any) -> Any:
    """A dataclass field with its help text and range rules; mutable defaults are copied per instance."""
    meta = {"help": help, **rules}
    if isinstance(default, (list, dict)):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    path: str | None = fld(None, "dataset file or folder for tasks that read files (fashion-mnist, text-classification, tabular)")
    val_fraction: float = fld(
        0.2, "share of the training data held out for validation when the task has no validation split", gt=0.0, lt=1.0
    )
    limit: int | None = fld(None, "use at most this many training examples (for quick runs and tests)", ge=1)
    num_workers: int = fld(0, "DataLoader worker processes; 0 loads in the main process", ge=0, le=1024)
    options: dict[str, Any] = fld({}, "task-specific data options, e.g. {max_length: 64} for text-classification")


@dataclass(frozen=True)
class ParamGroupConfig:
    pattern: str = fld("*", "shell-style pattern over parameter names, e.g. 'backbone.*'")
    lr_scale: float = fld(1.0, "multiplier on optimizer.lr for matching parameters; 0 freezes them", ge=0.0)
    weight_decay: float | None = fld(None, "weight decay for matching parameters; null keeps optimizer.weight_decay", ge=0.0)


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = fld("adamw", "optimizer: adamw, adam, sgd, rmsprop, adafactor, lion, lamb (see `trainwell config optimizers`)")
    lr: float | Literal["find"] = fld(3e-5, "peak learning rate, or 'find' to run the LR range test first", gt=0.0, le=10.0)
    weight_decay: float = fld(0.01, "decoupled weight decay (AdamW-style); for adam/sgd/rmsprop it is L2 added to the gradient", ge=0.0)
    betas: tuple[float, float] = fld((0.9, 0.999), "Adam-family (beta1, beta2); GPT pretraining uses (0.9, 0.95)", ge=0.0, lt=1.0)
    eps: float = fld(1e-8, "Adam-family denominator epsilon", gt=0.0)
    momentum: float = fld(0.9, "momentum for sgd and rmsprop", ge=0.0, lt=1.0)
    nesterov: bool = fld(False, "Nesterov momentum for sgd (needs momentum > 0)")
    no_decay: list[str] = fld(["bias", "norm"], "name fragments exempt from weight decay; 1-D parameters are always exempt")
    fused: bool | None = fld(None, "use the fused kernel; null means fused where torch supports it (CUDA)")
    param_groups: list[ParamGroupConfig] = fld([], "per-group LR scale / weight decay, for discriminative fine-tuning and frozen backbones")
    kwargs: dict[str, Any] = fld({}, "extra keyword arguments passed to the optimizer's constructor")

    @property
    def peak(self) -> float:
        """The peak LR as a number: what the optimizer, its parameter groups and the schedule are built with.
        ``'find'`` is a request the orchestrator resolves (the LR range test) before anything is built."""
        if self.lr == "find":
            raise ConfigError(
                problems=[
                    Problem(
                        "optimizer.lr",
                        "must be a number to build an optimizer or schedule ('find' is resolved by the LR range test first)",
                        "find",
                        "train through trainwell.run.train (it runs the range test), or set optimizer.lr to a number",
                    )
                ]
            )
        return float(self.lr)


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = fld("cosine", "LR schedule (see `trainwell config schedules`)")
    warmup: float = fld(0.1, "warmup length: < 1 is a ratio of total steps, >= 1 is a step count", ge=0.0)
    min_lr_ratio: float = fld(0.0, "floor of cosine/linear/WSD decay as a fraction of the peak LR", ge=0.0, le=1.0)
    cycles: float | None = fld(
        None, "cosine: number of cosine waves (default 0.5); cosine_with_restarts: number of restarts (default 1)", gt=0.0
    )
    power: float = fld(1.0, "polynomial decay power", gt=0.0)
    lr_end: float = fld(1e-7, "polynomial decay: LR reached at the end", ge=0.0)
    decay_ratio: float = fld(0.1, "warmup_stable_decay: share of total steps spent decaying", gt=0.0, le=1.0)
    decay_type: Literal["cosine", "linear", "1-sqrt"] = fld("cosine", "warmup_stable_decay: shape of the decay phase")
    step_size: int = fld(30, "step: epochs between LR drops", ge=1)
    milestones: list[int] = fld([30, 60, 90], "multistep: epochs at which the LR is multiplied by gamma")
    gamma: float = fld(0.1, "step/multistep: drop factor; exponential: per-epoch decay factor", gt=0.0, le=1.0)
    div_factor: float = fld(25.0, "one_cycle: initial LR = peak / div_factor", ge=1.0)
    final_div_factor: float = fld(1e4, "one_cycle: final LR = initial / final_div_factor", ge=1.0)
    plateau_patience: int = fld(5, "reduce_on_plateau: evaluations without improvement before the LR drops", ge=0)
    plateau_factor: float = fld(0.1, "reduce_on_plateau: factor the LR is multiplied by", gt=0.0, lt=1.0)
    min_lr: float = fld(0.0, "reduce_on_plateau: LR floor", ge=0.0)


def resolve_warmup(warmup: float, total_steps: int) -> int:
    """schedule.warmup as a step count: a value < 1 is a ratio of total steps."""
    return round(warmup * total_steps) if warmup < 1 else int(warmup)


@dataclass(frozen=True)
class BatchConfig:
    size: int = fld(32, "per-step (micro-)batch size of each process", ge=1)
    accumulation: int = fld(1, "micro-batches per optimizer step; effective batch = size x accumulation x processes", ge=1)
    auto_find: bool = fld(False, "find the largest batch that fits before training (then hard-code it)")
    memory_budget_mb: float | None = fld(
        None, "batch finder: memory budget in MB (required on CPU; on CUDA the limit is the real OOM)", gt=0.0
    )
    keep_effective: bool = fld(True, "batch finder: keep the effective batch by raising accumulation; false rescales the LR instead")
    eval_size: int | None = fld(None, "evaluation batch size; null uses 2 x size", ge=1)

    @property
    def effective(self) -> int:
        """What one optimizer step sees in one process: size x accumulation (the one place it is computed)."""
        return self.size * self.accumulation

    def across(self, processes: int) -> int:
        """What one optimizer step sees over ``processes`` data-parallel processes (seed 003: per-device
        batch x accumulation x number of GPUs)."""
        return self.effective * processes


@dataclass(frozen=True)
class LossConfig:
    name: str = fld("cross_entropy", "loss: cross_entropy, focal, mse, bce_with_logits")
    label_smoothing: float = fld(0.0, "cross-entropy label smoothing", ge=0.0, lt=1.0)
    class_weights: Literal["none", "auto"] | list[float] = fld(
        "none", "'auto' = inverse class frequency of the training labels, or an explicit list"
    )
    focal_gamma: float = fld(2.0, "focal loss focusing parameter", ge=0.0)
    focal_alpha: Literal["none", "auto"] | list[float] = fld("none", "focal loss per-class weights: 'none', 'auto' or a list")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = fld(20, "upper bound on epochs; early stopping usually ends training sooner", ge=1)
    max_steps: int | None = fld(None, "optimizer steps to train for; overrides epochs when set", ge=1)
    max_grad_norm: float | None = fld(1.0, "clip the global gradient norm to this; null disables clipping", gt=0.0)
    precision: Precision = fld("auto", "auto: bf16 where supported, else fp16 + loss scaling on CUDA, else fp32")
    device: Device = fld("auto", "where to train; auto picks cuda, then mps, then cpu")
    nan_policy: NanPolicy = fld("stop", "on a non-finite loss or gradient: skip the step, or stop with a message")
    max_nan_skips: int = fld(10, "with nan_policy=skip: stop after this many skipped steps in a row", ge=1)
    threads: int | None = fld(None, "torch CPU threads; null keeps torch's default", ge=1, le=4096)
    deterministic: bool = fld(False, "ask torch for deterministic kernels (slower on GPU)")
    compile: bool = fld(False, "wrap the model with torch.compile")


@dataclass(frozen=True)
class EvaluationConfig:
    strategy: Strategy = fld("steps", "when to evaluate: every N steps, every epoch, or never")
    every: int = fld(500, "evaluate every N optimizer steps (strategy=steps) or N epochs (strategy=epoch)", ge=1)
    metric: str = fld("val_loss", "metric to monitor for best checkpoint and early stopping, e.g. val_loss, val_accuracy")
    mode: Mode = fld("min", "min if lower is better (losses), max if higher is better (accuracy)")


@dataclass(frozen=True)
class LoggingConfig:
    every: int = fld(50, "log train loss, LR and grad norm every N optimizer steps (about eval/10)", ge=1)
    tensorboard: Toggle = fld("auto", "write TensorBoard events: auto = when tensorboard is installed")
    progress: Toggle = fld(
        "auto",
        "progress on stderr: auto = a bar on an interactive terminal, plain periodic lines elsewhere (CI, files); on = the bar; off = silent",
    )
    mlflow: bool = fld(False, "log params (reasons as tags), metrics, the report and findings to MLflow (extra [mlflow])")
    mlflow_uri: str | None = fld(None, "MLflow tracking URI; null = the local file store ./mlruns")
    mlflow_experiment: str = fld("trainwell", "MLflow experiment the run is logged under")


@dataclass(frozen=True)
class EarlyStoppingConfig:
    patience: int | None = fld(15, "evaluations without improvement before stopping; null disables", ge=1)
    threshold: float = fld(0.0, "absolute improvement that counts as progress", ge=0.0)


@dataclass(frozen=True)
class CheckpointConfig:
    strategy: Strategy = fld("steps", "when to save: every N steps, every epoch, or never")
    every: int = fld(500, "save every N optimizer steps (strategy=steps) or N epochs (strategy=epoch)", ge=1)
    keep: int = fld(3, "checkpoints to keep; the best and the latest are never deleted", ge=1)
    load_best_at_end: bool = fld(True, "restore the best checkpoint's weights when training ends")


@dataclass(frozen=True)
class LRFindConfig:
    min_lr: float = fld(1e-7, "range test: first LR", gt=0.0)
    max_lr: float = fld(10.0, "range test: last LR", gt=0.0)
    steps: int = fld(100, "range test: number of steps", ge=10, le=100_000)
    mode: Literal["exp", "linear"] = fld("exp", "range test: exponential or linear LR sweep")
    diverge_factor: float = fld(4.0, "range test stops when smoothed loss > this x best loss", gt=1.0)
    smoothing: float = fld(
        0.98, "range test: EMA factor for the loss (debiased), capped to average at most 1/25 of the sweep", ge=0.0, lt=1.0
    )
    rule: str = fld("combined", "suggestion rule: combined, steepest, valley, min_div10")
    fallback: float | None = fld(
        None, "the LR to train with when the range test's curve is unreliable (the recommender puts the LR law's value here)", gt=0.0
    )


@dataclass(frozen=True)
class DoctorConfig:
    live: bool = fld(True, "run the doctor's checks during training and warn once per finding")
    stop_on_divergence: bool = fld(False, "stop a run early when the live doctor finds divergence")


@dataclass(frozen=True)
class DistributedConfig:
    backend: Literal["auto", "nccl", "gloo"] = fld(
        "auto", "torch.distributed backend under torchrun (`trainwell train --nproc N`): auto = nccl on CUDA, gloo on CPU"
    )
    strategy: Literal["ddp", "fsdp"] = fld(
        "ddp", "ddp: each process holds the whole model; fsdp: a shard of weights, gradients, optimizer state"
    )
    whole_weights: bool = fld(
        True,
        "fsdp: every checkpoint also holds the whole model.pt (gathered into rank 0's memory) for --init-from and "
        "tools that read model.pt; false keeps the shards only, for a model whose whole copy does not fit one host",
    )
    processes: int | None = fld(
        None, "processes this config's batch was chosen for (`recommend --gpus N`); training under another number is refused", ge=1
    )


@dataclass(frozen=True)
class TuneConfig:
    space: dict[str, Any] = fld({}, "override the search space: {param: fixed value | [low, high] | {low, high, log}}")


@dataclass(frozen=True)
class Config:
    seed: int = fld(42, "seed for python, numpy and torch; the data order derives from seed + epoch", ge=0)
    task: str = fld("digits", "built-in task name or 'package.module:function' returning a Task")
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "where the task's data comes from"})
    model: dict[str, Any] = fld({}, "task-specific model kwargs, e.g. {dropout: 0.1, hidden: 256}")
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig, metadata={"help": "optimizer and weight decay"})
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig, metadata={"help": "learning-rate schedule"})
    batch: BatchConfig = field(default_factory=BatchConfig, metadata={"help": "batch size and accumulation"})
    loss: LossConfig = field(default_factory=LossConfig, metadata={"help": "loss function"})
    training: TrainingConfig = field(default_factory=TrainingConfig, metadata={"help": "length, clipping, precision, device"})
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig, metadata={"help": "evaluation cadence and monitored metric"})
    logging: LoggingConfig = field(default_factory=LoggingConfig, metadata={"help": "logging cadence and sinks"})
    early_stopping: EarlyStoppingConfig = field(
        default_factory=EarlyStoppingConfig, metadata={"help": "early stopping on the monitored metric"}
    )
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig, metadata={"help": "checkpoint cadence and rotation"})
    lr_find: LRFindConfig = field(
        default_factory=LRFindConfig, metadata={"help": "LR range test settings (used when optimizer.lr is 'find')"}
    )
    doctor: DoctorConfig = field(default_factory=DoctorConfig, metadata={"help": "live training diagnostics"})
    distributed: DistributedConfig = field(
        default_factory=DistributedConfig, metadata={"help": "many processes through torchrun: backend and strategy"}
    )
    tune: TuneConfig = field(default_factory=TuneConfig, metadata={"help": "hyperparameter search settings"})
    report: bool = fld(True, "write report.html into the run folder at the end of training")
    init_from: str | None = fld(
        None, "start from these weights: a run folder (its latest checkpoint) or a checkpoint folder; optimizer and schedule start afresh"
    )
    output_dir: str = fld("runs", "parent folder for run folders")
