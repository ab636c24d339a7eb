"""An option a verb does not know: set aside with the word after it as its value, so the rest of the line is
parsed and judged as if it were not there; reported with what was probably meant. Options are written in full
(no argparse abbreviations), so a prefix is one of these problems, not argparse's own stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainwell.cli.main import main


def _config(tmp_path: Path, text: str = "training: {epochs: 2}\n") -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_override_after_an_unknown_option_is_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`train c.yaml --epoch 3 training.epochs=zzz` reported --epoch with '3 training.epochs=zzz' as its value:
    argparse ended the overrides at the unknown option, so the bad override was never checked."""
    assert main(["train", _config(tmp_path), "--epoch", "3", "training.epochs=zzz", "--set", "x=1", "--run-dir", "never"]) == 2
    err = capsys.readouterr().err
    assert "4 problems found" in err and "Traceback" not in err
    for line in (
        "  - --epoch: is not an option of trainwell train, but got '--epoch 3'. Fix: a config field is set as key=value: "
        "did you mean training.epochs=3? `trainwell train --help` lists its options",
        "  - --set: is not an option of trainwell train, but got '--set'.",
        "  - training.epochs: must be int, but got 'zzz'",
        "  - x: is not a known config key, but got 1.",
    ):
        assert line in err
    assert not (tmp_path / "never").exists()


def test_the_config_after_an_unknown_option_is_still_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`train --epoch 3 c.yaml` took '3' for CONFIG ('3: file must exist') and c.yaml for an override: now '3' is
    --epoch's value and c.yaml is read (its own problem is reported)."""
    config = _config(tmp_path, "training: {epochs: -1}\n")
    assert main(["train", "--epoch", "3", config, "optimizer.lr=-1"]) == 2
    err = capsys.readouterr().err
    assert "3 problems found" in err and "  - --epoch: is not an option of trainwell train, but got '--epoch 3'" in err
    assert "  - training.epochs: " in err and "  - optimizer.lr: " in err and "3: file must exist" not in err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["doctor", "--f", "json", "log.csv"],
            "  - --f: is not an option of trainwell doctor, but got '--f json'. Fix: options are written in full: "
            "did you mean --fail-on or --format? `trainwell doctor --help` lists its options",
        ),
        (
            ["recommend", "--e", "3"],
            "  - --e: is not an option of trainwell recommend, but got '--e 3'. Fix: options are written in full: did you mean --epochs?",
        ),
        (
            ["train", "--npro", "2"],
            "  - --npro: is not an option of trainwell train, but got '--npro 2'. Fix: options are written in full: did you mean --nproc?",
        ),
        (
            ["--vers"],
            "  - --vers: is not an option of trainwell, but got '--vers'. Fix: options are written in full: did you mean --version?",
        ),
    ],
)
def test_an_abbreviated_option_is_one_of_our_problems(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    """`doctor --f` stopped at argparse's 'ambiguous option: --f could match --format, --fail-on' (the line's other
    problems unsaid); `recommend --e 3` was silently --epochs 3, and `train --npro 2` ran 2 processes each handed
    `--npro 2` (the launcher strips its flags by their full names)."""
    monkeypatch.setattr("trainwell.cli.train_cmd.launch", lambda command: pytest.fail(f"launched {command}"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert line in err and "Traceback" not in err and "usage:" not in err


def test_every_unknown_option_with_the_other_mistakes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--f", "json", "--e", "3", "--batch-size", "-3", "--lr=1e-3"]) == 2
    err = capsys.readouterr().err
    assert "4 problems found" in err
    for option in ("--f", "--e", "--lr"):
        assert f"  - {option}: is not an option of trainwell recommend" in err
    assert "  - profile.batch_size: " in err


def test_values_after_double_dash_and_negative_numbers_are_not_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own reading of a word stays: a negative number is a value, and -- ends the options."""
    assert main(["recommend", "--bogus", "-3", "--epochs", "2"]) == 2
    assert "  - --bogus: is not an option of trainwell recommend, but got '--bogus -3'" in capsys.readouterr().err
    assert main(["config", "show", "--format", "json", "--", "training.epochs=5"]) == 0
    assert '"epochs": 5' in capsys.readouterr().out
