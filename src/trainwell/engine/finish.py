"""The end of a run: restore the best weights when asked, and build summary.json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainwell.engine import checkpoint as ckpt
from trainwell.engine.resume import summary_changes

# A resume that found no checkpoint (the run stopped before its first) trains from step 0: the same run,
# since every seed is in the config, but the person who asked to resume must hear that nothing was kept.
NO_CHECKPOINT = "the run folder held no checkpoint (the run stopped before its first one), so training started again from step 0"

if TYPE_CHECKING:
    from trainwell.config.schema import BatchConfig
    from trainwell.engine.loop import Stop, Trainer


def restore_best(trainer: Trainer) -> bool:
    """Load the best checkpoint's weights into the model when checkpoint.load_best_at_end is set."""
    best = trainer.stopper.best_step
    if not trainer.config.checkpoint.load_best_at_end or best is None:
        return False
    path = ckpt.step_dir(trainer.ckpt_root, best)
    if not path.is_dir():
        return False
    if trainer.c.sharded:  # every rank reads its shards (engine/fsdp.py)
        from trainwell.engine import fsdp

        fsdp.load(trainer.c.model, None, path)
    else:
        ckpt.load_weights(trainer.task.model_files, trainer.c.model, path, trainer.c.device)
    return True


def final_metrics(history: list[dict[str, Any]], step: int | None) -> dict[str, Any]:
    """Validation metrics of the returned model: the evaluation at ``step``, else the last one."""
    evals = [r for r in history if r.get("event") == "eval"]
    chosen = next((r for r in evals if r["step"] == step), None) if step is not None else None
    chosen = chosen or (evals[-1] if evals else None)
    if chosen is None:
        return {}
    return {k: v for k, v in chosen.items() if k.startswith("val_")}


def summarize(trainer: Trainer, stop: Stop, status: str | None = None) -> dict[str, Any]:
    s, es = trainer.state, trainer.stopper
    loaded = restore_best(trainer) if status is None else False
    wall = trainer._elapsed()
    return {
        "status": status or stop.status,
        "stop_reason": stop.reason,
        "best_metric": es.best,
        "best_step": es.best_step,
        "metric": es.metric,
        "mode": es.mode,
        "steps": s.step,
        "total_steps": s.total_steps,
        "epochs": s.epoch,
        "wall_time_s": wall,
        "samples": s.samples,
        "samples_per_s": s.samples / wall if wall > 0 else None,
        "loaded_best": loaded,
        "nan_skips": s.nan_skips,
        "overflow_skips": s.overflow_skips,
        "resumed_from_step": trainer.resumed_from,
        "resume_note": NO_CHECKPOINT if trainer.resumed_from == 0 else None,
        "resume_changes": summary_changes(s.history),
        "device": str(trainer.c.device),
        "processes": trainer.world.size,
        "batch": effective_batch(trainer.config.batch, trainer.world.size),
        "precision": trainer.c.precision_choice.name,
        "final": final_metrics(s.history, es.best_step if loaded else None),
        "model": model_facts(trainer.c.model),
        "data": {"train_items": _size(trainer.task.train_data), "val_items": _size(trainer.task.val_data), **trainer.task.data_summary},
    }


def effective_batch(batch: BatchConfig, processes: int) -> dict[str, int]:
    """The batch an optimizer step sees (``BatchConfig.across``), with its parts, for summary.json."""
    return {"size": batch.size, "accumulation": batch.accumulation, "processes": processes, "effective": batch.across(processes)}


def model_facts(model: Any) -> dict[str, Any]:
    """What was trained, recorded in every run: the module's class and size (FSDP's sharded class
    ``FSDP<Name>``, made when the model is sharded, names the model's own; parameters count whole)."""
    kind = next(k for k in type(model).__mro__ if not k.__module__.startswith("torch.distributed.fsdp"))
    return {
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def _size(data: Any) -> int | None:
    try:
        return len(data) if data is not None else None
    except TypeError:  # an iterable dataset has no length
        return None
