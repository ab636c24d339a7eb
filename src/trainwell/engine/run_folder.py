"""The run folder: resolved config, environment, metrics (JSONL, CSV, TensorBoard), summary.

Files are written at log and evaluation events only, never per step. See docs/ARCHITECTURE.md for
the layout every reader relies on.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import platform
import sys
from pathlib import Path
from typing import Any

from trainwell.config.schema import Config
from trainwell.config.structure import to_dict
from trainwell.errors import ConfigError, Problem
from trainwell.files import write_text_atomic

METRICS = "metrics.jsonl"


def new_run_dir(config: Config, run_dir: str | Path | None, label: str | None = None) -> Path:
    """``run_dir`` when given (it must be new or empty), else ``output_dir/<label>-<UTC time>`` (with a
    suffix if it exists); ``label`` defaults to the task name."""
    if run_dir is not None:
        path = Path(run_dir)
        check_fresh_run_dir(path)
    else:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        task = (label or config.task).replace(":", "-").replace(".", "-").replace("/", "-")
        path = Path(config.output_dir) / f"{task}-{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = Path(config.output_dir) / f"{task}-{stamp}-{n}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_fresh_run_dir(path: Path) -> None:
    """A new run never writes into a folder that already holds files: its checkpoints, metrics and config
    would mix with the old run's, and a later --resume would load the old run's checkpoints."""
    if not path.exists():
        return
    if not path.is_dir():
        problem = Problem("run_dir", "must be a folder for the new run", str(path), "it is a file; pick another --run-dir")
        raise ConfigError(problems=[problem])
    held = sorted(child.name for child in path.iterdir())
    if held:
        shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        raise ConfigError(
            problems=[
                Problem(
                    "run_dir",
                    "must be a new or empty folder: a run is never written over or beside another",
                    f"{path} (holds {shown})",
                    f"continue that run with `trainwell train --resume {path}`, start a new run from its weights with "
                    f"`--init-from {path}`, or pick another --run-dir",
                )
            ]
        )


def write_json(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and rename, so a reader never sees half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def git_revision(start: Path | None = None) -> str | None:
    """The commit checked out in the repository around ``start`` (the working directory), read from
    .git directly: a subprocess would cost more than the rest of the run folder together."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        git = folder / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            git = (folder / git.read_text(encoding="utf-8").split(":", 1)[1].strip()).resolve()
        if git.is_dir():
            return _resolve_head(git)
    return None


def _resolve_head(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = git
    if (git / "commondir").is_file():
        common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for root in (git, common):
        if (root / ref).is_file():
            return (root / ref).read_text(encoding="utf-8").strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def command_line(argv: list[str]) -> str:
    """The command that started this process, as a shell would take it back: arguments quoted
    (`data.options={drop: [fnlwgt]}` stays one word) and `python -m trainwell` for the module's
    __main__.py (its full path alone does not run)."""
    import shlex

    words = list(argv)
    if words and Path(words[0]).name == "__main__.py" and Path(words[0]).parent.name == "trainwell":
        words = ["python", "-m", "trainwell", *words[1:]]
    return shlex.join(words)


def environment(config: Config, device: str, precision: str, precision_reason: str) -> dict[str, Any]:
    import torch

    from trainwell import __version__

    return {
        "trainwell": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "precision": precision,
        "precision_reason": precision_reason,
        "git_revision": git_revision(),
        "seed": config.seed,
        "command": command_line(sys.argv),
        "threads": torch.get_num_threads(),
    }


def write_config(run_dir: Path, config: Config) -> None:
    """config.yaml, in the layout of trainwell.config.dump, through libyaml's C emitter when present
    (the pure-Python one takes ~20 ms, a visible share of a short run)."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(to_dict(config), Dumper=dumper, sort_keys=False, default_flow_style=None, width=100)
    write_text_atomic(run_dir / "config.yaml", text)


class MetricsLog:
    """Appends records to metrics.jsonl (and TensorBoard when enabled); writes metrics.csv on close."""

    def __init__(self, run_dir: Path, tensorboard: str, resume_step: int | None = None) -> None:
        self.run_dir = run_dir
        self.path = run_dir / METRICS
        if resume_step is not None:
            truncate_after(self.path, resume_step)
        elif self.path.exists():
            self.path.unlink()
        self._fh = open(self.path, "a", encoding="utf-8")  # open for the whole run; closed in close()
        self._tb = _tensorboard_writer(run_dir / "tb", tensorboard, resume_step)

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        if self._tb is not None:
            prefix = "train/" if record.get("event") == "train" else "eval/"
            for key, value in record.items():
                if key not in ("event", "step", "time") and isinstance(value, (int, float)) and value is not None:
                    self._tb.add_scalar(prefix + key, value, record["step"])

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()
        write_csv(self.path, self.run_dir / "metrics.csv")


def _tensorboard_writer(path: Path, toggle: str, resume_step: int | None) -> Any:
    if toggle == "off":
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if toggle == "on":
            from trainwell.errors import MissingDependencyError

            raise MissingDependencyError("tensorboard", "tensorboard", "logging.tensorboard: on") from None
        return None
    # purge_step drops the events a killed run wrote after its last checkpoint.
    return SummaryWriter(str(path), purge_step=None if resume_step is None else resume_step + 1)


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line cut short by a kill
            continue
    return rows


def truncate_after(path: Path, step: int) -> None:
    """Keep only the records up to ``step`` (the checkpoint a run resumes from)."""
    rows = [r for r in read_records(path) if int(r.get("step", 0)) <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))  # a full disk keeps the whole log


def write_csv(jsonl: Path, out: Path) -> None:
    """The train and eval records as a table (a ``resume`` record's list of changes is no column)."""
    rows = [r for r in read_records(jsonl) if r.get("event") in ("train", "eval")]
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
