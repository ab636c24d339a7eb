"""Orchestration of one training run, above the engine and the features it uses.

``trainwell.run.train`` (also ``trainwell.train``) loads and resolves the config, builds the task, runs
the finders, hands the live doctor to the engine as a callback, and writes the findings and the report.
The CLI's ``train`` verb, the finders' verbs and ``tune``'s trials all come through here. Importing this
package does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunResult", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from trainwell.run.orchestrator import train

        return train
    if name == "RunResult":
        from trainwell.engine.api import RunResult

        return RunResult
    raise AttributeError(f"module 'trainwell.run' has no attribute {name!r}")
