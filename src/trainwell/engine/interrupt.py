"""Ctrl-C and SIGTERM during training: finish the step, checkpoint it, stop.

While the loop runs, SIGINT and SIGTERM only set a flag. The loop reads it after each step, saves a
checkpoint at that step (atomically, like every checkpoint) and stops with status ``interrupted``; ``train``
then raises ``TrainingInterrupted`` (a KeyboardInterrupt, so a script or notebook stops as it would have)
with the resume command. Nothing since the last scheduled checkpoint is lost, and the resumed run is
bit-identical to an uninterrupted one. A second signal raises KeyboardInterrupt at once: the person
insists, and the run keeps its last complete checkpoint.

The previous handlers come back when the loop ends, however it ends: a library must not leave its
handlers installed. Python lets only the main thread install handlers, so elsewhere (a worker thread)
signals keep whatever behaviour the host gave them.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

WATCHED = (signal.SIGINT, signal.SIGTERM)


class InterruptWatch:
    """A context manager: ``signum`` is the first watched signal received inside it, else None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            for sig in WATCHED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # the second signal: stop now, without the checkpoint
        self.signum = signum

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            # None: a handler set outside Python, which Python cannot reinstall; the default is the closest.
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""
