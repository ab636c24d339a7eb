"""The corpus ledger: every finished run, keyed by a hash of its spec, in one committed JSON file.

A spec is everything that decides a run's outcome: the setting (its own hash), the kind (train / find),
the seed and the config the harness trains (for the finder also a hash of trainwell's find/ sources, so a
changed finder re-runs and an unchanged one is never repeated). The file is rewritten atomically under an
exclusive lock after every run, so two worker processes can share it and a killed worker loses one run.

An entry holds what the run measured and what the analysis reads, not what the plan re-derives: the plan
names every run it needs with its full spec and finds it by the key, so the entry keeps only the spec's
identity (``slim``: the setting's hash, the ablation's fields and a hash of a recommended config) and drops
the config diff, the finder's full record and its curve (its last LR, where the range test stopped, is
the one point finder.py reads). ``load`` slims entries written by older workers as it reads them, so a
ledger may mix both forms; ``python benchmarks/corpus/ledger.py --compact [PATH]`` rewrites one slim.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LEDGER = Path(os.environ.get("CORPUS_LEDGER", ROOT / "benchmarks" / "results" / "corpus_ledger.json"))
LOCK = LEDGER.with_name(LEDGER.name + ".lock")  # beside the ledger, ignored by git
CLAIMS = LEDGER.with_name(LEDGER.name + ".claims")
CLAIM_TTL_S = 1800.0  # a claim older than this belongs to a worker that died (on another host: its pid cannot be asked)


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
def locked(path: Path | None = None) -> Iterator[None]:
    """The ledger's exclusive lock (the lock file beside ``path``, by default the ledger's)."""
    lock = LOCK if path is None else path.with_name(path.name + ".lock")
    lock.touch(exist_ok=True)
    with lock.open("r+") as fh:
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


# What an entry keeps besides its kind's measurements: who ran it, where and how long.
COMMON = ("setting", "kind", "seed", "rev", "wall_s")
MEASURED = {
    "train": ("val_acc", "test_acc", "status", "lr", "steps", "found_lr", "stop_reason", "message"),
    "find": ("finder", "peak_lr", "suggested_lr", "reliable", "lr_min", "shape", "stop_lr"),
}
# The spec's fields the analysis reads (the ablation pairing, by the finder sources too where a config measures its
# LR: plan.config_item; the finder's current-setting check); the rest
# (overrides, the recommended config) is what the plan names and the key was hashed from.
IDENTITY = ("setting_key", "ablation", "base", "switch", "config_key", "finder")


def slim(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as the ledger stores it: idempotent, and the form every reader sees (old entries included)."""
    out = {k: entry[k] for k in COMMON if k in entry}
    for k in MEASURED.get(entry.get("kind", "train"), ()):
        if k in entry:
            out[k] = entry[k]
    if "stop_lr" not in out and entry.get("curve", {}).get("lr"):
        out["stop_lr"] = entry["curve"]["lr"][-1]
    # the usual case is left unsaid: a run is "ok" unless it says otherwise, and one that trained its whole
    # budget (the spec says how long that was) has no stop reason
    for k, usual in (("status", "ok"), ("message", "")):
        if out.get(k) == usual:
            out.pop(k)
    if str(out.get("stop_reason", "")).startswith("finished "):
        out.pop("stop_reason")
    spec = entry.get("spec", {})
    identity = {k: spec[k] for k in IDENTITY if k in spec}
    if "config" in spec and "ablation" not in spec:  # a recommended config: the key its ablations name as ``base``
        identity["config_key"] = spec_key(spec["config"])
    out["spec"] = identity
    return out


def load(path: Path | None = None) -> dict[str, Any]:
    book = _read(path or LEDGER, {"about": "", "settings": {}, "runs": {}})
    book["runs"] = {key: slim(entry) for key, entry in book.get("runs", {}).items()}
    return book


def save(ledger: dict[str, Any], path: Path | None = None) -> None:
    path = path or LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    # One run per line: small diffs in git and a readable file.
    runs = ledger.get("runs", {})
    head = {k: v for k, v in ledger.items() if k != "runs"}
    lines = [json.dumps(head, sort_keys=True, separators=(",", ":"))[:-1] + ("," if head else "") + '"runs":{']
    items = sorted(runs.items())
    for i, (key, entry) in enumerate(items):
        row = json.dumps(slim(entry), sort_keys=True, separators=(",", ":"))
        lines.append(f"{json.dumps(key)}:{row}" + ("," if i < len(items) - 1 else ""))
    lines.append("}}")
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def held(entry: dict[str, Any], now: float) -> bool:
    """Whether a claim still holds: younger than CLAIM_TTL_S and, when it was made on this host, its worker
    still running (a crashed or killed worker's claims are free at once, not after half an hour). A claim from
    another host, or from a worker before claims named their host, waits out the TTL; a pid reused by another
    process only keeps a dead claim until then."""
    if now - float(entry["t"]) >= CLAIM_TTL_S:
        return False
    return not (entry.get("host") == socket.gethostname() and _pid_gone(int(entry["pid"])))


def claim(candidates: list[str]) -> str | None:
    """Claim the first candidate no live worker holds (call under ``locked()``)."""
    claims = _read(CLAIMS, {})
    now = time.time()
    live = {k: v for k, v in claims.items() if held(v, now)}
    for key in candidates:
        if key not in live:
            live[key] = {"t": now, "pid": os.getpid(), "host": socket.gethostname()}
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


def compact(path: Path) -> tuple[int, int]:
    """Rewrite the ledger at ``path`` with every entry slim, under its lock; (bytes before, bytes after)."""
    before = path.stat().st_size
    with locked(path):
        save(load(path), path)
    return before, path.stat().st_size


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Rewrite a corpus ledger with every entry slim (see the module's doc).")
    parser.add_argument("--compact", metavar="PATH", nargs="?", const=str(LEDGER), required=True, help="the ledger (default: %(const)s)")
    args = parser.parse_args()
    path = Path(args.compact)
    if not path.is_file():
        raise SystemExit(f"ledger.py --compact: no ledger at {path} (give the path of a corpus_ledger.json)")
    before, after = compact(path)
    print(f"{path}: {before} -> {after} bytes, {len(load(path)['runs'])} runs")


if __name__ == "__main__":
    main()
