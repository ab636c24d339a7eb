"""Progress while training: a rich bar on an interactive terminal, plain periodic lines elsewhere.

Off a terminal (a CI log, ``nohup``, a cluster job's output file) a bar cannot redraw, and printing
nothing for minutes looks like a hang, so the same progress comes as one plain line every
``LINES_EVERY_S`` seconds: step, loss, LR, samples/s and ETA. Both go to stderr, so stdout keeps only the
results (``--format json`` stays parseable). ``logging.progress: off`` is silent.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Literal, TextIO

Mode = Literal["bar", "lines", "off"]
LINES_EVERY_S = 10.0


def progress_enabled(toggle: str) -> Mode:
    """auto: the bar on an interactive terminal outside CI, plain lines otherwise; on: the bar; off: nothing."""
    if toggle == "off":
        return "off"
    if toggle == "on":
        return "bar"
    return "bar" if sys.stderr.isatty() and not os.environ.get("CI") else "lines"


def _clock(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


class PlainLines:
    """One line per ``every`` seconds at most, checked once per step (a clock read: ~50 ns), and one at
    the end. Loss and LR are those of the latest log record; throughput and ETA count this process only
    (a resumed run's earlier segments ran at another speed), from its first step on: the time before it
    (building the task and model, which `lr-find` does after its bar starts) is in ``elapsed`` only, so the
    first line no longer forecast hours from one slow step (`lr-find`: "step 1/3000, ETA 21:32:17")."""

    def __init__(self, total: int, start: int, label: str, final: bool, every: float, stream: TextIO | None = None) -> None:
        self.total, self.done, self.label, self.final, self.every = total, start, label, final, every
        self._start_step, self._stream = start, stream
        self._t0 = self._last = time.monotonic()
        self._first: tuple[float, int] | None = None  # (clock, step) when the first step was reported
        self._record: dict[str, Any] = {}

    def advance(self) -> None:
        self.done += 1
        self._maybe_print()

    def show(self, record: dict[str, Any]) -> None:
        self._record.update({k: v for k, v in record.items() if isinstance(v, (int, float))})

    def set(self, completed: int, info: str) -> None:
        self.done = completed
        self._maybe_print()

    def _maybe_print(self) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = (now, self.done)
        if now - self._last >= self.every:
            self._last = now
            self._print(now)

    def close(self) -> None:
        if self.final and self.done > self._start_step:
            self._print(time.monotonic(), end=True)

    def _print(self, now: float, end: bool = False) -> None:
        elapsed = now - self._t0
        first_t, first_step = self._first or (now, self.done)
        rate = (self.done - first_step) / (now - first_t) if self.done > first_step and now > first_t else None  # steps/s
        parts = [f"{self.label}: step {self.done}/{self.total} ({self.done / max(1, self.total):.0%})"]
        r = self._record
        parts += [f"{k} {r[k]:.4g}" for k in ("loss", "lr", "val_loss") if isinstance(r.get(k), float)]
        if rate is not None and r.get("samples") and r.get("step"):  # items per step (whole run) x steps/s (this process)
            parts.append(f"{r['samples'] / r['step'] * rate:,.0f} samples/s")
        elif rate is not None:
            parts.append(f"{rate:,.1f} steps/s")
        parts.append(f"elapsed {_clock(elapsed)}")
        if not end and rate is not None:
            parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
        print(", ".join(parts), file=self._stream or sys.stderr, flush=True)


class ProgressBar:
    """Advance once per step (cheap); the loss and LR fields change only at log steps.

    ``mode`` (from ``progress_enabled``; True/False mean bar/off) picks a rich bar, plain lines or
    nothing. Training keeps its bar on screen when done; the finders' bars (``label`` lr-find) vanish
    (``transient``) so only their answer stays, and off a terminal they print no closing line.
    """

    def __init__(
        self, total: int, start: int, mode: Mode | bool, label: str = "train", transient: bool = False, every: float | None = None
    ) -> None:
        self._progress: Any = None
        self._lines: PlainLines | None = None
        if isinstance(mode, bool):
            mode = "bar" if mode else "off"
        if mode == "lines":
            self._lines = PlainLines(total, start, label, final=not transient, every=LINES_EVERY_S if every is None else every)
        if mode != "bar":
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
        if self._lines is not None:
            self._lines.advance()
        elif self._progress is not None:
            self._progress.advance(self._task)

    def show(self, record: dict[str, Any]) -> None:
        if self._lines is not None:
            self._lines.show(record)
        if self._progress is None:
            return
        parts = [f"{k} {record[k]:.4g}" for k in ("loss", "lr", "val_loss") if isinstance(record.get(k), float)]
        self._progress.update(self._task, info="  ".join(parts))

    def set(self, completed: int, info: str) -> None:
        """Jump to ``completed`` steps with this text (the finders report each step themselves)."""
        if self._lines is not None:
            self._lines.set(completed, info)
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, info=info)

    def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
        if self._progress is not None:
            self._progress.stop()
