"""A Hydra sweeper file's search space judged with the optimizer chosen in another file of its composition (issue M:
lint's search-space checks across files). Built as the lightning-hydra-template lays its configs out."""

from __future__ import annotations

from pathlib import Path

import yaml

from trainwell.advise.lint import lint_file, lint_mapping
from trainwell.advise.lint.hydra_compose import defaults_choices

SWEEP = {
    "defaults": [{"override /hydra/sweeper": "optuna"}],
    "optimized_metric": "val/acc_best",
    "hydra": {"mode": "MULTIRUN", "sweeper": {"params": {"model.optimizer.lr": "tag(log, interval(0.001, 1.0))"}}},
}


def _tree(root: Path, sweep: dict, model: str = "mnist", optimizer: str = "torch.optim.Adam") -> Path:
    (root / "model").mkdir(parents=True)
    (root / "hparams_search").mkdir()
    (root / "train.yaml").write_text(
        yaml.safe_dump({"defaults": ["_self_", {"data": "mnist"}, {"model": model}, {"hparams_search": None}]})
    )
    module = {"_target_": "src.models.MNISTLitModule", "optimizer": {"_target_": optimizer, "_partial_": True, "lr": 0.001}}
    (root / "model" / f"{model}.yaml").write_text(yaml.safe_dump(module))
    path = root / "hparams_search" / "optuna.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def _rules(report) -> dict[str, list]:  # type: ignore[no-untyped-def]
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.rule, []).append(f)
    return out


def test_the_sampled_lr_is_judged_with_the_optimizer_of_the_model_file(tmp_path: Path) -> None:
    path = _tree(tmp_path / "configs", SWEEP)
    found = _rules(lint_file(path))
    (rng,) = found["search-space-range"]
    assert "0.001–1" in rng.message and "model/mnist.yaml" in rng.message and rng.severity == "info"  # 1.0: 33x Adam's top
    assert "model/mnist.yaml" in found["hydra-composition"][0].message
    assert "search-space-range" not in _rules(lint_mapping(yaml.safe_load(path.read_text())))  # one file alone: unknown


def test_the_sweeper_file_s_own_override_wins_over_the_primary_config(tmp_path: Path) -> None:
    sweep = {
        "defaults": [{"override /hydra/sweeper": "optuna"}, {"override /model": "sgd"}],
        "hydra": {"sweeper": {"params": {"model.optimizer.lr": "tag(log, interval(1e-6, 1e-5))"}}},
    }
    root = tmp_path / "configs"
    path = _tree(root, sweep)
    module = {"_target_": "x.Module", "optimizer": {"_target_": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9}}
    (root / "model" / "sgd.yaml").write_text(yaml.safe_dump(module))
    (rng,) = _rules(lint_file(path))["search-space-range"]
    assert "model/sgd.yaml" in rng.message and rng.severity == "warning"  # entirely below SGD's band (Adam's reaches 1e-5)


def test_a_linear_lr_and_a_weight_decay_beyond_the_guides_are_flagged(tmp_path: Path) -> None:
    params = {"model.optimizer.lr": "interval(0.0001, 0.1)", "model.optimizer.weight_decay": "tag(log, interval(0.5, 5.0))"}
    sweep = {**SWEEP, "hydra": {"sweeper": {"params": params}}}
    found = _rules(lint_file(_tree(tmp_path / "configs", sweep)))
    assert [f.where for f in found["search-space-scale"]] == ["hydra.sweeper.params.model.optimizer.lr"]
    (decay,) = found["search-space-range"]  # the LR range is inside Adam's band; weight decay 0.5-5 is beyond 0.3
    assert decay.where == "hydra.sweeper.params.model.optimizer.weight_decay" and decay.severity == "warning"


def test_unresolvable_or_escaping_references_read_nothing(tmp_path: Path) -> None:
    root = tmp_path / "configs"
    path = _tree(root, {**SWEEP, "defaults": [{"override /model": "../../outside"}]})
    (tmp_path / "outside.yaml").write_text(yaml.safe_dump({"optimizer": {"_target_": "torch.optim.SGD"}}))
    report = lint_file(path)
    assert "search-space-range" not in _rules(report)
    assert "no model/../../outside.yaml" in _rules(report)["hydra-composition"][0].message
    assert defaults_choices({"defaults": ["_self_", {"optional local": "default"}, {"model@net": "x"}, {"logger": None}]}) == {
        "local": "default"
    }
