"""Hydra compositions across files, for a sweeper config's search space.

A sweeper file (``hparams_search/mnist_optuna.yaml`` in the lightning-hydra-template layout) samples keys such as
``model.optimizer.lr`` whose optimizer is chosen in another file: its own defaults list (``override /model: x``)
or the primary config's (``train.yaml``: ``model: mnist`` -> ``model/mnist.yaml``). Lint reads those files to know
the optimizer and training mode the sampled LR is for, and names the file each fact came from. Pure YAML work: no
Hydra import, nothing composed or run, and never a read outside the config tree the file sits in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainwell.advise.lint.view import ConfigView
from trainwell.config.io import read_mapping
from trainwell.errors import DataError

# How far up from the linted file to look for the config root (the folder holding the config groups): a sweeper
# file sits one group deep (configs/hparams_search/x.yaml), an experiment override two at most.
_MAX_UP = 3
# The facts the search-space checks read (lr_range: optimizer family, stage, training mode, pretrained); only these
# are taken from another file, so no other check judges that file's values as this one's.
_FACTS = ("optimizer", "optimizer_family", "stage", "training_mode", "pretrained")
_SUFFIXES = (".yaml", ".yml")


def defaults_choices(data: dict[str, Any]) -> dict[str, str]:
    """group -> option picked by a Hydra defaults list: ``model: mnist``, ``override /model: mnist``, ``/model: x``,
    ``optional local: default``; packages (``model@net``) and null or list options are left out."""
    entries = data.get("defaults")
    out: dict[str, str] = {}
    if not isinstance(entries, list):
        return out
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        ((key, option),) = entry.items()
        words = str(key).split()
        group = words[-1].lstrip("/") if words else ""
        if not group or "@" in group or not isinstance(option, str) or not option:
            continue
        out[group] = option
    return out


def _group_file(root: Path, group: str, option: str) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = (root / group / option).with_suffix(suffix) if not option.endswith(_SUFFIXES) else root / group / option
        try:
            resolved = candidate.resolve()
        except OSError:
            return None
        if resolved.is_file() and root.resolve() in resolved.parents:  # stay inside the config tree
            return resolved
    return None


def _root(path: Path, group: str) -> Path | None:
    """The nearest folder at or above the file's own that holds the config group folder."""
    for folder in [path.parent, *path.parent.parents][: _MAX_UP + 1]:
        if (folder / group).is_dir():
            return folder
    return None


def _primary_choice(root: Path, group: str) -> tuple[str, Path] | None:
    """The option the primary configs (YAML files directly in the root) pick for ``group``, when they agree."""
    picks: dict[str, Path] = {}
    for file in sorted(p for p in root.iterdir() if p.suffix in _SUFFIXES and p.is_file()):
        try:
            data = read_mapping(file, DataError)
        except DataError:
            continue
        option = defaults_choices(data).get(group)
        if option is not None:
            picks.setdefault(option, file)
    return next(iter(picks.items())) if len(picks) == 1 else None


def source_file(view: ConfigView, fact: str) -> str | None:
    """The other file of the composition ``fact`` was read from (by compose_search_space), or None."""
    head, sep, _ = view.where(fact).partition(": ")
    return head if sep and head.endswith(_SUFFIXES) else None


def compose_search_space(view: ConfigView, path: Path, build: Callable[[dict[str, Any], str], ConfigView]) -> list[str]:
    """Fill the facts the search-space checks need from the files the sweeper's keys live in; returns a note per
    file read (or per group that could not be resolved), for the report."""
    if not view.search_space:
        return []
    notes: list[str] = []
    own = defaults_choices(view.raw)
    groups = sorted({p.name.split(".")[0] for p in view.search_space if "." in p.name})
    for group in groups:
        if all(view.known(fact) for fact in _FACTS):
            break
        root = _root(path, group)
        if root is None:
            continue
        picked = (own[group], path) if group in own else _primary_choice(root, group)
        if picked is None:
            notes.append(f"{group}: no defaults list here or in {root.name}/ picks one option, so its optimizer is unknown")
            continue
        option, chooser = picked
        file = _group_file(root, group, option)
        if file is None:
            notes.append(f"{group}: {option} (picked in {chooser.name}) has no {group}/{option}.yaml under {root.name}/")
            continue
        try:
            other = build(read_mapping(file, DataError), str(file))
        except DataError as exc:
            notes.append(f"{group}: {file.name} could not be read ({exc.problems[0].rule})")
            continue
        rel = file.relative_to(root.resolve()).as_posix()
        taken = []
        for fact in _FACTS:
            if not view.known(fact) and other.known(fact) and not other.is_default(fact):
                view.set(fact, getattr(other, fact), f"{rel}: {group}.{other.where(fact)}")
                taken.append(fact)
        if taken:
            notes.append(f"{group}: read {rel} (picked in {chooser.name}) for {', '.join(taken)}")
    return notes
