"""Model facts: read from real modules, validated when given by hand, recorded for the built-in tasks
(checked against the built models), and a user task's own TaskFacts reach the recommender."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from trainwell.advise.model_facts import ModelFacts, read_model_facts
from trainwell.errors import ConfigError


def test_reads_an_mlp() -> None:
    from trainwell.tasks._models import mlp

    facts = read_model_facts(mlp(64, 128, 2, 0.1, 10))
    assert (facts.family, facts.mode, facts.width, facts.depth) == ("mlp", "scratch", 128, 3)
    assert facts.params == facts.trainable_params == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize(
    ("module", "family", "width"),
    [
        (lambda: nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.Flatten(), nn.Linear(32, 10)), "cnn", 32),
        (lambda: nn.LSTM(16, 48, num_layers=2), "rnn", 48),
        (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 128, batch_first=True), 2), "transformer", 64),
    ],
    ids=["cnn", "lstm", "transformer"],
)
def test_reads_family_and_width(module, family: str, width: int) -> None:  # type: ignore[no-untyped-def]
    facts = read_model_facts(module())
    assert (facts.family, facts.width) == (family, width)


def test_a_small_cnn_is_as_wide_as_its_channels_not_its_flattened_map() -> None:
    """Issue G: a 2-block CNN (8, 16 channels) on 16x16 images read width 132, the median of 8 and the
    head's 16 x 4 x 4 = 256 flattened inputs."""
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )  # fmt: skip
    assert (read_model_facts(net).width, read_model_facts(net).depth) == (8, 3)
    # one conv block (8 channels) read its head's 8 x 4 x 4 = 128 flattened inputs: the corpus's usps-cnn8x1-short
    # got a 30x lower LR from the law than the same network with two blocks
    one = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(8 * 16, 10))
    assert read_model_facts(one).width == 8
    # a ViT-style patch embedding (one convolution) keeps the transformer's width (d_model)
    vit = nn.Sequential(nn.Conv2d(3, 64, 4, stride=4), nn.Flatten(2), nn.TransformerEncoderLayer(16, 2, 32, batch_first=True))
    assert read_model_facts(vit).width == 16


def test_a_mostly_frozen_model_is_a_frozen_backbone() -> None:
    net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.Linear(256, 2))
    for p in list(net.parameters())[:4]:
        p.requires_grad_(False)
    facts = read_model_facts(net)
    assert facts.mode == "frozen" and facts.trainable_params == 256 * 2 + 2
    assert read_model_facts(net, mode="finetune").mode == "finetune"  # the task's word wins


def test_hand_given_facts_report_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        ModelFacts(family="cnnn", mode="x", params=10, trainable_params=20, width=0)
    assert {p.where for p in info.value.problems} == {"model.family", "model.mode", "model.width", "model.trainable_params"}


def test_builtin_tasks_record_the_facts_of_their_default_model() -> None:
    from trainwell.tasks._models import mlp, small_cnn
    from trainwell.tasks.catalog import TASKS

    for name, model in (("digits", mlp(64, 128, 1, 0.1, 10)), ("fashion-mnist", small_cnn(16, 0.2, 10))):
        spec = TASKS.get(name)
        read = read_model_facts(model)
        assert (spec.facts.params, spec.facts.width, spec.facts.depth) == (read.params, read.width, read.depth), name
    assert TASKS.get("tabular").facts.width == read_model_facts(mlp(100, 128, 2, 0.1, 2)).width


USER_TASK = textwrap.dedent(
    """
    import torch
    from torch.utils.data import TensorDataset
    from trainwell.tasks.base import Task, TaskFacts

    def build(config):
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(600, 16, generator=g), torch.randint(0, 3, (600,), generator=g)
        model = torch.nn.Sequential(torch.nn.Linear(16, 384), torch.nn.ReLU(), torch.nn.Linear(384, 384), torch.nn.Linear(384, 3))
        facts = TaskFacts("transformer", "finetune", 600, 3, 1.0)
        return Task("mine", model, TensorDataset(x, y), TensorDataset(x[:100], y[:100]), num_classes=3, facts=facts)
    """
)


def test_user_task_facts_reach_recommend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from trainwell.cli.main import main

    (tmp_path / "mytask_g.py").write_text(USER_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["recommend", "--task", "mytask_g:build", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    profile = data["profile"]
    assert (profile["model"], profile["mode"], profile["dataset_size"], profile["width"]) == ("transformer", "finetune", 600, 384)
    lr = data["config"]["optimizer"]["lr"]
    assert 2e-5 <= lr <= 5e-4  # a fine-tuning LR, not the from-scratch 1e-3 it used to get
    sys.modules.pop("mytask_g", None)
    assert torch.is_tensor(torch.zeros(1))


def test_python_api_profile_from_a_module() -> None:
    from trainwell.advise.recommender import Profile, recommend

    net = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 128, batch_first=True), 2)
    p = Profile.from_model(net, dataset_size=5000, epochs=5)
    assert (p.model, p.mode, p.width, p.params) == ("transformer", "scratch", 64, sum(x.numel() for x in net.parameters()))
    wide = Profile.from_model(
        nn.TransformerEncoder(nn.TransformerEncoderLayer(512, 4, 1024, batch_first=True), 1), dataset_size=5000, epochs=5
    )
    # transformers from scratch are measured (optimizer.lr: find): the law's value is the stated fallback
    small_lr, wide_lr = (recommend(q).config.lr_find.fallback or recommend(q).config.optimizer.lr for q in (p, wide))
    assert isinstance(small_lr, float) and isinstance(wide_lr, float) and small_lr > wide_lr  # μP: the narrow model gets more
    assert Profile.from_model(net, mode="finetune").mode == "finetune"
