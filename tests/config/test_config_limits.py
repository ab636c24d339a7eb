"""Item 6 of issue H: hostile documents and magnitudes are clear errors (exit 2) in well under a second:
alias bombs, deep nesting, oversized files, huge or non-finite numbers, billion-step schedules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from trainwell.cli.main import main
from trainwell.config.documents import CONFIG_LIMITS

BOMB = "\n".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi")
)
DEEP_YAML = "a: " + "[" * 5000 + "]" * 5000
DEEP_JSON = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"


def _run(argv: list[str]) -> tuple[int, float]:
    """Exit code and CPU seconds (CPU, not wall: the test machine is shared, and a hang or a blow-up burns CPU)."""
    start = time.process_time()
    code = main(argv)
    return code, time.process_time() - start


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("bomb.yaml", BOMB, "must expand to at most"),
        ("deep.yaml", DEEP_YAML, "must nest at most"),
        ("deep.json", DEEP_JSON, "must nest at most"),
        ("big.yaml", "a: " + "x" * (CONFIG_LIMITS.max_bytes + 1), "must be at most"),
    ],
    ids=["alias-bomb", "deep-yaml", "deep-json", "oversized"],
)
@pytest.mark.parametrize("verb", [["config", "validate"], ["lint"], ["config", "show"], ["import"]])
def test_hostile_documents_fail_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, rule: str, verb: list[str]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, seconds = _run([*verb, str(path)])
    assert code == 2 and seconds < 1.0
    assert rule in capsys.readouterr().err


def test_the_bomb_is_the_issues_nine_lines() -> None:
    assert BOMB.count("\n") == 8 and BOMB.count("*") == 72


def test_deep_override_value_and_key_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "model.x=" + "[" * 5000 + "]" * 5000]) == 2
    assert main(["config", "show", "model." + ".".join(["k"] * 5000) + "=1"]) == 2
    err = capsys.readouterr().err
    assert "must nest at most" in err and "a key path must have at most" in err


@pytest.mark.parametrize(
    ("override", "rule"),
    [
        ("batch.size=1e23", "`abs(value) <= 2**53` must hold"),
        ("seed=1e30", "`abs(value) <= 2**53` must hold"),
        ("optimizer.lr=.nan", "must be a finite number"),
        ("schedule.power=.inf", "must be a finite number"),
        ("training.threads=100000", "`threads <= 4096` must hold"),
    ],
)
def test_magnitudes_are_validated(capsys: pytest.CaptureFixture[str], override: str, rule: str) -> None:
    assert main(["config", "show", override]) == 2
    assert rule in capsys.readouterr().err


def test_huge_batch_is_refused_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's `batch.size: 1e23` validated, then trained into a ValueError; now train refuses it."""
    path = tmp_path / "big.yaml"
    path.write_text("batch:\n  size: 1e23\n", encoding="utf-8")
    assert main(["config", "validate", str(path)]) == 2
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


def test_schedule_of_ten_billion_steps_is_instant(capsys: pytest.CaptureFixture[str]) -> None:
    code, seconds = _run(["schedule", "--steps", "10000000000"])
    assert code == 0 and seconds < 1.0
    assert capsys.readouterr().out.rstrip().endswith("lr 0")


def test_schedule_json_output_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    code, seconds = _run(["schedule", "--steps", "1000000", "--format", "json"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code == 0 and seconds < 1.0 and len(out) < 1_000_000
    assert len(data["step"]) == len(data["lr"]) <= 10_001 and data["step"][-1] == 999_999
    assert main(["schedule", "--steps", "100", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == list(range(100))


def test_schedule_refuses_too_many_rows_and_bad_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "--steps", "10000000000", "--every", "1"]) == 2
    assert main(["schedule", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert "must leave at most 100,000 rows" in err and "`1 <= steps <= 1e+12` must hold" in err


def test_schedule_with_lr_find_shows_the_multiplier_not_a_stand_in_lr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "--steps", "100", "--format", "json", "optimizer.lr=find"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "lr" not in data and max(data["multiplier"]) == pytest.approx(1.0)
    assert main(["schedule", "--steps", "100", "optimizer.lr=find"]) == 0
    out = capsys.readouterr().out
    assert "multiplier of that peak" in out and "step      99  multiplier" in out
    assert main(["schedule", "--steps", "100", "--format", "json", "optimizer.lr=0.002"]) == 0
    assert max(json.loads(capsys.readouterr().out)["lr"]) == pytest.approx(0.002)
