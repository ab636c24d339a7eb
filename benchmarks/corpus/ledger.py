"""The corpus ledger: every finished run, keyed by a hash of its spec, in one committed JSON file.

A spec is everything that decides a run's outcome: the setting (its own hash), the kind (train / find),
the seed and the config the harness trains (for the finder also a hash of trainwell's find/ sources, so a
changed finder re-runs and an unchanged one is never repeated). The file is rewritten atomically under an
exclusive lock after every run, so two worker processes can share it and a killed worker loses one run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LEDGER = Path(os.environ.get("CORPUS_LEDGER", ROOT / "benchmarks" / "results" / "corpus_ledger.json"))
LOCK = LEDGER.with_name(LEDGER.name + ".lock")  # beside the ledger, ignored by git
CLAIMS = LEDGER.with_name(LEDGER.name + ".claims")
CLAIM_TTL_S = 1800.0  # a claim older than this belongs to a worker that died


def spec_key(spec: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def git_revision(root: Path = ROOT) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short=10", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return rev + ("+dirty-src" if dirty else "")


def trainwell_revision() -> str:
    """The revision of the trainwell sources actually imported (PYTHONPATH may point at another checkout)."""
    import trainwell

    return git_revision(Path(trainwell.__file__).resolve().parents[2])


def finder_sources_hash() -> str:
    """A hash of the code that decides a finder pick (trainwell/find/*.py)."""
    h = hashlib.sha1()
    import trainwell

    for path in sorted((Path(trainwell.__file__).resolve().parent / "find").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


@contextlib.contextmanager
def locked() -> Iterator[None]:
    LOCK.touch(exist_ok=True)
    with LOCK.open("r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path, empty: dict[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        return empty
    return json.loads(path.read_text())


def _write(path: Path, data: dict[str, Any], indent: int | None = None) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=indent, sort_keys=True, separators=(",", ":") if indent is None else None) + "\n")
    tmp.replace(path)


def load() -> dict[str, Any]:
    return _read(LEDGER, {"about": "", "settings": {}, "runs": {}})


def save(ledger: dict[str, Any]) -> None:
    LEDGER.parent.mkdir(parents=True, exist_ok=True)
    # One run per line: small diffs in git and a readable file.
    runs = ledger.get("runs", {})
    head = {k: v for k, v in ledger.items() if k != "runs"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "runs": {']
    items = sorted(runs.items())
    for i, (key, entry) in enumerate(items):
        lines.append(f"{json.dumps(key)}: {json.dumps(entry, sort_keys=True)}" + ("," if i < len(items) - 1 else ""))
    lines.append("}}")
    tmp = LEDGER.with_name(LEDGER.name + f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(LEDGER)


def claim(candidates: list[str]) -> str | None:
    """Claim the first candidate no live worker holds (call under ``locked()``)."""
    claims = _read(CLAIMS, {})
    now = time.time()
    live = {k: v for k, v in claims.items() if now - float(v["t"]) < CLAIM_TTL_S}
    for key in candidates:
        if key not in live:
            live[key] = {"t": now, "pid": os.getpid()}
            _write(CLAIMS, live)
            return key
    _write(CLAIMS, live)
    return None


def release(key: str) -> None:
    claims = _read(CLAIMS, {})
    claims.pop(key, None)
    _write(CLAIMS, claims)


def record(key: str, entry: dict[str, Any]) -> None:
    with locked():
        ledger = load()
        ledger["runs"][key] = entry
        save(ledger)
        release(key)
