"""One probe of the batch finder: a real training step at a given batch size, and whether it fit.

Kept apart from the search so the search can be tested with a fake oracle, and this with a real model.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any

from trainwell.find.batch_search import MAX_BATCH, Probe, Search, check_budget, search
from trainwell.find.memory import MB, cpu_step_memory

if TYPE_CHECKING:
    import torch

    from trainwell.config.schema import Config
    from trainwell.tasks.base import Task


class Prober:
    """Probes ``task.model`` on ``device`` with the config's loss, optimizer, precision and clipping."""

    def __init__(self, config: Config, task: Task, device: torch.device) -> None:
        from trainwell.config.resolved import replace_paths
        from trainwell.engine.probe import finder_runner, task_loss

        if config.optimizer.lr == "find":
            # The batch is found before the LR (the range test runs at the found batch), so the probe steps at
            # the range test's first LR. The LR changes no step's memory, and the model is restored afterwards.
            config = replace_paths(config, {"optimizer.lr": config.lr_find.min_lr})
        self.task, self.device = task, device
        self.model = task.model.to(device)
        loss_fn = task_loss(config, task, device)
        self.runner, _ = finder_runner(config, self.model, loss_fn, device, count_items=task.count_items)  # training's step
        self.optimizer = self.runner.optimizer
        self.budget = config.batch.memory_budget_mb

    def batch(self, size: int) -> Any:
        from torch.utils.data import default_collate

        from trainwell.engine.probe import move_to_device

        items = [self.task.train_data[i] for i in range(size)]
        return move_to_device((self.task.collate_fn or default_collate)(items), self.device)

    def step(self, batch: Any) -> None:
        self.runner.run([batch])

    def __call__(self, size: int) -> Probe:
        return self._cuda(size) if self.device.type == "cuda" else self._cpu(size)

    def _cpu(self, size: int) -> Probe:
        batch = self.batch(size)
        use = cpu_step_memory(self.model, self.optimizer, lambda: self.step(batch), batch)
        peak = use.total / MB
        assert self.budget is not None  # check_budget ran first
        fits = peak <= self.budget
        return Probe(size, fits, round(peak, 3), f"{'within' if fits else 'over'} budget {self.budget:g} MB ({use.to_json()})")

    def _cuda(self, size: int) -> Probe:
        import torch

        torch.cuda.reset_peak_memory_stats(self.device)
        try:
            self.step(self.batch(size))
            torch.cuda.synchronize(self.device)
        except torch.cuda.OutOfMemoryError as exc:
            self.optimizer.zero_grad(set_to_none=True)
            detail = f"CUDA out of memory: {str(exc).splitlines()[0][:160]}"
            fits, peak = False, None
        else:
            peak = round(torch.cuda.max_memory_allocated(self.device) / MB, 3)
            fits = self.budget is None or peak <= self.budget
            detail = f"peak allocated {peak:g} MB" + ("" if self.budget is None else f", budget {self.budget:g} MB")
        gc.collect()
        torch.cuda.empty_cache()  # a failed try leaves cached blocks that would starve the next one
        return Probe(size, fits, peak, detail)


def find_max_batch(config: Config, task: Task, device: torch.device) -> tuple[Search, float]:
    """Run the search on the task's model and restore it afterwards; returns (search, seconds)."""
    from trainwell.find.state import restore, snapshot

    check_budget(config, device)
    started = time.perf_counter()
    prober = Prober(config, task, device)
    saved = snapshot(prober.model)
    was_training = prober.model.training
    try:
        prober.model.train()
        cap = min(len(task.train_data), MAX_BATCH)  # type: ignore[arg-type]
        if config.batch.keep_effective:  # a micro-batch above the effective batch would never be used
            cap = min(cap, config.batch.effective)
        result = search(prober, cap)
    finally:
        restore(saved, prober.model)
        prober.model.train(was_training)
    return result, time.perf_counter() - started
