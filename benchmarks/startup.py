"""Start-up time of the light verbs against `python -c "import torch"`, median of N runs each.

    python benchmarks/startup.py [--repeat 7] [--baseline-src ../main/src]

Prints a markdown table and writes benchmarks/results/startup.json. The brief asks for `trainwell --help`,
`recommend`, `lint` and `doctor` under 0.3 s and without importing torch. Each command's CPU seconds (user +
system of the child) are recorded too: on a shared machine wall time also counts the time other processes held
the cores. ``--baseline-src`` times the trainwell commands of another source tree (e.g. main's) in the same run,
each baseline run interleaved with the current one, so the two are compared under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trainwell.engine.run_folder import git_revision

HERE = Path(__file__).resolve().parent


def _once(cmd: list[str], env: dict[str, str] | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _time(cmd: list[str], repeat: int, baseline: dict[str, str] | None = None) -> tuple[tuple[float, float], tuple[float, float] | None]:
    """Median (wall, CPU) seconds of ``cmd``, and of the same command under the baseline's environment when given
    (the two alternate run by run)."""
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(_once(cmd, None))
        if baseline is not None:
            theirs.append(_once(cmd, baseline))

    def median(samples: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)

    return median(ours), (median(theirs) if baseline is not None else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline-src", type=Path, help="another tree's src folder to time the trainwell commands of as well")
    args = parser.parse_args()
    baseline = None
    if args.baseline_src is not None:
        if not (args.baseline_src / "trainwell" / "__init__.py").is_file():
            # _once does not check exit codes (lint and doctor exit non-zero on findings): a missing tree would time
            # a failed import as the baseline's start-up.
            parser.error(f"--baseline-src {args.baseline_src} holds no trainwell package: give another tree's src folder")
        baseline = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
    tmp = Path(tempfile.mkdtemp())
    cfg = tmp / "c.yaml"
    cfg.write_text("optimizer: {name: adam, lr: 1.0e-3, weight_decay: 0.01}\n")
    log = tmp / "trainer_state.json"
    log.write_text('{"log_history": [' + ",".join(f'{{"step": {i}, "loss": {2.0 / (i + 1)}}}' for i in range(1, 40)) + "]}")
    tw = [sys.executable, "-m", "trainwell.cli.main"]
    cases = {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "python -c pass (interpreter)": [sys.executable, "-c", "pass"],
        "trainwell --help": [*tw, "--help"],
        "trainwell recommend --task digits": [*tw, "recommend", "--task", "digits"],
        "trainwell lint c.yaml": [*tw, "lint", str(cfg)],
        "trainwell doctor trainer_state.json": [*tw, "doctor", str(log)],
    }
    results: dict[str, float] = {}
    cpu: dict[str, float] = {}
    base_results: dict[str, float] = {}
    base_cpu: dict[str, float] = {}
    for name, cmd in cases.items():
        (wall, cpu_s), base = _time(cmd, args.repeat, baseline if name.startswith("trainwell") else None)
        results[name], cpu[name] = wall, cpu_s
        if base is not None:
            base_results[name], base_cpu[name] = base
    torch_s = results['python -c "import torch"']
    print("| command | median s | CPU s | ratio to import torch |" + (" baseline s | baseline CPU s |" if baseline else ""))
    print("|---|---|---|---|" + ("---|---|" if baseline else ""))
    for name, sec in results.items():
        extra = f" {base_results[name]:.3f} | {base_cpu[name]:.3f} |" if name in base_results else (" | |" if baseline else "")
        print(f"| `{name}` | {sec:.3f} | {cpu[name]:.3f} | {sec / torch_s:.2f} |{extra}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    record: dict[str, object] = {
        "git_revision": git_revision(HERE),
        "command": "python " + " ".join(sys.argv),
        "median_s": results,
        "median_cpu_s": cpu,
    }
    if baseline is not None:
        record["baseline"] = {
            "src": str(args.baseline_src),
            "git_revision": git_revision(args.baseline_src),
            "median_s": base_results,
            "median_cpu_s": base_cpu,
        }
    (out / "startup.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
