"""Many processes on CPU (gloo): throughput of 2 processes vs 1, and trainwell's DDP engine vs a plain DDP
loop at equal work (same model, data, effective batch, optimizer, schedule, clipping, per-step loss read).

Every measurement is its own torchrun job (``python -m torch.distributed.run --standalone``), the four kinds
interleaved rep by rep so that machine load hits them alike; the median of each is reported. Each job trains
the digits MLP of benchmarks/overhead.py (64-128-10) for ``--epochs`` epochs at an effective batch of 32
(32 per process on 1, 16 per process on 2). Time is the training loop's wall time on rank 0: trainwell's
``summary.wall_time_s`` (evaluation, checkpoints and the report switched off), the plain loop's own clock.

    python benchmarks/ddp.py [--epochs 10] [--reps 5] [--out benchmarks/results/ddp.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from _common import cosine_scheduler, decay_groups
from overhead import BATCH, CLIP, LR, SEED, WARMUP, WD, digits, make_model

RESULTS = Path(__file__).resolve().parent / "results"
HERE = Path(__file__).resolve().parent


def plain(epochs: int, out: Path) -> None:
    """A plain DDP loop: DistributedSampler, DataLoader, DDP, AdamW, cosine, clipping, loss read per step."""
    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    train, _ = digits()
    sampler = torch.utils.data.distributed.DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=SEED)
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH // world, sampler=sampler)
    model = torch.nn.parallel.DistributedDataParallel(make_model())
    opt = torch.optim.AdamW(decay_groups(model, WD), lr=LR)
    sched = cosine_scheduler(opt, len(loader) * epochs, WARMUP)
    start = time.perf_counter()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            sched.step()
            loss.item()
    wall = time.perf_counter() - start
    if rank == 0:
        out.write_text(json.dumps({"wall_s": wall, "steps": len(loader) * epochs}))
    torch.distributed.destroy_process_group()


def trainwell_run(epochs: int, out: Path) -> None:
    import trainwell

    world = int(os.environ.get("WORLD_SIZE", "1"))
    train, val = digits()
    config = {
        "seed": SEED,
        "optimizer": {"name": "adamw", "lr": LR, "weight_decay": WD},
        "schedule": {"name": "cosine", "warmup": WARMUP},
        "batch": {"size": BATCH // world},
        "training": {"epochs": epochs, "max_grad_norm": CLIP, "threads": 1, "device": "cpu"},
        "evaluation": {"strategy": "no"},
        "early_stopping": {"patience": None},
        "checkpoint": {"strategy": "no", "load_best_at_end": False},
        "logging": {"every": 10**6, "tensorboard": "off", "progress": "off"},
        "doctor": {"live": False},
        "report": False,
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = trainwell.train(config, model=make_model(), train_data=train, val_data=val, run_dir=Path(tmp) / "run")
    if os.environ.get("RANK", "0") == "0":
        out.write_text(json.dumps({"wall_s": result.summary["wall_time_s"], "steps": result.summary["steps"]}))


def job(kind: str, nproc: int, epochs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)]
        cmd += [str(Path(__file__).resolve()), "--worker", kind, "--epochs", str(epochs), "--result", str(out)]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "CI": "1",
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
        return json.loads(out.read_text())  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "ddp.json")
    parser.add_argument("--worker", choices=("plain", "trainwell"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.worker == "plain":
        return plain(args.epochs, args.result)
    if args.worker == "trainwell":
        return trainwell_run(args.epochs, args.result)
    from trainwell.engine.run_folder import git_revision

    kinds = [(k, n) for n in (1, 2) for k in ("plain", "trainwell")]
    walls: dict[str, list[float]] = {f"{k}-{n}": [] for k, n in kinds}
    steps: dict[str, int] = {}
    for rep in range(args.reps):
        for k, n in kinds if rep % 2 == 0 else kinds[::-1]:
            r = job(k, n, args.epochs)
            walls[f"{k}-{n}"].append(r["wall_s"])
            steps[f"{k}-{n}"] = int(r["steps"])
    median = {name: statistics.median(v) for name, v in walls.items()}
    items = {name: steps[name] * BATCH for name in steps}  # every step reads one effective batch (short last one aside)
    ratios = {
        "trainwell_vs_plain_1proc": median["trainwell-1"] / median["plain-1"],
        "trainwell_vs_plain_2proc": median["trainwell-2"] / median["plain-2"],
        "throughput_2proc_vs_1proc_plain": median["plain-1"] / median["plain-2"],
        "throughput_2proc_vs_1proc_trainwell": median["trainwell-1"] / median["trainwell-2"],
    }
    for name, value in median.items():
        print(f"{name}: {value:.3f} s median of {args.reps} ({steps[name]} steps, ~{items[name] / value:,.0f} samples/s)")
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git_revision": git_revision(),
        "setup": {
            "epochs": args.epochs,
            "reps": args.reps,
            "effective_batch": BATCH,
            "backend": "gloo",
            "device": "cpu",
            "threads_per_process": 1,
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "steps": steps,
        "wall_s": walls,
        "median_wall_s": median,
        "ratios": ratios,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
