"""A live table of trials (rich): the latest trials with their stage, the current best. Quiet when output
is not a terminal or ``CI`` is set (the same rule as the training progress bar)."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from trainwell.tune.staged import stage_of

SHOWN = 12  # latest trials in the table


def enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def render(trials: Sequence[Any], target: int | None, maximize: bool, title: str) -> Any:
    """A rich Table of the latest trials, captioned with the best so far."""
    from optuna.trial import TrialState
    from rich.table import Table

    table = Table(title=title, expand=False)
    for col in ("#", "stage", "state", "value", "params"):
        table.add_column(col)
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = (max if maximize else min)(done, key=lambda t: t.value) if done else None
    for t in list(trials)[-SHOWN:]:
        style = "bold green" if best is not None and t.number == best.number else None
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items())
        table.add_row(str(t.number), stage_of(str(t.user_attrs.get("tag", ""))), t.state.name.lower(), _fmt(t.value), params, style=style)
    finished = sum(1 for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED))
    table.caption = f"{finished}/{target or '?'} finished; best: " + (f"trial {best.number} = {_fmt(best.value)}" if best else "none yet")
    return table


class LiveTable:
    """Context manager around rich.live.Live; ``update(study)`` redraws. Does nothing when disabled."""

    def __init__(self, target: int | None, maximize: bool, title: str, on: bool | None = None) -> None:
        self.target, self.maximize, self.title = target, maximize, title
        self.on = enabled() if on is None else on
        self.live: Any = None

    def __enter__(self) -> LiveTable:
        if self.on:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(stderr=True), refresh_per_second=2, transient=False)
            self.live.__enter__()
        return self

    def update(self, study: Any, *_: Any) -> None:
        if self.live is not None:
            self.live.update(render(study.get_trials(deepcopy=False), self.target, self.maximize, self.title))

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
