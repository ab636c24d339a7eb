"""Start-up time of the light verbs against `python -c "import torch"`, median of N runs each.

    python benchmarks/startup.py [--repeat 7]

Prints a markdown table and writes benchmarks/results/startup.json. The brief asks for `trainwell --help`,
`recommend`, `lint` and `doctor` under 0.5 s and without importing torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trainwell.engine.run_folder import git_revision

HERE = Path(__file__).resolve().parent


def _time(cmd: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
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
    results = {name: _time(cmd, args.repeat) for name, cmd in cases.items()}
    torch_s = results['python -c "import torch"']
    print("| command | median s | ratio to import torch |\n|---|---|---|")
    for name, sec in results.items():
        print(f"| `{name}` | {sec:.3f} | {sec / torch_s:.2f} |")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    record = {"git_revision": git_revision(HERE), "command": "python " + " ".join(sys.argv), "median_s": results}
    (out / "startup.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
