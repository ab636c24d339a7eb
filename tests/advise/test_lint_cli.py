"""`trainwell lint` end to end: exit codes, JSON output, and a start-up that never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainwell.cli.main import main


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_exit_0_on_warnings_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "args.json", json.dumps({"learning_rate": 1e-3, "batch_size": 32, "epochs": 3}))
    assert main(["lint", path]) == 0
    out = capsys.readouterr().out
    assert "[seed-missing]" in out and "fix:" in out and "source:" in out


def test_exit_1_on_error_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "hf.yaml", "per_device_train_batch_size: 8\nnum_train_epochs: 3\nload_best_model_at_end: true\n")
    assert main(["lint", path]) == 1
    assert "[load-best-no-eval]" in capsys.readouterr().out


def test_exit_2_on_unreadable_file_but_other_files_still_linted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", "a: [1, 2\n")
    good = _write(tmp_path, "good.json", json.dumps({"learning_rate": 1e-3, "batch_size": 32, "seed": 1}))
    assert main(["lint", bad, good, str(tmp_path / "missing.yaml"), "--format", "json"]) == 2
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert [f["path"] for f in data["files"]] == [good]
    assert len(data["unreadable"]) == 2 and "must be valid YAML" in captured.err


def test_json_findings_have_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        "hf.yaml",
        "per_device_train_batch_size: 8\nnum_train_epochs: 3\nfp16: true\nmodel_name_or_path: mistralai/Mistral-7B-v0.1\n",
    )
    main(["lint", path, "--format", "json"])
    report = json.loads(capsys.readouterr().out)["files"][0]
    assert report["dialect"] == "hf"
    fp16 = next(f for f in report["findings"] if f["rule"] == "fp16-on-bf16-hardware")
    assert set(fp16) == {"rule", "severity", "message", "where", "value", "step", "evidence", "fix", "source"}  # one set with the doctor
    assert fp16["severity"] == "warning" and fp16["where"] == "fp16" and "if the GPU supports bf16" in fp16["message"]


def test_min_severity_hides_infos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "hf.yaml", "per_device_train_batch_size: 8\nnum_train_epochs: 3\nseed: 1\n")
    main(["lint", path, "--min-severity", "warning"])
    assert "[no-evaluation]" not in capsys.readouterr().out


_PROBE = "import sys; sys.argv = ['trainwell', 'lint', {path!r}]; from trainwell.cli.main import main; main(); print('TORCH', 'torch' in sys.modules)"


def test_lint_does_not_import_torch(tmp_path: Path) -> None:
    path = _write(tmp_path, "tw.yaml", "task: text-classification\noptimizer: {name: adam, weight_decay: 0.01}\n")
    out = subprocess.run([sys.executable, "-c", _PROBE.format(path=path)], capture_output=True, text=True, timeout=60).stdout
    assert "[adam-l2-decay]" in out
    assert out.strip().endswith("TORCH False")


_TIMED = (
    "import time; t = time.perf_counter(); import io, contextlib, sys; sys.argv = ['trainwell', 'lint', {path!r}]\n"
    "from trainwell.cli.main import main\nwith contextlib.redirect_stdout(io.StringIO()): main()\nprint(time.perf_counter() - t)"
)


@pytest.mark.slow
def test_lint_starts_fast(tmp_path: Path) -> None:
    """Must-show: `trainwell lint` (importing the CLI, building every verb's parser, linting) takes under 0.5 s in a
    fresh process. Timed inside the process, so the interpreter's own start-up on a loaded machine is not counted;
    best of 3."""
    path = _write(tmp_path, "hf.yaml", "per_device_train_batch_size: 8\nnum_train_epochs: 3\n")
    times = [
        float(subprocess.run([sys.executable, "-c", _TIMED.format(path=path)], capture_output=True, text=True, timeout=60).stdout)
        for _ in range(3)
    ]
    assert min(times) < 0.5, times
