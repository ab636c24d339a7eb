"""The search space: which config values to tune, over which ranges, in which order.

Guide 001 ranks hyperparameters by impact (§The Priority Order): LR, batch size, weight decay, warmup,
scheduler, clipping, dropout, epochs, optimizer, depth. ``PRIORITY`` holds that list as data, and every
parameter names the entry it belongs to, so the staged strategy can walk them in order and an outside
space (a benchmark grid) can be mapped onto the same order.

Ranges come from the guides' tables, keyed by optimizer family and training mode. The tables give typical
values, not limits, so numeric ranges bracket them by a factor ``WIDEN`` on each side: a best value at the
table's edge is then inside the search, not on its boundary.

``config.tune.space`` fixes, re-ranges or adds parameters (see ``overrides.py``); the parameter and space
types and the priority order live in ``spec.py``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from trainwell.config.paths import get_path, set_path
from trainwell.tune.overrides import apply_overrides
from trainwell.tune.spec import ParamSpec, SearchSpace

if TYPE_CHECKING:
    from trainwell.config.schema import Config

WIDEN = math.sqrt(10.0)  # half a decade either side of a guide's typical range

# (optimizer family, mode) -> (typical low, typical high, source). Mode "frozen" trains a head from scratch.
LR_TABLE: dict[tuple[str, str], tuple[float, float, str]] = {
    ("adam", "scratch"): (1e-4, 1e-3, "001 §Learning Rate: Adam 1e-4–1e-3, AdamW from scratch 1e-4–3e-4 (default 1e-3)"),
    ("adam", "finetune"): (1e-5, 5e-4, "001 §Learning Rate: AdamW fine-tuning 1e-5–5e-4"),
    ("sgd", "scratch"): (1e-3, 1e-1, "001 §Learning Rate: SGD + momentum 0.001–0.1"),
    ("sgd", "finetune"): (1e-4, 1e-2, "004 §LR ranges: SGD fine-tuning around 1e-4; 001 SGD range ÷ 10"),
}


def lr_range(family: str, mode: str, optimizer: str) -> tuple[float, float, str]:
    """The searched LR range for an optimizer family and mode: the guide's typical range, widened."""
    mode = "finetune" if mode == "finetune" else "scratch"
    if (family, mode) in LR_TABLE:
        low, high, source = LR_TABLE[(family, mode)]
    else:
        from trainwell.optim.optimizers import OPTIMIZERS

        info = OPTIMIZERS.get(optimizer, "optimizer.name")
        low, high = info.lr_range
        source = info.source
        if mode == "finetune":  # 004 §Transfer Learning: fine-tuning LRs sit about 10x lower
            low, high, source = low / 10, high / 10, source + "; 004: 10x lower when fine-tuning"
    return low / WIDEN, high * WIDEN, source


def default_params(family: str, mode: str, optimizer: str, has_dropout: bool) -> list[ParamSpec]:
    """The guides' search space for one optimizer family and mode, in priority order."""
    from trainwell.optim.schedules import SCHEDULES

    low, high, lr_source = lr_range(family, mode, optimizer)
    schedules = tuple(s for s in ("cosine", "linear", "constant_with_warmup", "one_cycle") if s in SCHEDULES)
    params = [
        ParamSpec("lr", "optimizer.lr", "float", "lr", low, high, log=True, ratio=math.sqrt(10.0), source=lr_source),
        ParamSpec(
            "weight_decay",
            "optimizer.weight_decay",
            "float",
            "weight_decay",
            1e-6,
            0.3,
            log=True,
            ratio=10.0,
            source="001 §Weight Decay: 1e-4 (SGD CNN) to 0.1 (pretraining); §Practical Strategy step 3: try 1e-5, 1e-4, 1e-2",
        ),
        ParamSpec(
            "warmup",
            "schedule.warmup",
            "float",
            "warmup",
            0.0,
            0.3,
            probes=(0.0, 0.02, 0.06, 0.1, 0.2),
            source="001 §Warmup Steps: 6–10 % of total steps for fine-tuning; optional for CNNs",
        ),
        ParamSpec(
            "schedule",
            "schedule.name",
            "categorical",
            "schedule",
            choices=schedules,
            ordered=False,
            source="001 §Scheduler Choice: cosine (standard), one-cycle (fast, SGD), cosine + warmup (transformers)",
        ),
        ParamSpec(
            "max_grad_norm",
            "training.max_grad_norm",
            "categorical",
            "max_grad_norm",
            choices=(None, 5.0, 2.0, 1.0, 0.5),
            source="001 §Gradient Clip Value: 1.0 for transformers, 1–5 for RNNs, usually off for CNNs",
        ),
    ]
    if has_dropout:
        params.append(
            ParamSpec(
                "dropout",
                "model.dropout",
                "float",
                "dropout",
                0.0,
                0.6,
                probes=(0.0, 0.1, 0.2, 0.3, 0.5),
                source="001 §Dropout Rate: FC 0.3–0.5, transformer 0.1, CNN 0.1–0.2",
            )
        )
    return params


def build_space(config: Config) -> SearchSpace:
    """The search space for a config: the guides' defaults overlaid with ``config.tune.space``."""
    from trainwell.optim.optimizers import OPTIMIZERS
    from trainwell.tasks.catalog import TASKS, model_options

    info = OPTIMIZERS.get(config.optimizer.name, "optimizer.name")
    builtin = ":" not in config.task and config.task in TASKS
    mode = TASKS.get(config.task).facts.mode if builtin else "scratch"
    has_dropout = builtin and "dropout" in model_options(config)
    params = default_params(info.family, mode, info.name, has_dropout)
    return apply_overrides(params, config.tune.space, _config_paths(config))


def _config_paths(config: Config) -> set[str]:
    """Every dotted path a config can hold, plus ``model.<option>`` for the task's model options."""
    from trainwell.config.structure import to_dict
    from trainwell.tasks.catalog import model_options

    paths: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and prefix not in {"model.", "data.options.", "optimizer.kwargs.", "tune.space."}:
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            paths.add(prefix.rstrip("."))

    walk(to_dict(config), "")
    return paths | {f"model.{k}" for k in model_options(config)}


def current_values(space: SearchSpace, config: Config) -> dict[str, Any]:
    """The config's own value of every searched parameter, clipped into the space."""
    from trainwell.config.structure import to_dict
    from trainwell.tasks.catalog import model_options

    data = {**to_dict(config), "model": model_options(config)}
    return {p.name: p.clip(get_path(data, p.path)) for p in space.params}


def apply_params(config: Config, space: SearchSpace, params: dict[str, Any]) -> Config:
    """A new validated Config with the fixed values and one trial's parameters written in."""
    from trainwell.config import load_config
    from trainwell.config.structure import to_dict

    data = to_dict(config)
    for path, value in space.fixed.items():
        set_path(data, path, value)
    for spec in space.params:
        if spec.name in params:
            set_path(data, spec.path, params[spec.name])
    return load_config(data)
