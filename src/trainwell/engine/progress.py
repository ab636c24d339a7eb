"""A rich progress bar with loss, LR and ETA; silent when output is not a terminal or CI is set."""

from __future__ import annotations

import os
import sys
from typing import Any


def progress_enabled(toggle: str) -> bool:
    if toggle != "auto":
        return toggle == "on"
    return sys.stderr.isatty() and not os.environ.get("CI")


class ProgressBar:
    """Advance once per step (cheap); the loss and LR fields change only at log steps.

    Training keeps its bar on screen when done; the finders' bars (``label`` lr-find) vanish
    (``transient``) so only their answer stays.
    """

    def __init__(self, total: int, start: int, enabled: bool, label: str = "train", transient: bool = False) -> None:
        self._progress: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=transient,
        )
        self._task = self._progress.add_task(label, total=total, completed=start, info="")
        self._progress.start()

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def show(self, record: dict[str, Any]) -> None:
        if self._progress is None:
            return
        parts = [f"{k} {record[k]:.4g}" for k in ("loss", "lr", "val_loss") if isinstance(record.get(k), float)]
        self._progress.update(self._task, info="  ".join(parts))

    def set(self, completed: int, info: str) -> None:
        """Jump to ``completed`` steps with this text (the finders report each step themselves)."""
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, info=info)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
