"""Where a trainwell DDP step spends more than a plain DDP step: single steps interleaved in one torchrun job.

ddp.py times whole runs, whose wall and CPU clocks drift by more than the effect on a shared machine. Here
each rank of one 2-process job (gloo, CPU) holds a plain DDP model and a trainwell Trainer (its StepRunner and
per-step bookkeeping, as overhead.py's per-step measure does for one process) and alternates them step by step
on the same batches (the order flips every step). Each step is timed on the main thread's CPU clock
(``time.thread_time_ns``): the waits for the other rank and gloo's own thread are left out, so what remains
is the work each step asks of this process. The plain step reads the loss and the gradient norm, as trainwell
does after every step. Reported: the median per-step CPU of each, and the median paired difference.

    nice -n 10 python benchmarks/ddp_step.py [--steps 1500] [--hidden 128] [--out benchmarks/results/ddp_step.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from overhead import BATCH, alternate, digits, engine_step, make_model, paired_medians, plain_step

RESULTS = Path(__file__).resolve().parent / "results"
HERE = Path(__file__).resolve().parent


def worker(steps: int, hidden: int, out: Path) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo")
    plain_ns, tw_ns = interleaved(steps, hidden)
    gc.collect()  # the DDP wrappers go before their group (see ddp.py)
    plain_us, tw_us, diff_us = paired_medians(plain_ns, tw_ns)
    if torch.distributed.get_rank() == 0:
        measured = {"plain_step_cpu_us": plain_us, "trainwell_step_cpu_us": tw_us, "paired_diff_us": diff_us}
        out.write_text(json.dumps({**measured, "ratio": 1 + diff_us / plain_us}))
    torch.distributed.destroy_process_group()


def interleaved(steps: int, hidden: int) -> tuple[list[int], list[int]]:
    """Main-thread CPU nanoseconds of each plain and each trainwell step, alternating on the same batches."""
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    train, val = digits()
    x_all, y_all = train.tensors
    per = BATCH // world  # this rank's slice of each global batch, as both samplers give it
    batches = [
        (x_all[i + rank * per : i + (rank + 1) * per], y_all[i + rank * per : i + (rank + 1) * per])
        for i in range(0, len(x_all) - BATCH + 1, BATCH)
    ]
    total = 10 * steps
    step = plain_step(torch.nn.parallel.DistributedDataParallel(make_model(hidden)), total, read=True)

    with tempfile.TemporaryDirectory() as work:
        trainer, trainwell_step = engine_step(make_model(hidden), train, val, total, Path(work), {"size": per})
        times = alternate(step, trainwell_step, batches, steps, time.thread_time_ns)
        trainer.log.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--out", type=Path, default=RESULTS / "ddp_step.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.steps, args.hidden, args.result)
    from trainwell.engine.run_folder import git_revision

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(Path(__file__).resolve())]
        cmd += ["--worker", "--steps", str(args.steps), "--hidden", str(args.hidden), "--result", str(result)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"the torchrun job failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        measured = json.loads(result.read_text())
    print(
        f"per step (main thread CPU, median of {args.steps - args.steps // 5}): plain DDP {measured['plain_step_cpu_us']:.1f} µs, "
        f"trainwell {measured['trainwell_step_cpu_us']:.1f} µs, paired difference {measured['paired_diff_us']:+.1f} µs ({measured['ratio']:.3f}x)"
    )
    record = {
        "command": " ".join(["nice", "-n", str(os.nice(0)), Path(sys.executable).name, *sys.argv]),
        "git_revision": git_revision(),
        "setup": {
            "steps": args.steps,
            "model": f"MLP 64-{args.hidden}-10",
            "effective_batch": BATCH,
            "processes": 2,
            "backend": "gloo",
            "load_avg_start": load_start,
            "load_avg_end": os.getloadavg(),
            "torch": torch.__version__,
        },
        **measured,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
