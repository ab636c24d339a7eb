"""Every shipped recipe is a valid config whose every value says why, with a source."""

from __future__ import annotations

import re

import pytest

from trainwell.cli.main import main
from trainwell.config import load_config
from trainwell.errors import RegistryError
from trainwell.recipes.catalog import RECIPES, recipe_dict
from trainwell.tasks.catalog import TASKS

VALUE_LINE = re.compile(r"^\s*[a-z_]+:\s*(?P<value>[^#\s][^#]*?)\s*(#\s*(?P<comment>.*))?$")
SOURCE = re.compile(r"\b00[0-4] §|trainwell")


def test_catalog_lists_the_guides_recipes() -> None:
    expected = {
        "optimal-stack",
        "sft-1-epoch",
        "sft-2-epochs",
        "sft-5-epochs",
        "sft-10-epochs",
        "sft-20-epochs",
        "resnet50-imagenet",
        "bert-finetune",
        "vit-scratch",
        "gpt-pretrain",
        "balanced-medium",
        "imbalanced-transfer",
        "small-data-cnn",
    }
    assert expected <= set(RECIPES.names())


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_validates_and_runs_a_builtin_task(name: str) -> None:
    config = load_config(base=recipe_dict(name))
    assert config.task in TASKS, "recipes run on the closest built-in task"
    assert RECIPES.describe(name), "the first line is a one-line summary"


@pytest.mark.parametrize("name", RECIPES.names())
def test_every_recipe_value_has_a_why_and_a_source(name: str) -> None:
    missing = []
    for line in RECIPES.get(name).text().splitlines():
        m = VALUE_LINE.match(line)
        if m is None:
            continue
        comment = m.group("comment") or ""
        if "—" not in comment or not SOURCE.search(comment):
            missing.append(line.strip())
    assert not missing, f"values without '# why — source': {missing}"


def test_recipe_values_are_the_guides_numbers() -> None:
    bert = load_config(base=recipe_dict("bert-finetune"))
    assert (bert.optimizer.lr, bert.optimizer.weight_decay, bert.schedule.warmup, bert.batch.size, bert.training.max_grad_norm) == (
        2e-5,
        0.01,
        0.06,
        32,
        1.0,
    )
    resnet = load_config(base=recipe_dict("resnet50-imagenet"))
    assert (resnet.optimizer.name, resnet.optimizer.lr, resnet.schedule.milestones, resnet.training.epochs) == (
        "sgd",
        0.1,
        [30, 60, 90],
        90,
    )
    gpt = load_config(base=recipe_dict("gpt-pretrain"))
    assert (gpt.optimizer.betas, gpt.schedule.warmup, gpt.batch.size) == ((0.9, 0.95), 2000, 512)
    table = {1: 2e-4, 2: 1e-4, 5: 5e-5, 10: 3e-5, 20: 1e-5}
    for epochs, lr in table.items():
        name = f"sft-{epochs}-epoch" + ("s" if epochs > 1 else "")
        config = load_config(base=recipe_dict(name))
        assert (config.training.epochs, config.optimizer.lr, config.training.max_grad_norm) == (epochs, lr, 0.3)


def test_overrides_layer_on_top_of_a_recipe() -> None:
    config = load_config(None, ["optimizer.lr=1e-4"], base=recipe_dict("bert-finetune"))
    assert config.optimizer.lr == 1e-4 and config.schedule.warmup == 0.06


def test_unknown_recipe_suggests_the_closest() -> None:
    with pytest.raises(RegistryError) as info:
        recipe_dict("bert-fintune")
    assert "bert-finetune" in info.value.problems[0].fix


def test_recipes_cli_ls_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes", "ls"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in RECIPES.names())
    assert main(["recipes", "show", "optimal-stack"]) == 0
    assert capsys.readouterr().out == RECIPES.get("optimal-stack").text()
    assert main(["recipes", "show", "optimal-stack", "--resolved", "--format", "json"]) == 0
    assert '"lr": 3e-05' in capsys.readouterr().out
    assert main(["recipes", "show", "nope"]) == 2
