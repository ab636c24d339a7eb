"""The training loop, top to bottom: for each accumulation window, one step; after each step, log,
evaluate, decide whether to stop, checkpoint. Everything else lives in a module named after it.

Per step the loop does no file I/O and at most one host sync (see step.py); files are written at log,
evaluation and checkpoint events only. On CUDA with a fused Adam/AdamW the steps make no sync at all:
their losses and norms wait on the device and are read, and the NaN policy applied to each in order,
at the next log/eval/checkpoint/final step (``_flush``), always before anything is written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from trainwell.config.resolved import ResolvedConfig
from trainwell.engine import checkpoint as ckpt
from trainwell.engine import distributed, fsdp, rng
from trainwell.engine.callbacks import Callback, CallbackList
from trainwell.engine.early_stopping import EarlyStopping
from trainwell.engine.evaluate import evaluate
from trainwell.engine.interrupt import InterruptWatch
from trainwell.engine.progress import ProgressBar, progress_enabled
from trainwell.engine.resume import Change, check_world, lr_ratio
from trainwell.engine.run_folder import MetricsLog, read_records
from trainwell.engine.setup import build_components, eval_rounds, train_loader, train_sampler, val_loader
from trainwell.engine.state import LogWindow, LoopState
from trainwell.engine.step import PendingStep, StepOutcome, StepRunner, skips_on_device
from trainwell.errors import ConfigError, Problem, TrainingError
from trainwell.registry import did_you_mean
from trainwell.tasks.base import Task

SIGNAL_EVERY = 10  # the most steps between two checks for a signal under torchrun (Trainer.signal_every)


class NullLog:
    """What a rank other than 0 logs to: nothing (rank 0 alone writes the run folder)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "metrics.jsonl"

    def write(self, record: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Stop:
    status: str  # completed | stopped | diverged | interrupted
    reason: str
    save: bool = True  # checkpoint the final state (not after divergence: the last good one stays latest)


class Trainer:
    """Owns one run: built from a resolved config and a task, optionally resumed from its run folder's latest checkpoint."""

    def __init__(
        self,
        resolved: ResolvedConfig,
        task: Task,
        run_dir: Path,
        callbacks: Iterable[Callback] = (),
        resume: bool = False,
        changes: Sequence[Change] = (),
    ) -> None:
        """``changes``: what a resume changed against the run's saved config (engine/resume.py); applied and recorded."""
        config = resolved.config
        self.config, self.task, self.run_dir = config, task, run_dir
        self.world = distributed.world()  # rank 0 of 1 outside torchrun
        ConfigError.collect(distributed.processes_problems(config, self.world.size))
        self.c = build_components(resolved, task, self.world)
        self.state = LoopState(config, run_dir, self.c.model, self.c.optimizer, self.c.total_steps, self.c.steps_per_epoch)
        ev = config.evaluation
        self.stopper = EarlyStopping(ev.metric, ev.mode, config.early_stopping.patience, config.early_stopping.threshold)
        self.sampler = train_sampler(config, task, self.world)
        self.val_loader = val_loader(config, task, self.c.device, self.world)
        self.interrupt = InterruptWatch()
        t = config.training
        # on CPU the per-step sync is free; FSDP's sharded steps are synced (the device-side skip is untested there),
        # and so are fp16's under torchrun (telling a NaN from an overflow then takes every rank's loss: step.py)
        defer = (
            self.c.device.type == "cuda" and skips_on_device(self.c.optimizer) and not self.c.sharded
            and not (self.world.size > 1 and self.c.precision.scales_loss)
        )  # fmt: skip
        self.runner = StepRunner(
            self.c.forward_model, self.c.loss_fn, self.c.optimizer, self.c.precision, t.max_grad_norm, self.c.device,
            defer, t.nan_policy, t.max_nan_skips, task.count_items, self.world.size,
        )  # fmt: skip
        # Under torchrun the ranks tell each other of a SIGINT/SIGTERM every this many steps (one all-reduce of
        # one number; at every step it would cost a DDP step on CPU about 5 %): the job stops after the first
        # such step after the signal, at most this many steps late, every rank after the same step.
        self.signal_every = min(config.logging.every, SIGNAL_EVERY)
        self.pending: list[tuple[int, PendingStep]] = []  # deferred steps not yet read: (step, values)
        self.window = LogWindow()
        self.ckpt_root = run_dir / "checkpoints"
        if self.world.size > 1:
            # Each rank draws its own dropout masks (and any other randomness in the forward pass): with one
            # seed, every rank would drop the same units of different items. The weights are rank 0's
            # already (DDP broadcast them), so only what is drawn from here on differs; a resume restores
            # each rank's own state from the checkpoint instead.
            rng.seed_everything(rng.rank_seed(config.seed, self.world.rank))
        self.resumed_from = self._restore(lr_ratio(list(changes))) if resume else None
        self.runner.reset_guard(self.state.nan_skips_in_row)
        self.log: MetricsLog | NullLog = (
            MetricsLog(run_dir, config.logging.tensorboard, self.resumed_from) if self.world.main else NullLog(run_dir)
        )
        if changes:  # the record says from which step the run trained under the new values
            self.log.write({"event": "resume", "step": self.state.step, "changes": [c.to_dict() for c in changes]})
        self.state.history = read_records(self.log.path)
        self.callbacks = CallbackList(callbacks)
        self._last: StepOutcome | None = None
        self._saved_step: int | None = None
        self._t0 = time.perf_counter()

    # ---- resume -------------------------------------------------------------------------------
    def _restore(self, lr_scale: float) -> int:
        """Load the latest complete checkpoint; 0 when the run died before its first one. The LR then
        follows this config (a new peak LR times ``lr_scale``, a new length), not the one saved."""
        if self.world.main:
            ckpt.clean_partial(self.ckpt_root)
        latest = ckpt.latest_checkpoint(self.ckpt_root)
        if latest is None:  # train() seeded before building the task, exactly as for a fresh run
            return 0
        trainer = ckpt.load_trainer_state(latest.path, self.c.device)
        check_world(int(trainer.get("world_size", 1)), self.world.size, latest.path, self.run_dir)
        if self.c.sharded:  # each rank reads its shards of the weights and the optimizer state
            fsdp.load(self.c.model, self.c.optimizer, latest.path)
        else:
            ckpt.load_weights(self.task.model_files, self.c.model, latest.path, self.c.device)
            self.c.optimizer.load_state_dict(trainer["optimizer"])
        self.c.schedule.load_state_dict(trainer["schedule"])
        self.c.schedule.rebase(lr_scale)
        self.c.precision.load_state_dict(trainer["precision"])
        self.stopper.load_state_dict(trainer["early_stopping"])
        self.window.load_state_dict(self._log_window_of(trainer))
        self.state.load_counters(trainer["counters"])
        rng.restore(trainer["rng_ranks"][self.world.rank] if "rng_ranks" in trainer else trainer["rng"])
        return latest.step

    def _log_window_of(self, trainer: dict[str, Any]) -> dict[str, Any]:
        """This rank's log sums in a checkpoint. One written before the ranks kept their own parts of the
        losses holds their sum on rank 0 alone."""
        if "log_window_ranks" in trainer:
            return trainer["log_window_ranks"][self.world.rank]  # type: ignore[no-any-return]
        window: dict[str, Any] = trainer["log_window"]
        return window if self.world.main else {**window, "loss": 0.0}

    def _save(self) -> None:
        s = self.state
        trainer = {
            "schedule": self.c.schedule.state_dict(),
            "precision": self.c.precision.state_dict(),
            "early_stopping": self.stopper.state_dict(),
            "log_window": self.window.state_dict(),
            "counters": {**s.counters(), "elapsed": self._elapsed()},
            "rng": rng.capture(),
            "world_size": self.world.size,
        }
        if self.world.size > 1:  # every rank's RNG and its part of the losses (the data position is the same on all)
            trainer["rng_ranks"] = distributed.gather(trainer["rng"])
            trainer["log_window_ranks"] = distributed.gather(trainer["log_window"])
        self._saved_step = s.step
        if self.c.sharded:  # every rank writes its shards (engine/fsdp.py), into the folder rank 0 makes
            write_weights: Any = partial(fsdp.save, self.c.model, self.c.optimizer, self.config.distributed.whole_weights)
            if not self.world.main:
                write_weights(None)
                return
        else:
            trainer["optimizer"] = self.c.optimizer.state_dict()
            write_weights = partial(self.task.model_files.save, self.c.model)  # model.pt, or e.g. only a LoRA adapter
        if not self.world.main:
            return
        meta = {
            "epoch": s.epoch, "metric": self.stopper.metric, "best_step": self.stopper.best_step, "best_metric": self.stopper.best,
            "world_size": self.world.size,  # what a launcher checks before it starts the processes of a resume
        }  # fmt: skip
        ckpt.save_checkpoint(self.ckpt_root, s.step, write_weights, trainer, meta)
        ckpt.rotate(self.ckpt_root, self.config.checkpoint.keep, self.stopper.best_step)

    # ---- the loop -----------------------------------------------------------------------------
    def fit(self) -> Stop:
        """Train until the run's length, early stopping, a callback, the NaN policy or a signal ends it."""
        # Train mode for every submodule, whatever mode the task built it in (transformers' from_pretrained
        # returns eval mode): otherwise dropout would switch on only after the first evaluation, and a resumed
        # run, which has not evaluated yet, would train differently from the uninterrupted one.
        self.c.model.train()
        self.callbacks.on_train_start(self.state)
        self.progress = ProgressBar(self.state.total_steps, self.state.step, progress_enabled(self.config.logging.progress))
        try:
            with self.interrupt:  # SIGINT/SIGTERM set a flag that the loop reads after each step
                while True:
                    if self.state.step >= self.state.total_steps:
                        return Stop("completed", self._length_reason())
                    stop = self._epoch()
                    if stop is not None:
                        return stop
        finally:
            self.progress.close()

    def _epoch(self) -> Stop | None:
        s, k = self.state, self.config.batch.accumulation
        self.sampler.set_position(s.epoch_index, s.batch_index)
        batches = iter(train_loader(self.config, self.task, self.sampler, s.epoch_index, self.c.device))
        while True:
            window = list(islice(batches, k))  # the last window of an epoch may be short
            rows = self.sampler.rows(s.batch_index, len(window))  # over every rank: each knows each one's share
            s.batch_index += len(window)
            epoch_end = not window or s.batch_index >= self.c.batches_per_epoch
            if epoch_end:
                s.epoch_index, s.batch_index = s.epoch_index + 1, 0
            if not window:
                return None
            stop = self._after_step(self.runner.run(window, rows), epoch_end)
            if stop is None and self._signalled():
                stop = self._interrupted()
            if stop is not None or epoch_end:
                return stop

    def _signalled(self) -> bool:
        """A signal reached this process; under torchrun, any rank, asked every ``signal_every`` steps (one
        all-reduce), so every rank answers the same after the same step."""
        caught = self.interrupt.signum is not None
        if self.world.size == 1:
            return caught
        if self.state.step % self.signal_every:
            return False
        return distributed.all_sum([float(caught)], self.c.device)[0] > 0

    def _after_step(self, outcome: StepOutcome | PendingStep, epoch_end: bool) -> Stop | None:
        s = self.state
        s.step += 1
        if isinstance(outcome, PendingStep):
            self.pending.append((s.step, outcome))
            self.c.schedule.after_step()  # as if it updated; _flush takes it back if the device skipped it
            self.progress.advance()
            if not self._sync_due(epoch_end):
                return None
            stop, at = self._flush()
            epoch_end = epoch_end and at == s.step
            s.step = at  # a stop found at an earlier step: the device skipped every step after it
        else:
            self._last = outcome
            stop = self._account(outcome)
            self.progress.advance()
        return self._events(stop, epoch_end)

    def _events(self, stop: Stop | None, epoch_end: bool) -> Stop | None:
        """Log, evaluate, decide, checkpoint: the host-side work after a step (or a sync point)."""
        s = self.state
        final = s.step >= s.total_steps
        log_due, eval_due = self._log_due(), self._eval_due(epoch_end)
        if log_due:
            reason = self._log_train()
            stop = stop or (Stop("stopped", reason) if reason else None)
        improved = False
        if eval_due or (final and self.config.evaluation.strategy != "no"):
            improved, eval_stop = self._evaluate()
            stop = stop or eval_stop
        if stop is None and final:
            stop = Stop("completed", self._length_reason())
        if self.world.size > 1 and (log_due or eval_due):
            # callbacks (the live doctor) and early stopping decide on rank 0; every rank follows it
            stop = distributed.broadcast(stop)
        if self._checkpoint_due(epoch_end, improved, stop):
            self._save()
        return stop

    def _interrupted(self) -> Stop:
        """Checkpoint the step just finished (its data position, RNG and log sums are all there) and stop."""
        s = self.state
        if self.pending:  # deferred steps: read them first, as at every checkpoint
            stop, s.step = self._flush()
            if stop is not None:
                return stop
        if self._saved_step != s.step:
            self._save()
        where = ckpt.step_dir(self.ckpt_root, s.step)
        return Stop(
            "interrupted",
            f"{self.interrupt.name or 'a signal to another process'} at step {s.step}; saved {where}; continue with: trainwell train --resume {self.run_dir}",
            save=False,
        )

    def _sync_due(self, epoch_end: bool) -> bool:
        """Whether this step logs, evaluates or may checkpoint: those need the pending values first."""
        ck = self.config.checkpoint
        return self._log_due() or self._eval_due(epoch_end) or self._due(ck.strategy, ck.every, epoch_end)

    def _flush(self) -> tuple[Stop | None, int]:
        """Read every pending step's loss and norm (one host sync) and account each in order, exactly as
        the synced path would; returns the stop and the step it happened at. Raises for nan_policy: stop."""
        import torch

        s, pending, self.pending = self.state, self.pending, []
        rows = torch.stack([p.values for _, p in pending]).tolist()
        stop, undo, now = None, 0, s.step
        for (step, p), (loss, norm) in zip(pending, rows):
            s.step = step  # the NaN message and a stop name the step itself
            self._last = StepOutcome(self.runner.status(loss, norm), loss, norm, p.items, p.lr)
            undo += self._last.status != "ok"
            stop = self._account(self._last, scheduled=True)
            if stop is not None:
                break
        s.step = s.step if stop is not None else now
        self.c.schedule.undo_steps(undo)
        self.runner.reset_guard(s.nan_skips_in_row)
        return stop, s.step

    def _account(self, outcome: StepOutcome, scheduled: bool = False) -> Stop | None:
        """Counters, log sums and the NaN policy for one step (``scheduled``: the schedule already stepped)."""
        s = self.state
        if outcome.status == "ok" and not scheduled:
            self.c.schedule.after_step()  # only after a real update: a skipped step must not advance warmup
        if outcome.status != "nonfinite":
            s.nan_skips_in_row = 0
            s.overflow_skips += outcome.status == "overflow"
            s.samples += outcome.items
            self.window.add(outcome.loss, outcome.grad_norm)
            return None
        s.nan_skips += 1
        s.nan_skips_in_row += 1
        what = f"loss ({outcome.loss})" if not math.isfinite(outcome.loss) else f"gradient norm ({outcome.grad_norm})"
        where = f"non-finite {what} at step {s.step} (epoch {s.epoch:.2f}, lr {outcome.lr:.3g})"
        if self.config.training.nan_policy == "stop":
            latest = ckpt.latest_checkpoint(self.ckpt_root)
            kept = f"the last good checkpoint is {latest.path}" if latest else "no checkpoint was written yet"
            raise TrainingError(
                f"{where}; stopped by training.nan_policy: stop, and {kept}. Fix: lower optimizer.lr, keep "
                "training.max_grad_norm set, use precision fp32 or bf16, or set training.nan_policy: skip"
            )
        if s.nan_skips_in_row >= self.config.training.max_nan_skips:
            return Stop("diverged", f"{where}: {s.nan_skips_in_row} non-finite steps in a row reached training.max_nan_skips", save=False)
        return None

    # ---- events -------------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return self.state.elapsed + time.perf_counter() - self._t0

    def _log_train(self) -> str | None:
        s, w = self.state, self.window
        if w.steps == 0 or self._last is None:
            return None  # every step since the last record was skipped
        # under torchrun each rank's steps hold its part of their mean losses (step.py): the sum is the mean
        loss = w.loss if self.world.size == 1 else distributed.all_sum([w.loss], self.c.device)[0]
        record = {
            "event": "train",
            "step": s.step,
            "epoch": s.epoch,
            "lr": self._last.lr,
            "loss": loss / w.steps,
            "grad_norm": w.grad_norm / w.steps,
            "samples": s.samples,
            "time": self._elapsed(),
        }
        w.reset()
        self._write(record)
        return self.callbacks.on_log(s, record)

    def _due(self, strategy: str, every: int, epoch_end: bool) -> bool:
        """Whether a cadence ("steps" or "epoch", every ``every``; "no": never) falls on this step."""
        if strategy == "steps":
            return self.state.step % every == 0
        return strategy == "epoch" and epoch_end and self.state.epoch_index % every == 0

    def _log_due(self) -> bool:
        return self.state.step % self.config.logging.every == 0 or self.state.step >= self.state.total_steps

    def _eval_due(self, epoch_end: bool) -> bool:
        ev = self.config.evaluation
        return self._due(ev.strategy, ev.every, epoch_end)

    def _evaluate(self) -> tuple[bool, Stop | None]:
        s = self.state
        if self.val_loader is None or s.last_eval_step == s.step:
            return False, None
        metrics = evaluate(
            self.c.model if self.world.size > 1 else self.c.forward_model, self.val_loader, self.c.loss_fn,
            self.c.precision, self.c.device, self.task.metrics, self.task.count_items, self.task.extra_metrics, self.world,
            eval_rounds(self.val_loader, self.task, self.world) if self.c.sharded else None,
        )  # fmt: skip
        s.last_eval_step = s.step
        self._write({"event": "eval", "step": s.step, "epoch": s.epoch, **metrics, "time": self._elapsed()})
        value = self._monitored(metrics)
        decision = self.stopper.update(value, s.step)
        self.c.schedule.after_evaluate(value)
        reason = self.callbacks.on_evaluate(s, metrics)
        stop = Stop("stopped", decision.reason) if decision.stop else Stop("stopped", reason) if reason else None
        return decision.improved, stop

    def _monitored(self, metrics: dict[str, float]) -> float:
        name = self.config.evaluation.metric
        if name not in metrics:
            raise ConfigError(
                problems=[Problem("evaluation.metric", "must name a metric this task reports", name, did_you_mean(name, list(metrics)))]
            )
        return metrics[name]

    def _checkpoint_due(self, epoch_end: bool, improved: bool, stop: Stop | None) -> bool:
        ck = self.config.checkpoint
        if ck.strategy == "no":
            return False
        if stop is not None:
            return stop.save
        return improved or self._due(ck.strategy, ck.every, epoch_end)

    def _write(self, record: dict[str, Any]) -> None:
        self.log.write(record)
        self.state.history.append(record)
        self.progress.show(record)

    def _length_reason(self) -> str:
        t = self.config.training
        if t.max_steps is not None:
            return f"reached training.max_steps ({t.max_steps})"
        return f"finished training.epochs ({t.epochs})"
