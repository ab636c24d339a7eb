"""Atomic checkpoint folders with rotation.

A checkpoint is a folder ``checkpoints/step-<N>/`` holding ``model.pt`` (the weights), ``trainer.pt``
(optimizer, scheduler, loss scaler, RNG states, data position, early stopping, counters) and
``meta.json`` (step, metric, best step). It is written under a temporary name in the same directory,
every file and the folder are fsynced, and only then is it renamed into place: a reader sees either
a complete checkpoint or none, even if the process is killed mid-write. Deletion renames first, too.

Rotation keeps the newest ``keep`` checkpoints and never deletes the best or the latest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainwell.errors import CheckpointError, Problem

_STEP_DIR = re.compile(r"^step-(\d+)$")
_TEMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".del-"


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    path: Path
    meta: dict[str, Any]


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms (Windows) cannot open a directory; rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step}"


def save_checkpoint(
    root: Path,
    step: int,
    model_state: dict[str, Any],
    trainer_state: dict[str, Any],
    meta: dict[str, Any],
    save: Callable[[Any, Path], None] = torch.save,
) -> Path:
    """Write one checkpoint atomically and return its folder."""
    root.mkdir(parents=True, exist_ok=True)
    final = step_dir(root, step)
    temp = root / f"{_TEMP_PREFIX}step-{step}-{os.getpid()}"
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    save(model_state, temp / "model.pt")
    save(trainer_state, temp / "trainer.pt")
    (temp / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=2), encoding="utf-8")
    for name in ("model.pt", "trainer.pt", "meta.json"):
        _fsync_file(temp / name)
    _fsync_dir(temp)
    if final.exists():  # the same step saved again (after a resume): retire the old copy first
        _remove(final)
    os.replace(temp, final)
    _fsync_dir(root)
    return final


def _remove(path: Path) -> None:
    """Rename, then delete: a half-deleted folder never looks like a checkpoint."""
    trash = path.parent / f"{_TRASH_PREFIX}{path.name}-{os.getpid()}"
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def list_checkpoints(root: Path) -> list[CheckpointInfo]:
    """Complete checkpoints under ``root``, oldest first. Unfinished temporary folders are ignored."""
    found: list[CheckpointInfo] = []
    if not root.is_dir():
        return found
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        meta_file = child / "meta.json"
        if match and meta_file.is_file():
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
            except ValueError:
                continue
            found.append(CheckpointInfo(int(match.group(1)), child, meta))
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(root: Path) -> CheckpointInfo | None:
    found = list_checkpoints(root)
    return found[-1] if found else None


def clean_partial(root: Path) -> list[str]:
    """Delete leftovers of writes or deletions that a kill interrupted; returns their names."""
    removed = []
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith((_TEMP_PREFIX, _TRASH_PREFIX)):
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
    return removed


def rotate(root: Path, keep: int, best_step: int | None) -> list[int]:
    """Delete all but the newest ``keep`` checkpoints, sparing the best and the latest; returns deleted steps."""
    found = list_checkpoints(root)
    if not found:
        return []
    protected = {found[-1].step, *(c.step for c in found[-keep:])}
    if best_step is not None:
        protected.add(best_step)
    deleted = []
    for info in found:
        if info.step not in protected:
            _remove(info.path)
            deleted.append(info.step)
    return deleted


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """(model_state, trainer_state) of one checkpoint folder."""
    try:
        model_state = torch.load(path / "model.pt", map_location=map_location, weights_only=True)
        trainer_state = torch.load(path / "trainer.pt", map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(
            problems=[
                Problem(
                    str(path),
                    "checkpoint files must be readable",
                    type(exc).__name__,
                    f"delete {path.name} and resume from an earlier checkpoint ({exc})",
                )
            ]
        ) from None
    return model_state, trainer_state


def load_model_weights(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    state: dict[str, Any] = torch.load(path / "model.pt", map_location=map_location, weights_only=True)
    return state
