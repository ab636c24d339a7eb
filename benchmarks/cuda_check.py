"""CUDA check: trainwell's engine against a plain PyTorch loop on a GPU, in fp32, bf16 and fp16.

Both loops train the same MLP (1024-4096-4096-10, from the same initial weights) on the same synthetic
teacher-labelled data (64k train / 8k val, pinned CPU tensors moved per batch), with AdamW, cosine
decay with 10 % warmup, clipping at 1.0 (after unscaling in fp16), batch 512, an eval pass each epoch,
and the precision under test (bf16 autocast; fp16 autocast + GradScaler). Repetitions alternate
(plain, trainwell, then trainwell, plain, ...) and every time is kept in the JSON. It checks that each precision trains (val accuracy), that `auto`
resolves to bf16 on a bf16-capable card, and reports samples/s and trainwell/plain time ratios.

    python benchmarks/cuda_check.py [--epochs 3] [--reps 3] [--out benchmarks/results/cuda.json]

Needs a CUDA device; prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from _common import cosine_scheduler, decay_groups, quiet

LR, WD, CLIP, WARMUP, SEED = 1e-3, 0.01, 1.0, 0.1, 0
N_TRAIN, N_VAL, DIM, CLASSES = 65536, 8192, 1024, 10
# Set from the command line: --width 4096 --batch 512 is host-bound (the DataLoader collating rows is most
# of a step); --width 8192 --depth 3 --batch 1024 makes the GPU the bottleneck.
BATCH, WIDTH, DEPTH = 512, 4096, 2


def data() -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(SEED)
    teacher = torch.randn(DIM, CLASSES, generator=g)
    x = torch.randn(N_TRAIN + N_VAL, DIM, generator=g)
    y = (x @ teacher + 0.5 * torch.randn(N_TRAIN + N_VAL, CLASSES, generator=g)).argmax(dim=1)
    ds = torch.utils.data.TensorDataset
    return ds(x[:N_TRAIN], y[:N_TRAIN]), ds(x[N_TRAIN:], y[N_TRAIN:])


def make_model() -> torch.nn.Module:
    torch.manual_seed(SEED)
    layers: list[torch.nn.Module] = []
    for i in range(DEPTH):
        layers += [torch.nn.Linear(DIM if i == 0 else WIDTH, WIDTH), torch.nn.GELU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(WIDTH, CLASSES))


def plain(train: Any, val: Any, epochs: int, precision: str, work: str) -> dict[str, Any]:
    dev = torch.device("cuda")
    model = make_model().to(dev)
    opt = torch.optim.AdamW(decay_groups(model, WD), lr=LR, fused=True)
    sched = cosine_scheduler(opt, math.ceil(len(train) / BATCH) * epochs, WARMUP)
    loader = torch.utils.data.DataLoader(
        train, batch_size=BATCH, shuffle=True, pin_memory=True, generator=torch.Generator().manual_seed(SEED)
    )
    val_loader = torch.utils.data.DataLoader(val, batch_size=2 * BATCH, pin_memory=True)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    autocast = (lambda: torch.autocast("cuda", dtype=dtype)) if dtype else contextlib.nullcontext
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            scale = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if scaler.get_scale() >= scale:  # the scheduler does not step when the scaler skipped the step
                sched.step()
            opt.zero_grad(set_to_none=True)
        model.eval()
        correct = 0
        with torch.no_grad(), autocast():
            for x, y in val_loader:
                correct += (model(x.to(dev)).argmax(1) == y.to(dev)).sum().item()
    return {"val_accuracy": correct / len(val), "precision": precision}


def trainwell_run(train: Any, val: Any, epochs: int, precision: str, work: str) -> dict[str, Any]:
    from trainwell.run import train as tw_train

    config = {
        **quiet(50),
        "seed": SEED,
        "optimizer": {"name": "adamw", "lr": LR, "weight_decay": WD},
        "schedule": {"name": "cosine", "warmup": WARMUP},
        "batch": {"size": BATCH},
        "training": {"epochs": epochs, "max_grad_norm": CLIP, "device": "cuda", "precision": precision},
        "evaluation": {"strategy": "epoch", "every": 1, "metric": "val_accuracy", "mode": "max"},
    }
    result = tw_train(config, model=make_model(), train_data=train, val_data=val, run_dir=work)
    s = result.summary
    return {"val_accuracy": s["final"].get("val_accuracy"), "precision": s["precision"], "overflow_skips": s.get("overflow_skips")}


def timed(fn: Any, *args: Any) -> tuple[float, dict[str, Any]]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn(*args)
    torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main() -> None:
    global BATCH, WIDTH, DEPTH
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "cuda.json")
    parser.add_argument("--width", type=int, default=WIDTH, help="hidden width of the MLP")
    parser.add_argument("--depth", type=int, default=DEPTH, help="hidden layers of the MLP")
    parser.add_argument("--batch", type=int, default=BATCH)
    args = parser.parse_args()
    BATCH, WIDTH, DEPTH = args.batch, args.width, args.depth
    if not torch.cuda.is_available():
        raise SystemExit("cuda_check: no CUDA device")
    from trainwell.engine.precision import resolve_precision

    auto = resolve_precision("auto", torch.device("cuda"))
    train, val = data()
    samples = N_TRAIN * args.epochs
    rows: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "auto": str(auto),
        "model": f"MLP {DIM}-" + "-".join([str(WIDTH)] * DEPTH) + f"-{CLASSES}, batch {BATCH}",
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16", "fp16"):  # CUDA context, cuBLAS handles, kernels, allocator: warm for both loops
            plain(train, val, 1, precision, tmp)
            trainwell_run(train, val, 1, precision, f"{tmp}/warm-{precision}")
        for precision in ("fp32", "bf16", "fp16", "auto"):
            times: dict[str, list[float]] = {"plain": [], "trainwell": []}
            outs: dict[str, Any] = {}
            for rep in range(args.reps):
                pair = (("plain", plain), ("trainwell", trainwell_run))
                for name, fn in pair if rep % 2 == 0 else pair[::-1]:  # alternate who goes first: no order bias
                    prec = precision if name == "trainwell" or precision != "auto" else "bf16"
                    sec, outs[name] = timed(fn, train, val, args.epochs, prec, f"{tmp}/{precision}-{name}-{rep}")
                    times[name].append(sec)
            med = {k: statistics.median(v) for k, v in times.items()}
            rows["runs"][precision] = {
                "seconds": med,
                "ratio": med["trainwell"] / med["plain"],
                "ratio_of_fastest": min(times["trainwell"]) / min(times["plain"]),  # less sensitive to a noisy host
                "all_seconds": times,
                "outputs": outs,
                "samples_per_s": {k: samples / v for k, v in med.items()},
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2, default=str))
    print(f"device: {rows['device']}, torch {rows['torch']}, {rows['model']}, precision auto -> {rows['auto']}")
    print(
        "| precision | plain samples/s | trainwell samples/s | time ratio (median) | ratio of fastest | plain val acc | trainwell val acc | fp16 skipped steps |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for precision, r in rows["runs"].items():
        o = r["outputs"]
        print(
            f"| {precision} | {r['samples_per_s']['plain']:.0f} | {r['samples_per_s']['trainwell']:.0f} | {r['ratio']:.3f} | {r['ratio_of_fastest']:.3f} | "
            f"{o['plain']['val_accuracy']:.4f} | {o['trainwell']['val_accuracy']:.4f} | {o['trainwell'].get('overflow_skips')} |"
        )


if __name__ == "__main__":
    main()
