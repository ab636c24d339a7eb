"""Atomic checkpoint folders with rotation.

A checkpoint is a folder ``checkpoints/step-<N>/`` holding the weights (``model.pt``, or the files the task's
``ModelFiles`` writes, e.g. a peft adapter folder), ``trainer.pt``
(optimizer, scheduler, loss scaler, RNG states, data position, early stopping, counters) and
``meta.json`` (step, metric, best step). It is written under a temporary name in the same directory,
every file and the folder are fsynced, and only then is it renamed into place: a reader sees either
a complete checkpoint or none, even if the process is killed mid-write. Deletion renames first, too.

Rotation keeps the newest ``keep`` checkpoints and never deletes the best or the latest.
"""

from __future__ import annotations

import errno
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
from trainwell.tasks.base import ModelFiles

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


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 2**20
    except OSError:
        return False


def _write_into(
    temp: Path,
    step: int,
    model_state: dict[str, Any] | Callable[[Path], None],
    trainer_state: dict[str, Any],
    meta: dict[str, Any],
    save: Callable[[Any, Path], None],
) -> None:
    if callable(model_state):
        model_state(temp)
    else:
        save(model_state, temp / "model.pt")
    save(trainer_state, temp / "trainer.pt")
    (temp / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=2), encoding="utf-8")
    for path in sorted(temp.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # files, then their folders
        if path.is_file():
            _fsync_file(path)
        else:
            _fsync_dir(path)
    _fsync_dir(temp)


def save_checkpoint(
    root: Path,
    step: int,
    model_state: dict[str, Any] | Callable[[Path], None],
    trainer_state: dict[str, Any],
    meta: dict[str, Any],
    save: Callable[[Any, Path], None] = torch.save,
) -> Path:
    """Write one checkpoint atomically and return its folder. ``model_state`` is a state dict (saved as
    model.pt) or a function that writes the weights' files into the folder it is given."""
    root.mkdir(parents=True, exist_ok=True)
    final = step_dir(root, step)
    temp = root / f"{_TEMP_PREFIX}step-{step}-{os.getpid()}"
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    try:
        _write_into(temp, step, model_state, trainer_state, meta, save)
    except BaseException as exc:
        # A full disk (or Ctrl-C) mid-write: drop the partial copy, so the checkpoints left are whole ones.
        shutil.rmtree(temp, ignore_errors=True)
        if isinstance(exc, RuntimeError) and _disk_full(root):
            # torch.save's zip writer reports a full disk as "unexpected pos ..."; say what it is.
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final)) from exc
        raise
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


def _read(path: Path, name: str, map_location: str | torch.device) -> dict[str, Any]:
    try:
        state: dict[str, Any] = torch.load(path / name, map_location=map_location, weights_only=True)
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
    return state


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """(model_state, trainer_state) of a checkpoint folder whose weights are a model.pt."""
    return _read(path, "model.pt", map_location), _read(path, "trainer.pt", map_location)


def load_trainer_state(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The trainer state of one checkpoint folder (the task's ModelFiles reads its weights)."""
    return _read(path, "trainer.pt", map_location)


def load_weights(files: ModelFiles, model: torch.nn.Module, path: Path, device: torch.device) -> None:
    """Put a checkpoint's weights back into ``model`` through the task's ``ModelFiles``."""
    try:
        files.load(model, path, device)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(
            problems=[
                Problem(
                    str(path),
                    "checkpoint weights must be readable and match the model",
                    type(exc).__name__,
                    f"delete {path.name} and resume from an earlier checkpoint ({exc})",
                )
            ]
        ) from None


def load_model_weights(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The state dict of a checkpoint whose weights are a model.pt."""
    return _read(path, "model.pt", map_location)
