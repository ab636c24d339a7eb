"""The causal-lm task: response-only labels, chat rendering, truncation and packing, token-weighted loss,
LoRA through peft (only adapter weights train and are checkpointed, peft loads every checkpoint and the
final adapter), exact resume after kill -9, and bad input reported all at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("peft")
pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

from tw_lm_helpers import lm_config, make_tiny_lm, write_jsonl  # noqa: E402

from trainwell.cli.main import main  # noqa: E402
from trainwell.config import load_config  # noqa: E402
from trainwell.config.io import load_request  # noqa: E402
from trainwell.errors import ConfigError, DataError  # noqa: E402
from trainwell.run import train  # noqa: E402
from trainwell.tasks import _sft_metrics, _sft_tokens, causal_lm  # noqa: E402
from trainwell.tasks._sft_data import read_sft_jsonl  # noqa: E402
from trainwell.tasks.catalog import build_task  # noqa: E402
from trainwell.tasks.lora import LORA_TARGETS  # noqa: E402

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lm")
    return {
        "gpt2": make_tiny_lm(root / "gpt2"),
        "data": write_jsonl(root / "train.jsonl", 40),
        "chat": write_jsonl(root / "chat.jsonl", 40, chat=True),
    }


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _tokenizer(lm: dict[str, Path]) -> Any:
    return transformers.AutoTokenizer.from_pretrained(str(lm["gpt2"]))


def test_catalog_builds_the_task_to_the_language_model_contract(lm: dict[str, Path]) -> None:
    task = build_task(load_config(lm_config(lm["gpt2"], lm["data"])))
    assert task.name == "causal-lm" and task.facts.model == "llm" and task.facts.mode == "finetune"
    assert task.val_data is not None and len(task.train_data) == 30 and len(task.val_data) == 10
    assert task.loss is not None and task.count_items is not None and task.collate_fn is not None
    inputs, labels = task.collate_fn([task.train_data[i] for i in range(4)])
    logits = task.model(**inputs).logits
    assert logits.shape[:2] == labels.shape and torch.isfinite(task.loss(logits, labels))
    assert task.count_items(labels) == 8  # " positive"/" negative" and EOS, for each of 4 examples


@pytest.mark.parametrize(("adapter", "rule"), [("lora", "budget.003-2-epochs"), ("none", "budget.full-2-epochs")])
def test_recommendations_for_a_causal_lm_config_read_the_adapter_from_the_model(lm: dict[str, Path], adapter: str, rule: str) -> None:
    from trainwell.advise.model_facts import task_profile_facts
    from trainwell.advise.recommender import Profile, recommend

    facts = task_profile_facts(load_config(lm_config(lm["gpt2"], lm["data"], model={"adapter": adapter})))
    rec = recommend(Profile.from_task("causal-lm", **facts))
    assert rule in rec.rules and rec.config.model["adapter"] == adapter


def test_prompt_tokens_are_masked_and_the_response_ends_with_eos(lm: dict[str, Path]) -> None:
    tok = _tokenizer(lm)
    enc = _sft_tokens.encode(
        tok, _sft_tokens.prompt_segments({"prompt": "Review: a dull film. Sentiment:", "response": " negative"}, tok.eos_token), 64, True
    )
    prompt_len = len(tok("Review: a dull film. Sentiment:")["input_ids"])
    assert enc.labels[:prompt_len] == [_sft_tokens.IGNORE] * prompt_len
    assert enc.labels[prompt_len:] == enc.ids[prompt_len:] and enc.ids[-1] == tok.eos_token_id
    assert tok.decode(enc.ids[prompt_len:-1]) == " negative" and not enc.truncated


def test_chat_examples_train_every_assistant_turn_only(lm: dict[str, Path]) -> None:
    tok = _tokenizer(lm)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a warm film?"},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "a dull film?"},
        {"role": "assistant", "content": "negative"},
    ]
    pieces = _sft_tokens.chat_segments(tok, messages)
    assert "".join(t for t, _ in pieces) == tok.apply_chat_template(messages, tokenize=False)
    assert [t for t, trained in pieces if trained] == ["positive<|end|>", "negative<|end|>"]
    enc = _sft_tokens.encode(tok, pieces, 128, False)
    trained = [i for i, label in zip(enc.ids, enc.labels) if label != _sft_tokens.IGNORE]
    assert tok.decode(trained) == "positive<|end|>negative<|end|>"


def test_truncation_is_counted_and_examples_without_response_tokens_are_dropped(lm: dict[str, Path]) -> None:
    tok = _tokenizer(lm)
    encoder = _sft_tokens.Encoder(tok, 12, chat=False)
    rows = [
        {"prompt": "Review: a " + "dull " * 20 + "film. Sentiment:", "response": " negative"},
        {"prompt": "Hi:", "response": " positive"},
    ]
    kept = encoder(rows)
    assert encoder.counts == {"examples": 2, "truncated": 1, "dropped": 1} and len(kept) == 1
    long_response = [{"prompt": "Hi:", "response": " positive" * 20}]
    assert len(encoder(long_response)) == 1 and encoder.counts["truncated"] == 2  # cut, but still trains


def test_train_on_inputs_trains_the_prompt_but_validation_still_scores_responses(lm: dict[str, Path]) -> None:
    task = build_task(load_config(lm_config(lm["gpt2"], lm["data"], data={"options": {"max_length": 32, "train_on_inputs": True}})))
    (train_inputs, train_labels), (_, val_labels) = task.train_data[0], task.val_data[0]  # type: ignore[index]
    assert torch.equal(train_labels, train_inputs["input_ids"])
    assert int((val_labels != _sft_tokens.IGNORE).sum()) == 2  # " positive"/" negative" and EOS
    assert task.data_summary["train_on_inputs"] is True


def test_packing_fills_rows_and_keeps_every_label() -> None:
    rows = [_sft_tokens.Encoded([1] * n, [-100] + [2] * (n - 1), False) for n in (5, 4, 3, 6, 2)]
    packed = _sft_tokens.pack(rows, 10)
    assert [len(r.ids) for r in packed] == [9, 9, 2]
    assert sum(len(r.ids) for r in packed) == 20 and sum(r.labels.count(2) for r in packed) == 15


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_a_packed_example_scores_what_it_scores_alone(tmp_path: Path, family: str) -> None:
    # Absolute (GPT-2) and rotary (Llama) positions: each example of a packed row gets the loss it gets alone.
    from tw_lm_helpers import examples

    folder = make_tiny_lm(tmp_path / family, family)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    _, model = causal_lm.load_model(str(folder))  # as the task loads it: no key/value cache
    model.eval()
    _sft_tokens.check_packing(model, len(tokenizer))
    rows = [{"prompt": p, "response": " " + a} for p, a in examples(3, seed=5)]
    encoded = _sft_tokens.Encoder(tokenizer, 64, chat=False)(rows, train_all=True)  # every token but the first trains
    packed = _sft_tokens.pack(encoded, sum(len(e.ids) for e in encoded[:2]))
    assert [len(r.ids) for r in packed] == [len(encoded[0].ids) + len(encoded[1].ids), len(encoded[2].ids)]
    collate, loss = _sft_tokens.make_collate(tokenizer.eos_token_id), _sft_metrics.CausalLMLoss()
    inputs, labels = collate([_sft_tokens.LMDataset(packed)[i] for i in range(2)])  # the second row is padded
    assert "attention_mask" not in inputs and inputs["position_ids"][0, len(encoded[0].ids)] == 0
    with torch.no_grad():
        logits = model(**inputs).logits
        spans = [(0, 0, len(encoded[0].ids)), (0, len(encoded[0].ids), labels.shape[1]), (1, 0, labels.shape[1])]
        for example, (row, start, end) in zip(encoded, spans):
            only = torch.full_like(labels, _sft_tokens.IGNORE)
            only[row, start:end] = labels[row, start:end]
            alone_inputs, alone_labels = collate([_sft_tokens.LMDataset([example])[0]])
            alone = loss(model(**alone_inputs).logits, alone_labels)
            assert _sft_metrics.supervised_tokens(only) == _sft_metrics.supervised_tokens(alone_labels)
            assert torch.allclose(loss(logits, only), alone, atol=1e-5), (family, float(loss(logits, only)), float(alone))


def test_packing_is_refused_for_a_model_whose_attention_crosses_examples() -> None:
    class Leaky(torch.nn.Module):  # every position sums the embeddings before it, whatever its position id
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(16, 4)

        def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None, use_cache: bool = False) -> Any:
            from types import SimpleNamespace

            return SimpleNamespace(logits=self.embed(input_ids).cumsum(1))

    with pytest.raises(ConfigError, match="packing"):
        _sft_tokens.check_packing(Leaky(), 16)


def test_packing_is_refused_by_name_on_a_transformers_older_than_4_54(monkeypatch: pytest.MonkeyPatch) -> None:
    transformers = pytest.importorskip("transformers")
    monkeypatch.setattr(transformers, "__version__", "4.53.2")
    with pytest.raises(ConfigError) as err:
        _sft_tokens.check_packing(torch.nn.Identity(), 16)  # refused before any model is run
    message = str(err.value)
    assert "data.options.packing" in message and "transformers 4.53.2" in message and "transformers>=4.54" in message


def test_collate_pads_with_ignored_labels_and_the_loss_averages_supervised_tokens() -> None:
    collate = _sft_tokens.make_collate(pad_id=0)
    batch = [({"input_ids": torch.tensor([5, 6, 7])}, torch.tensor([-100, 6, 7])), ({"input_ids": torch.tensor([8])}, torch.tensor([-100]))]
    inputs, labels = collate(batch)
    assert inputs["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert labels.tolist() == [[-100, 6, 7], [-100, -100, -100]] and _sft_metrics.supervised_tokens(labels) == 2
    logits = torch.randn(2, 3, 9)
    expected = torch.nn.functional.cross_entropy(logits[0, :2], torch.tensor([6, 7]))
    assert torch.allclose(_sft_metrics.CausalLMLoss()(logits, labels), expected)


def test_the_finders_step_weighs_micro_batches_per_token_as_training_does(lm: dict[str, Path], tmp_path: Path) -> None:
    from tw_lm_helpers import examples

    from trainwell.engine.probe import finder_runner, task_loss
    from trainwell.find.lr_finder import lr_find

    # responses of 1 to 4 words, so a row-weighted mean of micro-batches differs from the token mean
    rows = [{"prompt": p, "response": f" {a}" * (1 + i % 4)} for i, (p, a) in enumerate(examples(24, seed=2))]
    data = tmp_path / "uneven.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = load_config(lm_config(lm["gpt2"], data, model={"lora_dropout": 0.0}, lr_find={"steps": 10}))
    task = build_task(config)
    assert task.collate_fn is not None and task.count_items is not None
    cpu, items = torch.device("cpu"), [task.train_data[i] for i in range(6)]
    small, large, both = task.collate_fn(items[:1]), task.collate_fn(items[1:]), task.collate_fn(items)
    loss_fn = task_loss(config, task, cpu)
    with torch.no_grad():
        expected = float(loss_fn(task.model(**both[0]).logits, both[1]))  # the mean over every response token
    per_token, _ = finder_runner(config, task.model, loss_fn, cpu, count_items=task.count_items)
    per_row, _ = finder_runner(config, task.model, loss_fn, cpu)
    got = float(per_token.window_loss([small, large])[0])
    by_rows = float(per_row.window_loss([small, large])[0])
    task.model.zero_grad(set_to_none=True)
    # a random model's losses are all near log(vocab): the row-weighted mean is off by ~2e-4, float error ~1e-7
    assert abs(got - expected) < 2e-6 < 2e-5 < abs(by_rows - expected)
    result = lr_find(config, task)  # the range test runs on the LM with that step
    assert len(result.losses) >= 2 and all(loss == loss for loss in result.losses)


def test_accumulation_weighs_every_response_token_equally(lm: dict[str, Path], tmp_path: Path) -> None:
    # Batch 4 in one step, or 2 x 2 accumulated: the same token-mean gradient, so the same weights.
    base = {
        "model": {"lora_dropout": 0.0},
        "training": {"max_steps": 3},
        "evaluation": {"strategy": "no"},
        "checkpoint": {"strategy": "no"},
    }
    one = train(lm_config(lm["gpt2"], lm["data"], batch={"size": 4}, **base), run_dir=tmp_path / "one")
    two = train(lm_config(lm["gpt2"], lm["data"], batch={"size": 2, "accumulation": 2}, **base), run_dir=tmp_path / "two")
    a, b = _state(one.model), _state(two.model)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


def test_lora_run_trains_only_the_adapter_and_saves_what_peft_loads(lm: dict[str, Path], tmp_path: Path) -> None:
    from peft import PeftModel

    cfg_path = tmp_path / "sft.yaml"
    cfg = lm_config(lm["gpt2"], lm["data"], report=True)
    cfg_path.write_text(json.dumps(cfg))
    run = tmp_path / "run"
    assert main(["train", str(cfg_path), "--run-dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["data"]["adapter"] == "lora"
    assert 0 < summary["data"]["trainable_parameters"] < summary["data"]["parameters"] / 10
    assert {"config.yaml", "metrics.jsonl", "report.html", "environment.json", "adapter"} <= {p.name for p in run.iterdir()}
    from trainwell.doctor.readers import read_history

    doctor_view = read_history(run)  # the doctor reads the LM curves and knows the adapter's rank
    assert doctor_view.hints.lora_r == 4 and "val_perplexity" in doctor_view.eval and len(doctor_view.train_loss) > 0
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals[-1]["val_perplexity"] == pytest.approx(torch.tensor(evals[-1]["val_loss"]).exp().item(), rel=1e-6)
    # Every checkpoint holds only the adapter, in peft's format; the frozen base is never copied.
    checkpoints = sorted((run / "checkpoints").iterdir(), key=lambda c: int(c.name.split("-")[1]))
    assert checkpoints and all(not (c / "model.pt").exists() for c in checkpoints)
    base = transformers.AutoModelForCausalLM.from_pretrained(str(lm["gpt2"]))
    ids = torch.tensor([[5, 9, 13, 40]])
    loaded = PeftModel.from_pretrained(base, str(checkpoints[-1] / "adapter")).eval()
    final = PeftModel.from_pretrained(transformers.AutoModelForCausalLM.from_pretrained(str(lm["gpt2"])), str(run / "adapter")).eval()
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, final(ids).logits)
        untouched = transformers.AutoModelForCausalLM.from_pretrained(str(lm["gpt2"])).eval()
        assert not torch.allclose(untouched(ids).logits, final(ids).logits)  # the adapter learned something


def test_base_weights_stay_frozen_and_merged_model_matches(lm: dict[str, Path], tmp_path: Path) -> None:
    before = transformers.AutoModelForCausalLM.from_pretrained(str(lm["gpt2"])).state_dict()
    result = train(lm_config(lm["gpt2"], lm["data"], model={"merge_at_end": True}), run_dir=tmp_path / "run")
    for name, value in result.model.state_dict().items():
        if "lora_" not in name:
            assert torch.equal(value, before[name.replace("base_model.model.", "").replace(".base_layer", "")]), name
    merged = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "merged")).eval()
    ids = torch.tensor([[5, 9, 13, 40]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, result.model.eval()(ids).logits, atol=1e-5)


def test_full_finetuning_checkpoints_the_whole_model_and_saves_a_transformers_folder(lm: dict[str, Path], tmp_path: Path) -> None:
    result = train(lm_config(lm["gpt2"], lm["data"], model={"adapter": "none"}, optimizer={"lr": 1e-3}), run_dir=tmp_path / "run")
    assert result.summary["data"]["trainable_parameters"] == result.summary["data"]["parameters"]
    assert (tmp_path / "run" / "checkpoints" / "step-12" / "model.pt").is_file()
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "model")).eval()
    ids = torch.tensor([[5, 9, 13, 40]])
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, result.model.eval()(ids).logits, atol=1e-6)


def test_chat_file_trains_packed(lm: dict[str, Path], tmp_path: Path) -> None:
    data = {"path": str(lm["chat"]), "val_fraction": 0.25, "options": {"max_length": 64, "packing": True}}
    result = train(lm_config(lm["gpt2"], lm["chat"], training={"max_steps": 4}, data=data), run_dir=tmp_path / "run")
    summary = result.summary["data"]
    assert result.summary["status"] == "completed" and summary["dropped"] == 0
    assert summary["packing"] is True and summary["train_rows"] < summary["examples"] - summary["val_examples"]


def test_interrupted_lora_run_resumes_bit_identically(lm: dict[str, Path], tmp_path: Path) -> None:
    from trainwell.engine.callbacks import Callback

    class Crash(Callback):
        def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
            if state.step >= 6:
                raise KeyboardInterrupt
            return None

    cfg = lm_config(lm["gpt2"], lm["data"], batch={"size": 4, "accumulation": 2})
    full = train(cfg, run_dir=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run_dir=tmp_path / "cut", callbacks=[Crash()])
    resumed = train(resume=tmp_path / "cut")
    assert resumed.summary["resumed_from_step"] == 4
    a, b = _state(full.model), _state(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in r.items() if k != "time"} for r in full.history]
    assert strip == [{k: v for k, v in r.items() if k != "time"} for r in resumed.history]


_CHILD = """
import sys, json, torch
torch.set_num_threads(1)
from trainwell.run import train
from tw_lm_helpers import lm_config
run_dir, mode, model, data = sys.argv[1:5]
spec = json.loads(sys.argv[5])
cfg = lm_config(model, data, **spec)
result = train(resume=run_dir) if mode == "resume" else train(cfg, run_dir=run_dir)
torch.save({k: v for k, v in result.model.state_dict().items() if "lora_" in k}, run_dir + "/final.pt")
"""


def _spawn(run_dir: Path, mode: str, lm: dict[str, Path], spec: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]), "CI": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(run_dir), mode, str(lm["gpt2"]), str(lm["data"]), json.dumps(spec)],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _assert_resumed_like_uninterrupted(cut: Path, resumed: dict[str, torch.Tensor], full: Any) -> None:
    assert json.loads((cut / "summary.json").read_text())["resumed_from_step"] > 0
    assert resumed and all(torch.equal(v, full.model.state_dict()[k]) for k, v in resumed.items())
    drop_time = [{k: v for k, v in json.loads(line).items() if k != "time"} for line in (cut / "metrics.jsonl").read_text().splitlines()]
    assert drop_time == [{k: v for k, v in r.items() if k != "time"} for r in full.history]


_QUICK = {
    "training": {"max_steps": 8},
    "logging": {"every": 1},
    "evaluation": {"every": 4},
    "checkpoint": {"every": 2, "keep": 2, "load_best_at_end": False},
}


def _run_until_hung(cut: Path, cfg: dict[str, Any], hang_at: int) -> None:
    """The forked child: train, and stand still once step ``hang_at`` is logged (a marker file says so)."""
    from trainwell.engine.callbacks import Callback

    class Hang(Callback):
        def on_log(self, state: Any, record: dict[str, Any]) -> str | None:
            if state.step >= hang_at:
                (cut / "hanging").write_text(str(state.step))
                time.sleep(600)
            return None

    torch.set_num_threads(1)  # as a DataLoader worker does after fork
    train(cfg, run_dir=cut, callbacks=[Hang()])


def test_kill_9_of_a_lora_run_then_resume_is_bit_identical(lm: dict[str, Path], tmp_path: Path) -> None:
    # A forked child (no second interpreter to start: torch and transformers are already imported) is
    # killed with SIGKILL at step 5, past the checkpoints of steps 2 and 4 and an evaluation; the resume and
    # the uninterrupted run go in this process. The slow test below kills a fresh interpreter at an
    # arbitrary moment instead, checkpoint writes included.
    import multiprocessing

    cut = tmp_path / "cut"
    cfg = lm_config(lm["gpt2"], lm["data"], **_QUICK)  # type: ignore[arg-type]
    child = multiprocessing.get_context("fork").Process(target=_run_until_hung, args=(cut, cfg, 5))
    child.start()
    deadline = time.monotonic() + 110
    while time.monotonic() < deadline and child.is_alive() and not (cut / "hanging").exists():
        time.sleep(0.01)
    assert (cut / "hanging").exists(), f"the child did not reach step 5 (exit code {child.exitcode})"
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    resumed = train(resume=cut)
    assert resumed.summary["resumed_from_step"] == 4
    full = train(cfg, run_dir=tmp_path / "full")
    lora = {k: v for k, v in resumed.model.state_dict().items() if "lora_" in k}
    _assert_resumed_like_uninterrupted(cut, lora, full)


_KILLED = {
    "training": {"max_steps": 30},
    "logging": {"every": 1},
    "evaluation": {"every": 10},
    "checkpoint": {"every": 3, "keep": 2, "load_best_at_end": False},
}


@pytest.mark.slow
def test_sigkill_at_any_moment_of_a_lora_run_then_resume_is_bit_identical(lm: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    proc = _spawn(cut, "fresh", lm, _KILLED)
    metrics, deadline = cut / "metrics.jsonl", time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and sum(1 for _ in metrics.open()) >= 14:  # past a few checkpoints, mid-run
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=90)
    assert proc.returncode == -signal.SIGKILL, "the child finished before the kill"
    last = _spawn(cut, "resume", lm, {})
    assert last.wait(timeout=90) == 0, last.stderr.read() if last.stderr else ""
    full = train(lm_config(lm["gpt2"], lm["data"], **_KILLED), run_dir=tmp_path / "full")  # type: ignore[arg-type]
    _assert_resumed_like_uninterrupted(cut, torch.load(cut / "final.pt", weights_only=True), full)


@pytest.mark.parametrize("adapter", ["lora", "none"])
def test_train_without_a_config_file_loads_the_model_once_and_trains_what_config_yaml_says(
    lm: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adapter: str
) -> None:
    # The recommender fills the LoRA rank, alpha and dropout (or writes out adapter: none): the task is
    # built again for them from the weights already loaded, and that run is the one its config.yaml gives.
    from safetensors.torch import load_file

    loads: list[str] = []
    real = causal_lm.load_model
    monkeypatch.setattr(causal_lm, "load_model", lambda path: loads.append(path) or real(path))
    args = [
        f"model.name_or_path={lm['gpt2']}",
        f"data.path={lm['data']}",
        f"model.adapter={adapter}",
        "training.max_steps=2",
        "batch.size=4",
        "batch.accumulation=1",
    ]
    quiet = [
        "report=false",
        "training.device=cpu",
        "logging.progress=off",
        "evaluation.strategy=no",
        "checkpoint.strategy=no",
        "checkpoint.load_best_at_end=false",
    ]
    assert main(["train", "task=causal-lm", *args, *quiet, "--run-dir", str(tmp_path / "a")]) == 0
    assert len(loads) == 1
    assert main(["train", str(tmp_path / "a" / "config.yaml"), "--run-dir", str(tmp_path / "b")]) == 0
    if adapter == "lora":
        assert (tmp_path / "a" / "config.yaml").read_text().count("lora_alpha") == 1
        weights = [load_file(str(tmp_path / run / "adapter" / "adapter_model.safetensors")) for run in ("a", "b")]
    else:
        weights = [load_file(str(tmp_path / run / "model" / "model.safetensors")) for run in ("a", "b")]
    assert weights[0].keys() == weights[1].keys() and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_lora_base_is_held_in_bf16_on_a_gpu_only(lm: dict[str, Path]) -> None:
    from trainwell.engine.precision import BF16Precision, PrecisionStrategy

    task = build_task(load_config(lm_config(lm["gpt2"], lm["data"])))
    assert task.hold_frozen and not build_task(load_config(lm_config(lm["gpt2"], lm["data"], model={"adapter": "none"}))).hold_frozen
    assert BF16Precision(torch.device("cpu")).hold_frozen(task.model) is None  # CPU: fp32 kept
    assert PrecisionStrategy(torch.device("cuda")).hold_frozen(task.model) is None  # fp32 training: nothing to do
    assert all(p.dtype == torch.float32 for p in task.model.parameters())
    # The rule itself, on CPU tensors: the strategy only reads the device it was made for.
    note = BF16Precision(torch.device("cuda")).hold_frozen(task.model)
    assert note is not None and "bf16" in note
    for name, param in task.model.named_parameters():
        assert param.dtype == (torch.float32 if param.requires_grad else torch.bfloat16), name
    base = task.model.get_base_model()  # type: ignore[operator]
    assert base.lm_head.weight is base.transformer.wte.weight  # tied weights stay one tensor


def test_bad_jsonl_lines_are_all_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"}\nnot json\n{"prompt": "a"}\n{"messages": []}\n{"prompt": "a", "response": "  "}\n')
    with pytest.raises(DataError) as err:
        read_sft_jsonl(bad)
    text = str(err.value)
    assert "4 bad lines" in text and "line 2" in text and "line 3" in text and "and 1 more" in text


def test_bad_options_are_collected_and_the_cli_exits_2(lm: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = lm_config(lm["gpt2"], lm["data"], model={"adapter": "qlora", "lora_r": 0, "lora_dropout": 1.5}, loss={"name": "focal"})
    every = {"model.adapter", "model.lora_r", "model.lora_dropout", "loss.name"}
    with pytest.raises(ConfigError) as err:  # the adapter options and the loss: loading the config checks them
        load_config(cfg)
    assert {p.where for p in err.value.problems} == every
    with pytest.raises(ConfigError) as err:  # as building the task does (the same check)
        build_task(load_request(cfg).config)
    assert {p.where for p in err.value.problems} == every
    missing = lm_config(tmp_path / "nowhere", lm["data"])
    path = tmp_path / "c.json"
    path.write_text(json.dumps(missing))
    assert main(["train", str(path), "--run-dir", str(tmp_path / "r")]) == 2
    assert "model.name_or_path" in capsys.readouterr().err


def test_family_defaults_adapt_the_attention_projections(tmp_path: Path) -> None:
    from trainwell.tasks.lora import apply_lora

    folder = make_tiny_lm(tmp_path / "llama", family="llama")
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder))
    options = {"lora_r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "lora_target_modules": "auto"}
    adapted = {name.split(".lora_A")[0].split(".")[-1] for name, _ in apply_lora(model, options).named_parameters() if "lora_A" in name}
    assert adapted == set(LORA_TARGETS["llama"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert LORA_TARGETS["gpt2"] == ("c_attn",) and LORA_TARGETS["bert"] == ("query", "value")


def test_generation_metric_scores_exact_answers() -> None:
    class Echo(torch.nn.Module):
        """Generates a fixed continuation: token 7 then EOS."""

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def generate(self, input_ids: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            return torch.cat([input_ids, torch.tensor([[7, 0]])], dim=1)

    class Tok:
        def decode(self, ids: torch.Tensor, skip_special_tokens: bool) -> str:
            return " Positive " if ids.tolist()[0] == 7 else ""

    gen = _sft_metrics.Generation(Tok(), [[1, 2], [3]], ["positive", "negative"], 4, 0, 0)
    metrics = gen(Echo(), {"val_loss": 0.0})
    assert metrics == {"perplexity": 1.0, "exact_match": 0.5}


def test_generation_prompts_keep_their_end_and_fit_the_models_positions(lm: dict[str, Path], tmp_path: Path) -> None:
    """A prompt as long as the model's 64 positions used to be generated from at positions 64+, which GPT-2's
    learned position table does not have (IndexError): it is cut at the left to leave the answer room."""
    val = tmp_path / "val.jsonl"
    long_prompt = "Review: a " + "dull " * 80 + "film. Sentiment:"
    val.write_text(
        json.dumps({"prompt": long_prompt, "response": " negative"}) + "\n" + json.dumps({"prompt": "Hi:", "response": " positive"}) + "\n"
    )
    options = {"max_length": 64, "val_path": str(val), "generate_eval": 2}
    task = build_task(load_config(lm_config(lm["gpt2"], lm["data"], data={"options": options})))
    assert task.data_summary["generation_prompts_cut"] == 1
    generation = task.extra_metrics
    assert isinstance(generation, _sft_metrics.Generation)
    assert len(generation.prompts[0]) + generation.max_new_tokens == 64  # the end of the prompt, then the answer
    assert _tokenizer(lm).decode(generation.prompts[0]).endswith("film. Sentiment:")
    generation.eos_id = None  # generate every new token: the last one lands on the model's last position
    metrics = generation(task.model, {"val_loss": 1.0})
    assert 0.0 <= metrics["exact_match"] <= 1.0
