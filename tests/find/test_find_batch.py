"""The batch finder: search logic against a fake oracle, the plan, and a real tiny model under a CPU budget."""

from __future__ import annotations

import pytest
import torch

from trainwell.config import load_config
from trainwell.config.resolved import replace_paths
from trainwell.errors import ConfigError
from trainwell.find.batch_finder import find_batch_for_training, paste_line, plan
from trainwell.find.batch_search import MARGIN, Probe, _with_margin, search
from trainwell.find.memory import MB, cpu_step_memory
from trainwell.tasks.base import Task


def _oracle(limit: int, calls: list[int]) -> object:
    def fits(size: int) -> Probe:
        calls.append(size)
        return Probe(size, size <= limit, float(size), "fake")

    return fits


@pytest.mark.parametrize("limit", [1, 5, 16, 100, 1000, 4095])
def test_search_finds_the_limit_within_a_sixteenth(limit: int) -> None:
    calls: list[int] = []
    found = search(_oracle(limit, calls), cap=65536)  # type: ignore[arg-type]
    assert found.max_fit <= limit and limit - found.max_fit <= max(1, found.max_fit // 16)
    assert found.chosen == _with_margin(found.max_fit, MARGIN) and found.chosen <= found.max_fit
    assert calls[: calls.index(max(calls)) + 1] == [2**k for k in range(len(calls[: calls.index(max(calls)) + 1]))]  # powers of two first
    assert len(calls) <= 2 * (limit.bit_length() + 1)  # logarithmic, not linear


def test_search_stops_at_the_cap_without_a_margin() -> None:
    calls: list[int] = []
    found = search(_oracle(10**6, calls), cap=100)  # type: ignore[arg-type]
    assert found.max_fit == found.chosen == 100 and calls[-1] == 100 and "not the limit" in found.reason


def test_search_reports_when_nothing_fits() -> None:
    found = search(_oracle(0, []), cap=64)  # type: ignore[arg-type]
    assert found.chosen == 0 and "does not fit" in found.reason


def test_margin_rounds_to_multiples_of_eight() -> None:
    assert _with_margin(100, 0.9) == 88 and _with_margin(10, 0.9) == 9 and _with_margin(1, 0.9) == 1


def test_plan_keeps_the_effective_batch_with_accumulation() -> None:
    config = load_config({"batch": {"size": 64, "accumulation": 1}, "optimizer": {"lr": 1e-3}})
    todo = plan(config, chosen=24)
    assert (todo.size, todo.accumulation, todo.lr) == (16, 4, None)  # 64 = 16 x 4, the largest exact split under 24; LR unchanged
    assert "accumulation 4" in todo.reasons[0]
    # The paste line carries no LR the finder did not change (issue H item 3: it used to paste the schema default).
    assert paste_line(todo) == "batch.size=16 batch.accumulation=4 batch.auto_find=false"
    assert plan(config, chosen=512).accumulation == 1


@pytest.mark.parametrize(("optimizer", "factor"), [("sgd", 0.25), ("adamw", 0.5)])
def test_plan_rescales_the_lr_when_asked(optimizer: str, factor: float) -> None:
    config = load_config({"batch": {"size": 64, "keep_effective": False}, "optimizer": {"name": optimizer, "lr": 0.1}})
    todo = plan(config, chosen=16)
    assert (todo.size, todo.accumulation) == (16, 1)
    assert todo.lr == pytest.approx(0.1 * factor)
    assert any("rule" in r for r in todo.reasons)
    assert paste_line(todo).endswith(f"optimizer.lr={0.1 * factor:.3g}")


def test_plan_leaves_lr_find_alone() -> None:
    config = load_config({"batch": {"size": 64, "keep_effective": False}, "optimizer": {"lr": "find"}})
    assert plan(config, chosen=16).lr is None


def _task(width: int = 64) -> Task:
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(512, 32), torch.randint(0, 4, (512,)))
    model = torch.nn.Sequential(
        torch.nn.Linear(32, width), torch.nn.ReLU(), torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, 4)
    )
    return Task("tiny", model, data, None, num_classes=4)


def test_cpu_memory_grows_with_the_batch_and_counts_parameters_once() -> None:
    task = _task()
    opt = torch.optim.AdamW(task.model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    uses = []
    for n in (8, 64):
        x, y = task.train_data[:n]

        def step(x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            loss_fn(task.model(x), y).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        uses.append(cpu_step_memory(task.model, opt, step, (x, y)))
    n_params = sum(p.numel() for p in task.model.parameters()) * 4
    assert uses[0].params == uses[0].grads == n_params
    assert uses[1].optimizer_state >= 2 * n_params  # AdamW keeps two moments per parameter
    # Saved activations per example: at least the two hidden ReLU outputs (2 x 64 floats), and not much more.
    per_example = (uses[1].activations - uses[0].activations) / (64 - 8)
    assert 2 * 64 * 4 <= per_example <= 2 * (2 * 64 * 4)


def test_real_tiny_model_under_a_cpu_budget_keeps_the_effective_batch() -> None:
    task = _task()
    weights = {k: v.clone() for k, v in task.model.state_dict().items()}
    config = load_config({"batch": {"size": 256, "auto_find": True, "memory_budget_mb": 0.2}, "optimizer": {"lr": 1e-3}})
    values, record = find_batch_for_training(config, task, torch.device("cpu"))
    new = replace_paths(config, values)
    assert record["probes"][-1]["size"] <= 256
    fitting = [p for p in record["probes"] if p["fits"]]
    assert all(p["peak_mb"] <= 0.2 for p in fitting)
    assert any(not p["fits"] for p in record["probes"])
    assert new.batch.size * new.batch.accumulation == 256 and new.batch.size <= record["chosen"]
    assert new.batch.accumulation > 1 and not new.batch.auto_find
    assert record["paste"].startswith(f"batch.size={new.batch.size} batch.accumulation={new.batch.accumulation}")
    assert all(torch.equal(v, task.model.state_dict()[k]) for k, v in weights.items())
    assert config.batch.size == 256  # the caller's config is not modified


def test_cpu_needs_a_budget() -> None:
    with pytest.raises(ConfigError) as err:
        find_batch_for_training(load_config({"batch": {"auto_find": True}}), _task(), torch.device("cpu"))
    assert err.value.problems[0].where == "batch.memory_budget_mb"


@pytest.mark.gpu
def test_real_cuda_out_of_memory_bounds_the_batch() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")

    class Images(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
        def __len__(self) -> int:
            return 1 << 15

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.zeros(3, 256, 256), torch.tensor(i % 10)

    # ~64 channels x 256 x 256 fp32 activations per layer: a few hundred MB per example, so 80 GB runs out near a few hundred.
    model = torch.nn.Sequential(*[m for _ in range(4) for m in (torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU())])
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 3, padding=1), model, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)
    )
    task = Task("big", net, Images(), None, num_classes=10)
    config = load_config({"batch": {"size": 1 << 15, "auto_find": True}, "training": {"precision": "fp32", "device": "cuda"}})
    values, record = find_batch_for_training(config, task, torch.device("cuda"))
    new = replace_paths(config, values)
    failures = [p for p in record["probes"] if not p["fits"]]
    assert failures and "out of memory" in failures[0]["detail"]
    assert 0 < record["chosen"] < record["max_fit"] < failures[0]["size"]
    assert new.batch.size * new.batch.accumulation == 1 << 15
    total = torch.cuda.get_device_properties(0).total_memory / MB
    assert all(p["peak_mb"] < total for p in record["probes"] if p["fits"])


def test_with_lr_find_the_probe_steps_at_the_range_tests_first_lr() -> None:
    from trainwell.find.batch_probe import Prober

    config = load_config({"batch": {"size": 8, "memory_budget_mb": 50}, "optimizer": {"lr": "find"}, "lr_find": {"min_lr": 2e-6}})
    prober = Prober(config, _task(), torch.device("cpu"))
    assert {g["lr"] for g in prober.optimizer.param_groups} == {2e-6}  # from the config, not a stand-in LR
    numeric = Prober(replace_paths(config, {"optimizer.lr": 3e-4}), _task(), torch.device("cpu"))
    assert {g["lr"] for g in numeric.optimizer.param_groups} == {3e-4}


def test_under_several_processes_the_batch_found_is_per_process() -> None:
    """Every process trains its own micro-batch with the whole model: what fits one device is per process,
    and the record gives the job's effective batch (size x accumulation x processes)."""
    config = load_config(
        {"batch": {"size": 256, "auto_find": True, "memory_budget_mb": 0.2}, "optimizer": {"lr": 1e-3}, "distributed": {"processes": 2}}
    )
    values, record = find_batch_for_training(config, _task(), torch.device("cpu"))
    assert record["processes"] == 2 and record["effective_before"] == record["effective_after"] == 512
    assert values["batch.size"] * values["batch.accumulation"] == 256  # per process, as batch.size is
    assert any(r.startswith("per process: each of the 2 processes") for r in record["reasons"])
