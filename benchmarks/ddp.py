"""Many processes on CPU (gloo): throughput of 2 processes vs 1, and trainwell's DDP engine vs a plain DDP
loop at equal work (same model, data, effective batch, optimizer, schedule, clipping, and a per-step read of
the loss and the gradient norm, the two numbers trainwell reads after every step to log them and apply its NaN
policy; without the norm read the plain loop would do less than trainwell must).

Every measurement is its own torchrun job (``python -m torch.distributed.run --standalone``). Each rep runs
the four kinds back to back, the plain and the trainwell job of one process count side by side (the order
rotating from rep to rep), so that the load of a shared machine hits both members of a pair alike; a ratio
is taken within each pair, and the median over reps is reported with the ratio of the minimum times.
Each job trains the digits MLP of benchmarks/overhead.py (64-128-10, or 64-``--hidden``-10) for ``--epochs`` epochs at an effective
batch of 32 (32 per process on 1, 16 per process on 2). Time is rank 0's training loop, wall clock and the
process's CPU time: for trainwell from on_train_start to on_train_end (a callback; evaluation, checkpoints
and the report switched off), for the plain loop around its epochs. CPU time is the steadier clock on a
loaded machine; wall time includes the waits for the other rank.

    nice -n 10 python benchmarks/ddp.py [--epochs 10] [--reps 5] [--hidden 128] [--out benchmarks/results/ddp.json]
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
from typing import Any

import torch

from _common import cosine_scheduler, decay_groups
from overhead import BATCH, CLIP, LR, SEED, WARMUP, WD, digits, make_model
from trainwell.engine.callbacks import Callback

RESULTS = Path(__file__).resolve().parent / "results"
HERE = Path(__file__).resolve().parent


def plain(epochs: int, hidden: int, out: Path) -> None:
    """A plain DDP loop: DistributedSampler, DataLoader, DDP (not for one process), AdamW, cosine, clipping, loss and norm read per step."""
    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    train, _ = digits()
    sampler = torch.utils.data.distributed.DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=SEED)
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH // world, sampler=sampler)
    model = torch.nn.parallel.DistributedDataParallel(make_model(hidden)) if world > 1 else make_model(hidden)  # one process: a plain loop
    opt = torch.optim.AdamW(decay_groups(model, WD), lr=LR)
    sched = cosine_scheduler(opt, len(loader) * epochs, WARMUP)
    start, cpu = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            sched.step()
            loss.item(), norm.item()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if rank == 0:
        out.write_text(json.dumps({"wall_s": wall, "cpu_s": cpu, "steps": len(loader) * epochs}))
    # the DDP wrapper goes before its group: kept past destroy_process_group, torch 2.13's gloo aborted at exit
    # in 2 of 26 of these jobs (trainwell's engine does the same in distributed.process_group). That alone still
    # aborted 2 of 20 jobs in session 8; a barrier first, as the engine has, did not stop it (1 of 7 more): job()
    # runs an aborted job again.
    del model, opt, sched
    if world > 1:
        torch.distributed.barrier()
    torch.distributed.destroy_process_group()


class LoopClock(Callback):
    """A trainwell callback timing the training loop: wall and CPU from on_train_start to on_train_end."""

    def on_train_start(self, state: Any) -> None:
        self.start, self.cpu = time.perf_counter(), time.process_time()

    def on_train_end(self, state: Any, summary: dict[str, Any]) -> None:
        self.wall, self.cpu = time.perf_counter() - self.start, time.process_time() - self.cpu


def trainwell_run(epochs: int, hidden: int, out: Path) -> None:
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
    clock = LoopClock()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        result = trainwell.train(config, model=make_model(hidden), train_data=train, val_data=val, run_dir=run, callbacks=[clock])
    if os.environ.get("RANK", "0") == "0":
        out.write_text(json.dumps({"wall_s": clock.wall, "cpu_s": clock.cpu, "steps": result.summary["steps"]}))


ABORT_AT_EXIT = "terminate called without an active exception"


def job(kind: str, nproc: int, epochs: int, hidden: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)]
        cmd += [str(Path(__file__).resolve()), "--worker", kind, "--epochs", str(epochs), "--hidden", str(hidden), "--result", str(out)]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "CI": "1",
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        load = os.getloadavg()[0]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        aborted = 0
        # gloo still aborts at exit now and then in the plain 2-process job, barrier or not (3 of ~27 plain jobs in
        # session 8, none of ~35 trainwell jobs; cause not found): such a job is run again once, and the record says so
        while done.returncode != 0 and ABORT_AT_EXIT in done.stderr and aborted < 1:
            aborted += 1
            print(f"{kind} x{nproc} aborted at exit; running it again", file=sys.stderr)
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:  # say why (torchrun's and the ranks' last words), not only that it failed
            raise SystemExit(f"{kind} x{nproc} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        return {**json.loads(out.read_text()), "load_1min": load, "rerun_after_abort_at_exit": aborted}


def order(rep: int) -> list[tuple[str, int]]:
    """The rep's four jobs: each process count's plain and trainwell jobs side by side, both orders rotating."""
    counts = (1, 2) if rep % 2 == 0 else (2, 1)
    kinds = ("plain", "trainwell") if rep % 4 < 2 else ("trainwell", "plain")
    return [(k, n) for n in counts for k in kinds]


def summarise(jobs: list[dict[str, Any]], reps: int) -> dict[str, Any]:
    """Per kind the median and minimum of each clock; per process count the paired and min/min ratios."""
    by: dict[str, list[dict[str, Any]]] = {}
    for j in jobs:
        by.setdefault(f"{j['kind']}-{j['nproc']}", []).append(j)
    out: dict[str, Any] = {"median": {}, "min": {}, "ratios": {}}
    for name, runs in by.items():
        for clock in ("wall_s", "cpu_s"):
            out["median"].setdefault(clock, {})[name] = statistics.median(r[clock] for r in runs)
            out["min"].setdefault(clock, {})[name] = min(r[clock] for r in runs)
    for clock in ("wall_s", "cpu_s"):
        for n in (1, 2):
            pairs = [t[clock] / p[clock] for t, p in zip(by[f"trainwell-{n}"], by[f"plain-{n}"])]  # the same rep's pair
            out["ratios"][f"trainwell_vs_plain_{n}proc_{clock}_paired_median"] = statistics.median(pairs)
            out["ratios"][f"trainwell_vs_plain_{n}proc_{clock}_min_over_min"] = (
                out["min"][clock][f"trainwell-{n}"] / out["min"][clock][f"plain-{n}"]
            )
        for k in ("plain", "trainwell"):  # the same work (every epoch) in the time of 1 process vs 2
            out["ratios"][f"throughput_2proc_vs_1proc_{k}_{clock}_median"] = out["median"][clock][f"{k}-1"] / out["median"][clock][f"{k}-2"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    # The default 64-128-10 MLP takes ~1 ms a step, so the ratio mostly weighs the loop's fixed Python cost per
    # step; a wider hidden layer gives each step real work, as a model worth many processes has.
    parser.add_argument("--hidden", type=int, default=128, help="the MLP's hidden width (default 128)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ddp.json")
    parser.add_argument("--worker", choices=("plain", "trainwell"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.worker == "plain":
        return plain(args.epochs, args.hidden, args.result)
    if args.worker == "trainwell":
        return trainwell_run(args.epochs, args.hidden, args.result)
    from trainwell.engine.run_folder import git_revision

    load_start, jobs = os.getloadavg(), []
    for rep in range(args.reps):
        for kind, n in order(rep):
            jobs.append({"rep": rep, "kind": kind, "nproc": n, **job(kind, n, args.epochs, args.hidden)})
            print(f"rep {rep} {kind}-{n}: wall {jobs[-1]['wall_s']:.3f} s, cpu {jobs[-1]['cpu_s']:.3f} s, load {jobs[-1]['load_1min']:.1f}")
    stats = summarise(jobs, args.reps)
    for name, value in stats["ratios"].items():
        print(f"{name}: {value:.3f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join(["nice", "-n", str(os.nice(0)), Path(sys.executable).name, *sys.argv]),
        "git_revision": git_revision(),
        "setup": {
            "epochs": args.epochs,
            "reps": args.reps,
            "model": f"MLP 64-{args.hidden}-10",
            "effective_batch": BATCH,
            "backend": "gloo",
            "device": "cpu",
            "threads_per_process": 1,
            "cpus": os.cpu_count(),
            "niceness": os.nice(0),
            "load_avg_start": load_start,
            "load_avg_end": os.getloadavg(),
            "machine": "2 CPU cores; a 2-process job has at most the 2 cores, and no idle one (load_avg_* says what else ran)",
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "steps": {f"{j['kind']}-{j['nproc']}": int(j["steps"]) for j in jobs},
        "jobs": jobs,
        **stats,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
