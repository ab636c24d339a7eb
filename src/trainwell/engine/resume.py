"""What a resumed run may change, and how a new run starts from another run's weights.

A checkpoint's weights, optimizer moments, data position and RNG states mean something only under the
config that produced them. ``trainwell train --resume RUN key=value`` therefore sorts each changed field:

- applied (``RESUMABLE``): it changes what happens from the checkpoint on and leaves what was saved valid:
  the run's length, patience, the logging/evaluation/checkpoint cadences, a new peak LR (the schedule's
  multiplier at the current step applies to it), the report and the live doctor. Each is written to
  metrics.jsonl as a ``resume`` record at the checkpoint's step and listed in summary.json, and
  config.yaml holds the new values: the folder records exactly what the run trained with.
- refused (everything else): seed, task, data, model, batch, the optimizer's kind and settings, loss,
  schedule shape, precision... Training on would mix two runs under one name, so it is an error that
  names the way to get what was asked: a new run initialised from the checkpoint's weights
  (``--init-from RUN``, ``init_from`` in the config).

A field is refused unless it is listed: a new field is safe until someone decides it may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwell.config.paths import flatten
from trainwell.config.structure import to_dict
from trainwell.errors import CheckpointError, ConfigError, Problem
from trainwell.tasks.catalog import with_model_options

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import Config

_LENGTH = "a new length: the schedule is recomputed for it from the current step"
_CADENCE = "how often something is done; what was saved stays valid"
RESUMABLE: dict[str, str] = {
    "training.epochs": _LENGTH,
    "training.max_steps": _LENGTH,
    "optimizer.lr": "a new peak LR: from the current step on, the LR is the new peak times the schedule's multiplier",
    "early_stopping.patience": "how long to wait for an improvement; the count so far is kept",
    "early_stopping.threshold": "what counts as an improvement from now on",
    "evaluation.strategy": _CADENCE,
    "evaluation.every": _CADENCE,
    "logging.every": _CADENCE,
    "logging.tensorboard": "an output sink",
    "logging.progress": "an output sink",
    "checkpoint.strategy": _CADENCE,
    "checkpoint.every": _CADENCE,
    "checkpoint.keep": "how many checkpoints are kept; the best and the latest never go",
    "checkpoint.load_best_at_end": "which weights the run returns at its end",
    "doctor.live": "diagnostics only",
    "doctor.stop_on_divergence": "diagnostics only",
    "report": "an output",
    "training.threads": "CPU threads: where the run computes, not what",
    "output_dir": "where new runs go; a resumed run stays in its folder",
}

# Why a refused field cannot change, by the longest matching prefix.
_REFUSED: dict[str, str] = {
    "seed": "the data order and every random state in the checkpoint derive from the seed",
    "task": "the checkpoint's weights and data position belong to the old task",
    "data": "the checkpoint's data position indexes the old dataset",
    "model": "the checkpoint's weights belong to the old model",
    "batch": "the checkpoint's data position counts batches of the old size and accumulation",
    "optimizer": "the optimizer state in the checkpoint belongs to the old optimizer and its settings",
    "schedule": "the schedule's position in the checkpoint belongs to the old schedule",
    "loss": "the run so far optimised the old loss, and its best metric measures it",
    "evaluation": "the best metric so far was measured with the old setting",
    "init_from": "a resumed run's weights come from its own checkpoint",
    "": "the checkpoint was made under the old value; training on would mix two runs under one name",
}


@dataclass(frozen=True)
class Change:
    """One field a resume changed: ``old`` -> ``new``, and why that keeps the run meaningful."""

    field: str
    old: Any
    new: Any
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new, "why": self.why}


def _refusal(field: str) -> str:
    prefixes = [p for p in _REFUSED if field == p or field.startswith(p + ".") or p == ""]
    return _REFUSED[max(prefixes, key=len)]


def resume_changes(saved: Config, new: Config, run_dir: Path) -> list[Change]:
    """The fields ``new`` changes against the run's ``saved`` config; raises ConfigError listing every
    change a resume cannot make (and a new LR that is not a number), each with the fix."""
    # both with the task's model defaults filled in: config.yaml records them all (engine.api.run), and a
    # request that leaves them unset builds the same model
    before = dict(flatten(to_dict(with_model_options(saved))))
    changed = [(k, before.get(k), v) for k, v in flatten(to_dict(with_model_options(new))) if before.get(k) != v]
    problems = []
    for field, old, value in changed:
        if field not in RESUMABLE:
            problems.append(
                Problem(
                    field,
                    f"cannot change on --resume ({_refusal(field)})",
                    f"{old!r} -> {value!r}",
                    f"drop {field}={value} to resume, or start a new run from this run's weights: "
                    f"trainwell train --init-from {run_dir} {field}={value}",
                )
            )
        elif field == "optimizer.lr" and not isinstance(value, (int, float)):
            problems.append(Problem(field, "must be a number on --resume (the LR finder runs before a run starts)", value, "set a number"))
    ConfigError.collect(problems)
    return [Change(field, old, value, RESUMABLE[field]) for field, old, value in changed]


def lr_ratio(changes: list[Change]) -> float:
    """New peak LR / old peak LR (1.0 when the LR did not change)."""
    for change in changes:
        if change.field == "optimizer.lr":
            return float(change.new) / float(change.old)
    return 1.0


def summary_changes(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every change made on resume so far, from metrics.jsonl's ``resume`` records, each with its step."""
    return [{"step": r["step"], **c} for r in history if r.get("event") == "resume" for c in r.get("changes", [])]


def init_weights(model: torch.nn.Module, source: str | Path, device: str | torch.device = "cpu") -> str:
    """Load the weights of ``source`` (a checkpoint folder, or a run folder: its latest checkpoint) into
    ``model``; returns the checkpoint folder's absolute path. Only the weights: optimizer, schedule, data
    position and step start afresh, under the new run's config."""
    from trainwell.engine import checkpoint as ckpt

    path = Path(source)
    found = ckpt.latest_checkpoint(path / "checkpoints") if (path / "checkpoints").is_dir() else None
    folder = found.path if found is not None else path
    if not (folder / "model.pt").is_file():
        fix = "pass a folder `trainwell train` wrote, or one of its checkpoints/step-N folders"
        if (folder / "sharded").is_dir():  # an FSDP run with distributed.whole_weights: false (engine/fsdp.py)
            fix = (
                f"this checkpoint holds FSDP shards only (distributed.whole_weights: false): write its weights whole with "
                f"torch.distributed.checkpoint.format_utils.dcp_to_torch_save('{folder / 'sharded'}', 'whole.pt'), then "
                f"torch.save(torch.load('whole.pt')['model'], '{folder / 'model.pt'}') (docs/engine.md, many devices)"
            )
        raise CheckpointError(
            problems=[
                Problem(
                    "init_from",
                    "must be a run folder with a checkpoint, or a checkpoint folder (checkpoints/step-N) holding model.pt",
                    str(source),
                    fix,
                )
            ]
        )
    state = ckpt.load_model_weights(folder, device)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            problems=[
                Problem(
                    "init_from",
                    "the checkpoint's weights must fit this run's model",
                    str(folder),
                    f"use a checkpoint of the same task and model options ({' '.join(first[:3])[:300]})",
                )
            ]
        ) from None
    return str(folder.resolve())


def check_world(saved: int, size: int, checkpoint: Path, run_dir: Path) -> None:
    """A run resumes with the number of processes that wrote its checkpoint: each process's data position and
    RNG state are in it. ``saved`` is that number (meta.json's ``world_size``), ``size`` this job's."""
    if saved == size:
        return
    raise CheckpointError(
        problems=[
            Problem(
                "--resume",
                "a run resumes with the number of processes it was trained with (each one's data position and RNG are in the checkpoint)",
                f"{size} process(es); {checkpoint} was written by {saved}",
                f"resume with trainwell train --resume {run_dir}" + (f" --nproc {saved}" if saved > 1 else ""),
            )
        ]
    )
