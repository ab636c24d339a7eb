"""Many processes through torchrun on CPU (gloo), on the digits task: `trainwell train --nproc 2` trains like
one process at double the batch (per-step losses within 1e-5, the same accuracy band), one rank killed
mid-run stops the job, resuming with another number of processes is refused, and --resume with two
processes then matches the uninterrupted run exactly.

A torchrun job costs seconds of process start-up (each process imports torch), so the module starts three
(one uninterrupted, one killed, its resume), shared by the tests through module fixtures, on one xdist
worker (``xdist_group``; pytest runs with ``--dist loadgroup``), each bounded by a timeout: nothing here
can hang. The one-process runs and the refusals run in this process. What needs more jobs (dropout with a
kill and a resume) is marked slow.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from tw_engine_helpers import patient, python_env, read_jsonl, tiny_config, without_time

from trainwell.cli import train_cmd
from trainwell.cli.main import build_parser, main
from trainwell.cli.train_cmd import launch_command
from trainwell.config import config_from_dict
from trainwell.engine import rng
from trainwell.engine.checkpoint import latest_checkpoint, load_model_weights, load_trainer_state
from trainwell.engine.distributed import World, backend_for, problems, shard_range
from trainwell.engine.resume import init_weights
from trainwell.engine.sampler import EpochBatchSampler
from trainwell.engine.setup import check_task
from trainwell.errors import ConfigError
from trainwell.tasks import digits
from trainwell.tasks.base import Task

# One xdist worker for the module; each test may wait for its fixtures' torchrun jobs, which take a minute
# or more where the 2 cores are shared with other work (about 15 s of CPU each).
pytestmark = [pytest.mark.xdist_group("torchrun"), pytest.mark.timeout(patient(900))]
TIMEOUT = patient(240)  # per job: a hang ends here (longer on a loaded machine: tw_engine_helpers.patient)
PER_RANK_STEP = 16  # items rank 1 reads per step (batch 16 per process)
# digits (1437 training images: the last global batch of 29 is split 15/14), one epoch of 45 steps
CONFIG = tiny_config(
    task="tw_engine_helpers:make_killable_digits",
    model={"hidden": 64, "dropout": 0.0},
    optimizer={"name": "adamw", "lr": 1e-2},
    batch={"size": 16},
    training={"epochs": 1, "threads": 1},
    evaluation={"strategy": "steps", "every": 15, "metric": "val_loss", "mode": "min"},
    logging={"every": 1, "tensorboard": "off", "progress": "off"},
    checkpoint={"strategy": "steps", "every": 15, "keep": 2},
    distributed={"processes": None},  # set: the recommender leaves it, so the checkpoint's world size is what a resume checks
)


def _trainwell(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainwell", "train", *args],
        env={**python_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _in_process(*args: str) -> tuple[int, str]:
    """`trainwell train ...` in this process (no start-up cost): its exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", *args])
    return code, err.getvalue()


def _config(tmp: Path, **changes: Any) -> Path:
    cfg = json.loads(json.dumps(CONFIG))
    for section, values in changes.items():
        cfg[section].update(values)
    path = tmp / f"config-{len(list(tmp.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two processes at batch 16 each (torchrun), and one process at batch 32 (here): the same effective batch."""
    tmp = tmp_path_factory.mktemp("ddp")
    two = _trainwell(str(_config(tmp)), "--nproc", "2", "--run-dir", str(tmp / "two"))
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-3000:]
    code, err = _in_process(str(_config(tmp, batch={"size": 32})), "--run-dir", str(tmp / "one"))
    assert code == 0, err[-3000:]
    return {"one": tmp / "one", "two": tmp / "two", "tmp": tmp}


@pytest.fixture(scope="module")
def killed(runs: dict[str, Path]) -> dict[str, Any]:
    """The two-process run again, rank 1 SIGKILLed in step 36; a one-process resume of it; a two-process one."""
    run = runs["tmp"] / "killed"
    start = time.perf_counter()
    kill = {"TW_KILL_RANK": "1", "TW_KILL_AT": str(35 * PER_RANK_STEP + 3)}
    first = _trainwell(str(_config(runs["tmp"])), "--nproc", "2", "--run-dir", str(run), env=kill)
    seconds = time.perf_counter() - start
    steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    one_process = _in_process("--resume", str(run))
    resumed = _trainwell("--resume", str(run), "--nproc", "2")
    return {"run": run, "first": first, "seconds": seconds, "steps": steps, "one_process": one_process, "resumed": resumed}


@pytest.fixture(scope="module")
def terminated(runs: dict[str, Path]) -> dict[str, Any]:
    """The two-process run again, rank 1 sent SIGTERM in step 36 (as a scheduler stops a job), then resumed."""
    run = runs["tmp"] / "terminated"
    kill = {"TW_KILL_RANK": "1", "TW_KILL_AT": str(35 * PER_RANK_STEP + 3), "TW_KILL_SIGNAL": "SIGTERM"}
    first = _trainwell(str(_config(runs["tmp"])), "--nproc", "2", "--run-dir", str(run), env=kill)
    history = read_jsonl(run / "metrics.jsonl")
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    latest = latest_checkpoint(run / "checkpoints")
    return {
        "run": run, "first": first, "history": history, "summary": summary, "latest": latest.step if latest else None,
        "resumed": _trainwell("--resume", str(run), "--nproc", "2"),
    }  # fmt: skip


@pytest.fixture(scope="module")
def sharded(runs: dict[str, Path]) -> Path:
    """`strategy: fsdp`: the two-process run with every parameter, gradient and moment sharded."""
    run = runs["tmp"] / "fsdp"
    done = _trainwell(str(_config(runs["tmp"], distributed={"strategy": "fsdp"})), "--nproc", "2", "--run-dir", str(run))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def sharded_resumed(runs: dict[str, Path]) -> dict[str, Any]:
    """The FSDP run again, rank 0 SIGKILLed in step 36 (after the step-30 checkpoint), then resumed."""
    run = runs["tmp"] / "fsdp-killed"
    kill = {"TW_KILL_RANK": "0", "TW_KILL_AT": str(35 * PER_RANK_STEP + 3)}
    first = _trainwell(str(_config(runs["tmp"], distributed={"strategy": "fsdp"})), "--nproc", "2", "--run-dir", str(run), env=kill)
    steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    return {"run": run, "first": first, "steps": steps, "resumed": _trainwell("--resume", str(run), "--nproc", "2")}


def test_fsdp_trains_like_one_process_at_double_batch(sharded: Path, runs: dict[str, Path]) -> None:
    """Measured: the largest difference of any logged loss, norm or metric from one process at batch 32 is
    2.4e-7 (reduction order); the bound is DDP's."""
    one, two = read_jsonl(runs["one"] / "metrics.jsonl"), read_jsonl(sharded / "metrics.jsonl")
    assert [(r["event"], r["step"]) for r in one] == [(r["event"], r["step"]) for r in two]
    for a, b in zip(one, two):
        for key in ("loss", "grad_norm", "val_loss", "val_accuracy", "val_f1_macro"):
            if key in a:
                assert abs(a[key] - b[key]) <= 1e-5, (a, b)
        assert a.get("samples") == b.get("samples")
    summary = json.loads((sharded / "summary.json").read_text())
    assert summary["batch"]["effective"] == 32 and summary["loaded_best"]  # the best checkpoint's shards read back
    assert summary["model"] == json.loads((runs["one"] / "summary.json").read_text())["model"]  # its own class, whole size


def test_fsdp_checkpoints_are_sharded_with_the_whole_weights_beside(sharded: Path, tmp_path: Path) -> None:
    """Each rank wrote its shard (torch.distributed.checkpoint), the optimizer state is in the shards, not in
    rank 0's trainer.pt, and every checkpoint also holds the whole weights (distributed.whole_weights),
    exactly the shards' (torch's own converter reads them back)."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    for step in (30, 45):  # the two checkpoints kept (keep: 2)
        folder = sharded / "checkpoints" / f"step-{step}"
        files = sorted(p.name for p in (folder / "sharded").iterdir())
        assert ".metadata" in files and len([f for f in files if f.endswith(".distcp")]) == 2, files
        assert "optimizer" not in load_trainer_state(folder, torch.device("cpu"))
        dcp_to_torch_save(folder / "sharded", tmp_path / f"{step}.pt")
        shards = torch.load(tmp_path / f"{step}.pt", weights_only=True)["model"]
        whole = load_model_weights(folder)
        assert whole.keys() == shards.keys() and all(torch.equal(whole[k], shards[k]) for k in whole)
    assert json.loads((sharded / "checkpoints" / "step-45" / "meta.json").read_text())["world_size"] == 2


def test_an_fsdp_run_initialises_a_one_process_run(sharded: Path) -> None:
    """`--init-from` an FSDP run (init_weights, what it calls) gives a one-process model the run's last
    weights: its validation loss is the one the FSDP run logged at its last step."""
    config = config_from_dict({**CONFIG, "task": "digits"})
    task = digits.build(config)
    init_weights(task.model, sharded)
    task.model.eval()
    x = torch.stack([item[0] for item in task.val_data])  # type: ignore[attr-defined]
    y = torch.tensor([int(item[1]) for item in task.val_data])  # type: ignore[attr-defined]
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(task.model(x), y).item()
    logged = [r for r in read_jsonl(sharded / "metrics.jsonl") if r["event"] == "eval"][-1]
    assert logged["step"] == 45 and abs(loss - logged["val_loss"]) <= 1e-6, (loss, logged)


def test_fsdp_resume_matches_the_uninterrupted_run(sharded_resumed: dict[str, Any], sharded: Path) -> None:
    assert sharded_resumed["first"].returncode != 0 and 30 <= max(sharded_resumed["steps"]) <= 35
    resumed = sharded_resumed["resumed"]
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert without_time(read_jsonl(sharded_resumed["run"] / "metrics.jsonl")) == without_time(read_jsonl(sharded / "metrics.jsonl"))


@pytest.mark.slow
def test_an_fsdp_run_keeping_only_its_shards_resumes_as_if_uninterrupted(sharded: Path, tmp_path: Path) -> None:
    """``distributed.whole_weights: false``: the checkpoints hold the shards alone (no model.pt), and a run whose
    rank 1 is killed after the step-30 checkpoint resumes from them to the uninterrupted FSDP run's metrics
    (that run also wrote the whole weights, which change no number)."""
    run = tmp_path / "shards-only"
    kill = {"TW_KILL_RANK": "1", "TW_KILL_AT": str(35 * PER_RANK_STEP + 3)}
    cfg = str(_config(tmp_path, distributed={"strategy": "fsdp", "whole_weights": False}))
    first = _trainwell(cfg, "--nproc", "2", "--run-dir", str(run), env=kill)
    assert first.returncode != 0 and 30 <= max(r["step"] for r in read_jsonl(run / "metrics.jsonl")) <= 35
    assert len(list(run.glob("checkpoints/step-30/sharded/*.distcp"))) == 2 and not list(run.glob("checkpoints/*/model.pt"))
    resumed = _trainwell("--resume", str(run), "--nproc", "2")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert without_time(read_jsonl(run / "metrics.jsonl")) == without_time(read_jsonl(sharded / "metrics.jsonl"))
    assert not list(run.glob("checkpoints/*/model.pt"))


def test_fsdp_refuses_what_it_cannot_shard() -> None:
    """A task that saves an adapter or its library's own format needs the whole model in one process."""
    config = config_from_dict(
        {
            "distributed": {"strategy": "fsdp"},
            "evaluation": {"strategy": "no"},
            "checkpoint": {"load_best_at_end": False},
            "early_stopping": {"patience": None},
        }
    )
    task = Task(name="lm", model=torch.nn.Linear(2, 2), train_data=[(torch.zeros(2), 0)], val_data=None, save_final=lambda m, p: {})
    check_task(config, task, 1)  # one process shards nothing
    with pytest.raises(ConfigError) as err:
        check_task(config, task, 2)
    assert "fsdp shards plain state-dict models" in err.value.render() and "strategy: ddp" in err.value.render()
    assert "fp16" in " ".join(
        p.render() for p in problems(config_from_dict({"distributed": {"strategy": "fsdp"}, "training": {"precision": "fp16"}}), "cuda")
    )


def test_two_processes_train_like_one_at_double_batch(runs: dict[str, Path]) -> None:
    one, two = read_jsonl(runs["one"] / "metrics.jsonl"), read_jsonl(runs["two"] / "metrics.jsonl")
    assert [(r["event"], r["step"]) for r in one] == [(r["event"], r["step"]) for r in two]
    assert len([r for r in two if r["event"] == "train"]) == 45
    for a, b in zip(one, two):
        for key in ("loss", "grad_norm", "val_loss", "val_accuracy", "val_f1_macro"):
            if key in a:
                assert abs(a[key] - b[key]) <= 1e-5, (a, b)
        assert a.get("samples") == b.get("samples")  # every rank's items counted, each once
    summary = json.loads((runs["two"] / "summary.json").read_text())
    assert summary["processes"] == 2
    assert summary["batch"] == {"size": 16, "accumulation": 1, "processes": 2, "effective": 32}
    assert json.loads((runs["one"] / "summary.json").read_text())["batch"]["effective"] == 32


def test_two_processes_reach_the_accuracy_band_of_one(runs: dict[str, Path]) -> None:
    final = [[r for r in read_jsonl(runs[k] / "metrics.jsonl") if r["event"] == "eval"][-1]["val_accuracy"] for k in ("one", "two")]
    assert min(final) >= 0.9 and abs(final[0] - final[1]) <= 0.01, final


def test_rank_zero_alone_writes_the_run_folder(runs: dict[str, Path]) -> None:
    assert {p.name for p in runs["tmp"].iterdir() if p.is_dir()} <= {
        "one",
        "two",
        "killed",
        "refused",
        "fsdp",
        "fsdp-killed",
    }  # rank 1 made none
    assert len(read_jsonl(runs["two"] / "metrics.jsonl")) == len(read_jsonl(runs["one"] / "metrics.jsonl"))  # no duplicate records


def test_each_rank_draws_its_own_random_numbers(runs: dict[str, Path]) -> None:
    """Dropout masks (any randomness of the forward pass) differ between ranks, from states the checkpoint
    holds per rank: with one seed on every rank they would drop the same units of different items."""
    latest = latest_checkpoint(runs["two"] / "checkpoints")
    assert latest is not None
    states = load_trainer_state(latest.path, torch.device("cpu"))["rng_ranks"]
    assert len(states) == 2 and not torch.equal(states[0]["torch"], states[1]["torch"])


def test_killing_one_rank_stops_the_job(killed: dict[str, Any]) -> None:
    assert killed["first"].returncode != 0 and killed["seconds"] < TIMEOUT
    assert 30 <= max(killed["steps"]) <= 35  # killed in step 36, after the step-30 checkpoint


def test_sigterm_to_one_rank_stops_every_rank_after_the_same_step_checkpointed(terminated: dict[str, Any]) -> None:
    first = terminated["first"]
    # the ranks stop after step 36 (the signal came in its data read), with the rank's exit code for SIGTERM
    assert first.returncode == 128 + 15, first.stdout[-2000:] + first.stderr[-3000:]
    assert "Traceback" not in first.stderr and f"continue with: trainwell train --resume {terminated['run']}" in first.stderr
    assert max(r["step"] for r in terminated["history"]) == 36 and terminated["latest"] == 36
    assert terminated["summary"]["status"] == "interrupted" and terminated["summary"]["steps"] == 36


def test_a_run_stopped_by_sigterm_resumes_as_if_uninterrupted(terminated: dict[str, Any], runs: dict[str, Path]) -> None:
    resumed = terminated["resumed"]
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert without_time(read_jsonl(terminated["run"] / "metrics.jsonl")) == without_time(read_jsonl(runs["two"] / "metrics.jsonl"))


def test_resuming_with_another_number_of_processes_is_refused(killed: dict[str, Any], runs: dict[str, Path]) -> None:
    code, err = killed["one_process"]
    assert code == 2 and "Traceback" not in err
    # rule, value and fix: the checkpoint holds each of 2 processes' data position and RNG
    assert "resumes with the number of processes it was trained with" in err
    assert "1 process(es)" in err and "written by 2" in err and f"--resume {killed['run']} --nproc 2" in err
    # a config whose batch was chosen for 2 processes (recommend --gpus 2) is refused in 1 before training
    code, err = _in_process(str(_config(runs["tmp"], distributed={"processes": 2})), "--run-dir", str(runs["tmp"] / "refused"))
    assert code == 2 and "this run has 1" in err and "--nproc 2" in err and not (runs["tmp"] / "refused" / "metrics.jsonl").exists()


def test_resume_matches_the_uninterrupted_run(killed: dict[str, Any], runs: dict[str, Path]) -> None:
    resumed = killed["resumed"]
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert without_time(read_jsonl(killed["run"] / "metrics.jsonl")) == without_time(read_jsonl(runs["two"] / "metrics.jsonl"))


@pytest.mark.slow
def test_resume_with_dropout_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    """Each rank's own dropout stream is saved and restored: a killed and resumed run with dropout is the
    uninterrupted one, and it differs from a run whose ranks share one stream (the masks are drawn). Logged
    every 4 steps, the step-15 checkpoint holds each rank's part of steps 13-15's losses (step.py), restored."""
    cfg = str(_config(tmp_path, model={"dropout": 0.2}, logging={"every": 4}))
    whole = _trainwell(cfg, "--nproc", "2", "--run-dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]
    kill = {"TW_KILL_RANK": "0", "TW_KILL_AT": str(20 * PER_RANK_STEP + 1)}
    assert _trainwell(cfg, "--nproc", "2", "--run-dir", str(tmp_path / "cut"), env=kill).returncode != 0
    resumed = _trainwell("--resume", str(tmp_path / "cut"), "--nproc", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert without_time(read_jsonl(tmp_path / "cut" / "metrics.jsonl")) == without_time(read_jsonl(tmp_path / "whole" / "metrics.jsonl"))


def _no_launch(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """`train --nproc` with torchrun replaced by a recorder: what it would have started."""
    started: list[list[str]] = []
    monkeypatch.setattr(train_cmd, "launch", lambda command: started.append(command) or 0)
    return started


def test_a_bad_config_under_nproc_is_one_message_before_any_process_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher checks what needs no process group (cross-field rules, the device, the distributed
    section, the number of processes) once: each rank would print it again, and torchrun a traceback."""
    started = _no_launch(monkeypatch)
    cfg = str(_config(tmp_path, distributed={"processes": 3, "backend": "nccl"}))
    code, err = _in_process(cfg, "task=digits", "early_stopping.patience=3", "evaluation.strategy=no", "--nproc", "2")
    assert code == 2 and not started and "Traceback" not in err and err.count("trainwell: error") == 1
    for said in ("early stopping needs evaluation", "nccl reduces CUDA tensors only", "needs 3 processes, and this run has 2", "--nproc 3"):
        assert said in err, (said, err)  # every problem at once: the plan's and the distributed section's
    # two nodes of 2: a world of 4, which distributed.processes: 4 asks for; --nnodes 1:2 is not known before the rendezvous
    assert _in_process(str(_config(tmp_path, distributed={"processes": 4})), "--nproc", "2", "--nnodes", "2")[0] == 0
    assert _in_process(str(_config(tmp_path, distributed={"processes": 3})), "--nproc", "2", "--nnodes", "1:2")[0] == 0
    assert len(started) == 2


def test_a_bad_config_under_nproc_through_the_cli_starts_no_torchrun(tmp_path: Path) -> None:
    done = _trainwell(str(_config(tmp_path, distributed={"backend": "nccl"})), "--nproc", "2", "--run-dir", str(tmp_path / "r"))
    assert done.returncode == 2 and done.stderr.count("trainwell: error") == 1 and "nccl reduces CUDA tensors only" in done.stderr
    assert "Traceback" not in done.stderr and "OMP_NUM_THREADS" not in done.stderr and not (tmp_path / "r").exists()  # torchrun never ran


def test_a_failed_rank_ends_the_job_in_one_line_with_its_exit_code(tmp_path: Path) -> None:
    """What the launcher cannot see fails in a rank: the rank's message, then one line, no torchrun traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "trainwell.cli.launcher", "--standalone", "--nproc-per-node", "2", "--no-python",
         "sh", "-c", 'echo "rank $RANK: bad data" >&2; exit 2'],
        env=python_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 2 and "bad data" in done.stderr and "Traceback" not in done.stderr
    assert "trainwell: error: rank" in done.stderr and "exited with code 2" in done.stderr


def test_a_resume_the_launcher_can_refuse_starts_no_process(killed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    started = _no_launch(monkeypatch)
    code, err = _in_process("--resume", str(killed["run"]), "--nproc", "3")
    assert code == 2 and "written by 2" in err and "--nproc 2" in err and err.count("trainwell: error") == 1
    code, err = _in_process("--resume", str(killed["run"]), "seed=4", "--nproc", "2")
    assert code == 2 and "seed: cannot change on --resume" in err and not started


def test_launcher_flags_without_nproc_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """torchrun's node flags go to the launcher --nproc starts; without it they would be dropped silently."""
    assert main(["train", "--nnodes", "2", "--rdzv-endpoint=host:29400"]) == 2
    err = capsys.readouterr().err
    assert "--nnodes" in err and "--rdzv-endpoint" in err and "host:29400" in err  # every one at once, with its value
    assert "add --nproc N" in err and "Traceback" not in err


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
    argv = ["train", "c.yaml", "--nproc", "2", "--rdzv-endpoint=host:29400", "--nnodes", "2", "batch.size=8"]
    args = build_parser().parse_args(argv)
    cmd = launch_command(argv, args)
    assert cmd[1:5] == ["-m", "trainwell.cli.launcher", "--nproc-per-node", "2"]
    assert "--standalone" not in cmd and cmd[cmd.index("--nnodes") + 1] == "2" and "--rdzv-endpoint" in cmd
    assert cmd[cmd.index("-m", 2) :] == ["-m", "trainwell", "train", "c.yaml", "batch.size=8"]
    local = launch_command(["train", "--nproc=4"], build_parser().parse_args(["train", "--nproc=4"]))
    assert "--standalone" in local and local[-2:] == ["trainwell", "train"]


def test_backend_and_unsupported_strategies_are_named() -> None:
    assert backend_for("auto", "cuda") == "nccl" and backend_for("auto", "cpu") == "gloo" and backend_for("gloo", "cuda") == "gloo"
    config = config_from_dict({"distributed": {"backend": "nccl"}, "training": {"compile": True}})
    text = " ".join(p.render() for p in problems(config, "cpu"))
    assert "nccl reduces CUDA tensors only" in text and "training.compile: is not combined with DDP or FSDP" in text


def test_rank_seeds_are_reproducible_and_distinct() -> None:
    seeds = np.array([[rng.rank_seed(s, r) for r in range(4)] for s in range(4)], dtype=np.uint64)
    assert len(set(seeds.ravel().tolist())) == 16 and rng.rank_seed(3, 2) == seeds[3, 2] and int(seeds.max()) < 2**63


def test_the_finders_are_refused_under_fsdp_before_any_process_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """They would measure one process holding the whole model (rank 0, unsharded), not what an fsdp rank trains."""
    started = _no_launch(monkeypatch)
    cfg = str(_config(tmp_path, distributed={"strategy": "fsdp"}, optimizer={"lr": "find"}, batch={"auto_find": True}))
    code, err = _in_process(cfg, "--nproc", "2")
    assert code == 2 and not started and "Traceback" not in err and err.count("trainwell: error") == 1
    for said in ("optimizer.lr: the LR range test runs in one process", "trainwell lr-find CONFIG", "batch.auto_find: the batch finder"):
        assert said in err, (said, err)
    assert not [p for p in problems(config_from_dict({"optimizer": {"lr": "find"}, "batch": {"auto_find": True}}), "cpu")]  # ddp: as before


def test_a_recommended_find_under_fsdp_is_its_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recommender asks for the range test when its LR law is out of the guides' band; under fsdp (with
    several processes) the law's value, its fallback, is used instead, the reason saying so."""
    from types import SimpleNamespace

    from trainwell.advise import recommender
    from trainwell.config.resolved import ConfigRequest
    from trainwell.run.resolve import recommended

    reasons = [SimpleNamespace(field=f, why="law out of band", rule="lr.law", source="s") for f in ("optimizer.lr", "lr_find.fallback")]
    monkeypatch.setattr(
        recommender, "decide", lambda profile: (SimpleNamespace(values={"optimizer.lr": "find", "lr_find.fallback": 0.02}), reasons)
    )
    for strategy, gpus, lr in (("fsdp", 2, 0.02), ("fsdp", 1, "find"), ("ddp", 2, "find")):
        request = ConfigRequest(config_from_dict({"task": "digits", "distributed": {"strategy": strategy}}), frozenset())
        value, origin = recommended(request, {"gpus": gpus})["optimizer.lr"]
        assert value == lr and ("fallback" in origin.why) == (lr != "find"), (strategy, gpus, origin)
