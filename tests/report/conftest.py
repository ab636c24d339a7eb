"""A synthetic but realistic run folder (docs/ARCHITECTURE.md, "Run folder"), for report tests that must
not train: digits-sized (45 steps per epoch), cosine with 10 % warmup, early stopped, with a recommender
reason, an LR-finder result and doctor findings in the formats trainwell.find and trainwell.doctor write."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from trainwell.config import Config, save_config
from trainwell.config.resolved import replace_paths

STEPS_PER_EPOCH = 45
STOP_STEP = 720
BEST_STEP = 495


def _lr(step: int, total: int = 900, peak: float = 1e-3) -> float:
    warm = int(0.1 * total)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))


def metric_rows(stop: int = STOP_STEP, log_every: int = 10) -> list[dict[str, Any]]:
    rng = random.Random(0)
    rows: list[dict[str, Any]] = []
    for step in range(1, stop + 1):
        epoch = round(step / STEPS_PER_EPOCH, 4)
        if step % log_every == 0:
            loss = 2.3 * math.exp(-step / 120) + 0.05 + 0.04 * rng.random()
            grad = 0.4 + 2.0 * math.exp(-step / 150) + 0.3 * rng.random()
            rows.append(
                {
                    "event": "train",
                    "step": step,
                    "epoch": epoch,
                    "lr": _lr(step),
                    "loss": loss,
                    "grad_norm": grad,
                    "samples": step * 32,
                    "time": step * 0.01,
                }
            )
        if step % STEPS_PER_EPOCH == 0:
            # validation loss bottoms out at BEST_STEP and then creeps up (mild overfitting)
            val = 0.12 + 2.2 * math.exp(-step / 110) + 1e-7 * (step - BEST_STEP) ** 2 * (step > BEST_STEP)
            acc = 0.985 - 0.9 * math.exp(-min(step, BEST_STEP) / 100) - 2e-5 * max(0, step - BEST_STEP)
            rows.append(
                {
                    "event": "eval",
                    "step": step,
                    "epoch": epoch,
                    "val_loss": val,
                    "val_accuracy": acc,
                    "val_f1": acc - 0.004,
                    "time": step * 0.01 + 0.05,
                }
            )
    return rows


def lr_find_result() -> dict[str, Any]:
    lrs = [1e-7 * (1e8 ** (i / 99)) for i in range(100)]
    losses = [
        2.3 - 1.6 / (1 + math.exp(-(math.log10(lr) + 3.5) * 2.5)) + (math.exp(math.log10(lr) + 0.8) if lr > 1e-2 else 0.0) for lr in lrs
    ]
    return {
        "suggested_lr": 1.2e-3,
        "rule": "combined",
        "reason": "combined: inside the descent, one decade below the minimum",
        "rules": {
            "steepest": {"lr": 3.1e-4, "index": 54, "reason": "steepest descent"},
            "valley": {"lr": 1.2e-3, "index": 61, "reason": "valley"},
            "min_div10": {"lr": 2.0e-3, "index": 64, "reason": "minimum / 10"},
            "combined": {"lr": 1.2e-3, "index": 61, "reason": "combined"},
        },
        "reliable": True,
        "reasons": [],
        "peak_lr": 1.2e-3,
        "stopped_early": "diverged",
        "curve": {"lr": lrs, "loss": losses, "smoothed": losses, "rule_curve": losses},
    }


def findings() -> dict[str, Any]:
    return {
        "main_finding": "overfitting",
        "findings": [
            {
                "code": "overfitting",
                "severity": "warning",
                "message": "val_loss rose 6% after step 495 while the train loss kept falling",
                "step": 495,
                "evidence": [{"series": "val_loss", "step": 495, "value": 0.141, "label": "best"}],
                "fix": "raise optimizer.weight_decay to 0.05 or add dropout (model.dropout=0.2)",
                "source": "000 §Regularization",
            },
            {
                "code": "clipping_often",
                "severity": "info",
                "message": "<b>grad clipped</b> in 20% of steps",
                "step": None,
                "evidence": [],
                "fix": "",
                "source": "003",
            },
        ],
        "notes": [],
        "skipped": {},
    }


def write_run(path: Path, *, summary: bool = True, extras: bool = True) -> Path:
    """Write a run folder at ``path``; ``summary=False`` mimics a killed run, ``extras=False`` a bare one."""
    path.mkdir(parents=True, exist_ok=True)
    values = {
        "optimizer.lr": 1e-3,
        "training.epochs": 20,
        "evaluation.strategy": "epoch",
        "evaluation.every": 1,
        "evaluation.metric": "val_accuracy",
        "evaluation.mode": "max",
        "logging.every": 10,
        "early_stopping.patience": 5,
    }
    config = replace_paths(Config(), values)
    save_config(config, path / "config.yaml")
    rows = metric_rows()
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = {"trainwell": "0.1.0", "torch": "2.13.0", "python": "3.11.2", "platform": "Linux", "device": "cpu", "precision": "fp32",
           "git_revision": "610b675", "seed": 42, "command": "trainwell train", "threads": 2}  # fmt: skip
    (path / "environment.json").write_text(json.dumps(env), encoding="utf-8")
    if summary:
        evals = [r for r in rows if r["event"] == "eval"]
        best = max(evals, key=lambda r: r["val_accuracy"])
        data = {"status": "completed", "stop_reason": "early stopping: val_accuracy did not improve for 5 evaluations", "best_metric": best["val_accuracy"],
                "best_step": best["step"], "metric": "val_accuracy", "mode": "max", "steps": STOP_STEP, "epochs": STOP_STEP / STEPS_PER_EPOCH,
                "wall_time_s": 12.4, "samples_per_s": 1858.1, "final": {"val_loss": 0.14, "val_accuracy": best["val_accuracy"], "val_f1": 0.97}}  # fmt: skip
        (path / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    if extras:
        reasons = [
            {
                "field": "optimizer.lr",
                "value": 1e-3,
                "rule": "lr.adamw.scratch",
                "why": "AdamW from scratch on a small MLP: 1e-3 <works> well",
                "source": "001 §Learning rate",
            }
        ]
        (path / "reasons.json").write_text(json.dumps(reasons), encoding="utf-8")
        (path / "lr_find.json").write_text(json.dumps(lr_find_result()), encoding="utf-8")
        (path / "findings.json").write_text(json.dumps(findings()), encoding="utf-8")
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "digits-run")


@pytest.fixture(scope="session")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(run folder, report HTML) of the full synthetic run, written once: rendering costs ~0.5 s per report."""
    pytest.importorskip("matplotlib")
    from trainwell.report import write_report

    path = write_run(tmp_path_factory.mktemp("full") / "digits-run")
    return path, write_report(path).read_text(encoding="utf-8")
