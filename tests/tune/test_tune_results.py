"""Finalists, the winner by mean, reasons, the trials table, the live table, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

optuna = pytest.importorskip("optuna")

from trainwell.cli.main import main  # noqa: E402
from trainwell.config import load_config  # noqa: E402
from trainwell.runtime import capture, leaks  # noqa: E402
from trainwell.tune import results  # noqa: E402
from trainwell.tune.progress import render  # noqa: E402
from trainwell.tune.runner import Target, Worker  # noqa: E402
from trainwell.tune.strategies import STRATEGIES  # noqa: E402
from trainwell.tune.testing import START, synthetic  # noqa: E402


def small_study(n: int = 6) -> tuple[optuna.Study, object]:
    objective, ctx = synthetic({"budget": n})
    study = optuna.create_study(sampler=STRATEGIES.get("staged").sampler(ctx, 0))
    Worker(study, study._storage, objective, ctx, "staged", Target(trials=n)).run()
    return study, ctx


def test_winner_is_the_best_mean_over_seeds_not_the_luckiest_trial() -> None:
    trial = lambda n, v, x: SimpleNamespace(number=n, value=v, params={"x": x})  # noqa: E731
    noisy = {0: [0.10, 0.50, 0.50], 1: [0.20, 0.21, 0.22]}  # trial 0 had one lucky seed
    finalists = results.run_finalists([trial(0, 0.10, 1), trial(1, 0.20, 2)], 3, 42, lambda t, seed: noisy[t.number][seed - 42])
    assert [f.seeds for f in finalists] == [[42, 43, 44]] * 2
    assert results.pick_winner(finalists, maximize=False).number == 1
    assert results.pick_winner(finalists, maximize=True).number == 0


def test_top_trials_are_distinct_and_ordered() -> None:
    study, _ = small_study()
    top = results.top_trials(study.get_trials(), maximize=False)
    assert len(top) == 3 and top[0].value <= top[1].value <= top[2].value
    assert len({json.dumps(t.params, sort_keys=True) for t in top}) == 3


def test_tables_reasons_and_best_config(tmp_path: Path) -> None:
    study, ctx = small_study()
    rows = results.trial_rows(study.get_trials())
    results.write_tables(tmp_path, rows, {"study_name": "s", "direction": "minimize"})
    table = json.loads((tmp_path / "trials.json").read_text())
    assert table["direction"] == "minimize" and [r["stage"] for r in table["trials"]][:2] == ["start", "lr"]
    assert (tmp_path / "trials.csv").read_text().splitlines()[0].startswith("number,state,value,stage")
    top = results.top_trials(study.get_trials(), False)
    winner = results.run_finalists(top[:1], 1, 42, lambda t, s: 0.0)[0]
    reasons = results.tuned_reasons(ctx.space, START, winner, rows, False, "val_loss")  # type: ignore[attr-defined]
    assert [r["field"] for r in reasons][:2] == ["optimizer.lr", "optimizer.weight_decay"]
    assert all(r["source"] and r["why"] for r in reasons)
    text = results.best_config_text("seed: 7\n", reasons, "s")
    path = tmp_path / "best.yaml"
    path.write_text(text)
    assert load_config(path).seed == 7 and text.count("\n#   ") == len(reasons)


def test_live_table_shows_stage_and_best() -> None:
    study, _ = small_study(4)
    table = render(study.get_trials(), 4, False, "t")
    assert table.row_count == 4 and "best: trial" in str(table.caption)


def test_cli_rejects_bad_options_with_all_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "task=digits", "--trials", "0", "--workers", "0", "--run-dir", "/nonexistent/never-created"]) == 2
    err = capsys.readouterr().err
    assert "--trials" in err and "--workers" in err


@pytest.mark.slow
def test_cli_tunes_digits_writes_a_trainable_config_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "study"
    common = [
        "tune",
        "task=digits",
        "training.epochs=2",
        "training.threads=2",
        "data.limit=300",
        "doctor.live=false",
        "--seeds",
        "2",
        "--no-find-lr",
        "--run-dir",
        str(run_dir),
        "--format",
        "json",
    ]
    before = capture()
    assert main([*common, "--trials", "3"]) == 0
    assert leaks(before) == []  # threads, determinism, RNGs, environment: as they were before the study
    first = json.loads(capsys.readouterr().out)
    assert first["finished_trials"] == 3 and len(first["finalists"]) == 3
    assert main([*common, "--trials", "4"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["resumed_from"] == 3 and second["finished_trials"] == 4
    best = load_config(run_dir / "best_config.yaml")
    assert best.optimizer.lr == second["best"]["params"]["lr"]
    for name in ("trials.json", "trials.csv", "finalists.json", "reasons.json", "tune_summary.json"):
        assert (run_dir / name).is_file()
    assert (run_dir / "plots" / "lr_response.png").is_file()
