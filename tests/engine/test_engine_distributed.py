"""Many processes through torchrun on CPU (gloo): `trainwell train --nproc 2` trains like one process at
double the batch, one rank killed mid-run stops the job, and --resume then matches the uninterrupted run.

The runs start real torchrun jobs (two processes each import torch), so they are shared by the tests
through module fixtures and bounded by a timeout: nothing here can hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from tw_engine_helpers import python_env, read_jsonl, tiny_config, without_time

from trainwell.cli.train_cmd import launch_command
from trainwell.config import config_from_dict
from trainwell.engine.distributed import World, backend_for, check, shard_range
from trainwell.engine.sampler import EpochBatchSampler
from trainwell.errors import ConfigError

TIMEOUT = 120
CONFIG = tiny_config(
    task="tw_engine_helpers:make_killable_task",
    model={"dropout": 0.0},
    batch={"size": 16},
    training={"epochs": 2, "threads": 1},
    logging={"every": 1, "tensorboard": "off", "progress": "off"},
)


def _trainwell(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainwell", "train", *args],
        env={**python_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _config(tmp: Path, **changes: Any) -> Path:
    cfg = json.loads(json.dumps(CONFIG))
    for section, values in changes.items():
        cfg[section].update(values)
    path = tmp / f"config-{len(list(tmp.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One process at batch 32, and two processes at batch 16 each: the same effective batch."""
    tmp = tmp_path_factory.mktemp("ddp")
    one = _trainwell(str(_config(tmp, batch={"size": 32})), "--run-dir", str(tmp / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    two = _trainwell(str(_config(tmp)), "--nproc", "2", "--run-dir", str(tmp / "two"))
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-3000:]
    return {"one": tmp / "one", "two": tmp / "two", "tmp": tmp}


def test_two_processes_train_like_one_at_double_batch(runs: dict[str, Path]) -> None:
    one, two = read_jsonl(runs["one"] / "metrics.jsonl"), read_jsonl(runs["two"] / "metrics.jsonl")
    assert [(r["event"], r["step"]) for r in one] == [(r["event"], r["step"]) for r in two]
    for a, b in zip(one, two):
        for key in ("loss", "grad_norm", "val_loss", "val_accuracy", "val_f1_macro"):
            if key in a:
                assert abs(a[key] - b[key]) <= 1e-5, (a, b)
        assert a.get("samples") == b.get("samples")  # every rank's items counted, each once
    summary = json.loads((runs["two"] / "summary.json").read_text())
    assert summary["processes"] == 2
    assert summary["batch"] == {"size": 16, "accumulation": 1, "processes": 2, "effective": 32}
    assert json.loads((runs["one"] / "summary.json").read_text())["batch"]["effective"] == 32


def test_rank_zero_alone_writes_the_run_folder(runs: dict[str, Path]) -> None:
    tmp = runs["tmp"]
    assert sorted(p.name for p in tmp.iterdir() if p.is_dir()) == ["one", "two"]  # no second run folder
    assert len(read_jsonl(runs["two"] / "metrics.jsonl")) == len(read_jsonl(runs["one"] / "metrics.jsonl"))  # no duplicate records


def test_killing_one_rank_stops_the_job_and_resume_matches_the_uninterrupted_run(runs: dict[str, Path]) -> None:
    tmp, run = runs["tmp"], runs["tmp"] / "killed"
    cfg = _config(tmp)
    start = time.perf_counter()
    killed = _trainwell(str(cfg), "--nproc", "2", "--run-dir", str(run), env={"TW_KILL_RANK": "1", "TW_KILL_AT": "70"})
    assert killed.returncode != 0
    assert time.perf_counter() - start < TIMEOUT
    steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    assert 4 <= max(steps) < 8  # killed in the second epoch, after the step-4 checkpoint
    resumed = _trainwell("--resume", str(run), "--nproc", "2")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert without_time(read_jsonl(run / "metrics.jsonl")) == without_time(read_jsonl(runs["two"] / "metrics.jsonl"))


def test_resuming_with_another_number_of_processes_is_refused(runs: dict[str, Path]) -> None:
    result = _trainwell("--resume", str(runs["two"]))
    assert result.returncode == 2
    # the run's config.yaml says its batch is for 2 processes (distributed.processes), and its checkpoint was written by 2
    assert "this run has 1" in result.stderr and "--nproc 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_sampler_gives_each_rank_a_disjoint_share_of_the_one_process_batch() -> None:
    one = EpochBatchSampler(100, 32, seed=3)
    ranks = [EpochBatchSampler(100, 16, seed=3, rank=r, world=2) for r in range(2)]
    for s in (one, *ranks):
        s.set_position(1)
    assert len(one) == len(ranks[0]) == len(ranks[1]) == 4
    for whole, a, b in zip(one, *ranks):
        assert a + b == whole and not set(a) & set(b) and a and b  # the short last batch is split too
    odd = [EpochBatchSampler(97, 16, seed=3, rank=r, world=3) for r in range(3)]  # 97 % 48 = 1 < 3 ranks
    assert [len(s) for s in odd] == [2, 2, 2] and sum(len(b) for s in odd for b in s) == 96
    assert list(shard_range(10, World(0, 3))) + list(shard_range(10, World(1, 3))) + list(shard_range(10, World(2, 3))) == list(range(10))


def test_launch_command_hands_the_launcher_flags_to_torchrun() -> None:
    from trainwell.cli.main import build_parser

    argv = ["train", "c.yaml", "--nproc", "2", "--rdzv-endpoint=host:29400", "--nnodes", "2", "batch.size=8"]
    args = build_parser().parse_args(argv)
    cmd = launch_command(argv, args)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--nproc-per-node", "2"]
    assert "--standalone" not in cmd and cmd[cmd.index("--nnodes") + 1] == "2" and "--rdzv-endpoint" in cmd
    assert cmd[cmd.index("-m", 2) :] == ["-m", "trainwell", "train", "c.yaml", "batch.size=8"]
    local = launch_command(["train", "--nproc=4"], build_parser().parse_args(["train", "--nproc=4"]))
    assert "--standalone" in local and local[-2:] == ["trainwell", "train"]


def test_backend_and_unsupported_strategies_are_named() -> None:
    assert backend_for("auto", "cuda") == "nccl" and backend_for("auto", "cpu") == "gloo" and backend_for("gloo", "cuda") == "gloo"
    config = config_from_dict({"distributed": {"strategy": "fsdp", "backend": "nccl"}})
    with pytest.raises(ConfigError) as err:
        check(config, "cpu")
    text = err.value.render()
    assert "fsdp" in text and "not implemented" in text and "nccl reduces CUDA tensors only" in text
