"""The LR law: the guide's value at its own context, μP width, horizon and batch terms, the cap, the
feature function the corpus fit uses, and the provenance every LR reason carries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trainwell.advise.lr_law import load_table, lr_features, predict, prior_table
from trainwell.advise.recommender import Profile, recommend
from trainwell.errors import ConfigError

TABLE = prior_table()  # the law's form is tested on the guides' constants; the shipped fit in its own tests
# every test here but the shipped-table ones runs the law on the prior constants
pytestmark = pytest.mark.usefixtures("prior_law")


@pytest.mark.parametrize("group", sorted(TABLE.anchors))
def test_each_anchor_returns_its_guide_value_in_its_own_context(group: str) -> None:
    family, mode, kind = group.split("/")
    a = TABLE.anchors[group]
    optimizer = "adamw" if kind == "adam" else "sgd"
    law = predict(
        "mlp" if family == "*" else family, "scratch" if mode == "*" else mode, optimizer, width=a.width, steps=a.steps, batch=a.batch
    )
    if law.group == group:  # a wildcard anchor may be shadowed by a more specific one for the family chosen here
        assert law.raw == pytest.approx(a.lr) and a.source


def test_width_scales_adam_from_scratch_as_one_over_width_and_leaves_sgd_alone() -> None:
    narrow = predict("mlp", "scratch", "adamw", width=128, steps=2000, batch=32).lr
    wide = predict("mlp", "scratch", "adamw", width=512, steps=2000, batch=32).lr
    assert narrow / wide == pytest.approx(4, rel=0.01)
    assert predict("cnn", "scratch", "sgd", width=16, batch=32).lr == predict("cnn", "scratch", "sgd", width=256, batch=32).lr
    # Fine-tuning pretrained weights: the prior keeps the LR flat in width.
    assert predict("transformer", "finetune", "adamw", width=384).lr == predict("transformer", "finetune", "adamw", width=1024).lr


def test_shorter_runs_get_a_higher_peak() -> None:
    short = predict("transformer", "finetune", "adamw", width=768, steps=1875 // 4, batch=32).lr
    assert short == pytest.approx(4e-5, rel=0.01)  # 4x fewer steps, steps^-0.5: twice the anchor's 2e-5
    assert predict("mlp", "scratch", "adamw", steps=200).lr > predict("mlp", "scratch", "adamw", steps=20000).lr


def test_batch_term_is_sqrt_for_adam_and_linear_for_sgd() -> None:
    assert predict("mlp", "scratch", "adamw", batch=128).lr == pytest.approx(2e-3)
    assert predict("resnet", "scratch", "sgd", batch=1024).lr == pytest.approx(0.4)


def test_the_band_caps_the_law_and_the_reason_says_so() -> None:
    tiny = predict("transformer", "scratch", "adamw", width=8, steps=100, batch=32)
    assert tiny.raw > 0.03 and tiny.lr == 0.03 and tiny.capped  # the corpus's Adam cap (004's 5e-3 was too low)
    assert "band" in tiny.explain() and "lr-find" in tiny.explain()


def test_predict_is_exp_of_coefficients_dot_features() -> None:
    feats = lr_features("rnn", "scratch", "adamw", width=64, steps=500, batch=64)
    assert set(feats) == {"intercept:rnn/scratch/adam", "width:adam:scratch", "horizon:adam:scratch", "batch:adam"}
    log_lr = sum(TABLE.coefficients[k] * v for k, v in feats.items())
    assert predict("rnn", "scratch", "adamw", width=64, steps=500, batch=64).raw == pytest.approx(math.exp(log_lr), rel=2e-3)


def test_unknown_width_or_horizon_contributes_nothing() -> None:
    feats = lr_features("mlp", "scratch", "adamw", width=None, steps=None, batch=32)
    assert feats["width:adam:scratch"] == 0 and feats["horizon:adam:scratch"] == 0


def test_optimizers_without_constants_are_refused() -> None:
    with pytest.raises(ConfigError, match="adam, adamw, sgd"):
        lr_features("mlp", "scratch", "lion", width=None, steps=None, batch=32)


def test_shipped_table_is_fitted_on_the_corpus_and_the_reason_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from trainwell.advise import lr_law

    monkeypatch.undo()  # the shipped table, not the prior the module's fixture installs
    shipped = lr_law._shipped()
    assert shipped.status == "fitted" and shipped.git_revision and shipped.command.startswith("python benchmarks/corpus/fit.py --write")
    assert len(shipped.fitted_on) >= 24 and set(shipped.coefficients) == set(TABLE.coefficients)
    reason = recommend(Profile("mlp", dataset_size=5000, width=64)).reason_for("optimizer.lr")
    assert reason is not None and reason.rule == "lr.law"
    assert "constants fitted" in reason.source and "corpus settings" in reason.source


def test_prior_table_keeps_the_guides_constants() -> None:
    assert TABLE.status == "prior" and TABLE.git_revision is None
    reason = recommend(Profile("mlp", dataset_size=5000, width=64)).reason_for("optimizer.lr")
    assert reason is not None and "prior constants, not fitted" in reason.source and "Yang et al. 2022" in reason.source
    assert "x 4 (width)" in reason.why  # width 64 against the anchor's 256


def test_a_fitted_table_changes_the_value_and_names_its_provenance(tmp_path: Path) -> None:
    data = json.loads((Path(__file__).resolve().parents[2] / "src/trainwell/advise/lr_law.json").read_text())
    data.update(status="fitted", git_revision="0123456789abcdef", command="python benchmarks/corpus/fit.py", fitted_on=["a", "b"])
    data["coefficients"]["intercept:mlp/scratch/adam"] = math.log(3e-3)
    path = tmp_path / "fitted.json"
    path.write_text(json.dumps(data))
    table = load_table(path)
    law = predict("mlp", "scratch", "adamw", table=table)
    assert law.lr == pytest.approx(3e-3)
    assert "fitted on 2 corpus settings at 0123456789" in law.provenance and "scored leave-one-dataset-out" in law.provenance
    assert "fitted 0.003; the guide's 0.001" in law.explain()


def test_every_table_group_cites_a_source_and_every_slope_too() -> None:
    for group, anchor in TABLE.anchors.items():
        assert anchor.source and f"intercept:{group}" in TABLE.coefficients
    slopes = [k for k in TABLE.coefficients if not k.startswith("intercept:")]
    assert slopes and all(TABLE.sources.get(k) for k in slopes)
