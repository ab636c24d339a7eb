"""The light verbs must start without importing torch (the brief: --help, recommend, lint, doctor)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run_without_torch(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys, io, contextlib\n"
        "from trainwell.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        rc = main({argv!r})\n"
        "    except SystemExit as e:\n"
        "        rc = e.code\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'optuna', 'transformers', 'scipy') if m in sys.modules]\n"
        "print(rc, ','.join(heavy) or '-')\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def _write_inputs(tmp_path: Path) -> dict[str, Path]:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optimizer: {name: adam, lr: 1.0e-3, weight_decay: 0.01}\n")
    log = tmp_path / "trainer_state.json"
    log.write_text('{"log_history": [' + ",".join(f'{{"step": {i}, "loss": {2.0 / (i + 1)}}}' for i in range(1, 40)) + "]}")
    return {"config": cfg, "log": log}


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["recommend", "--model", "transformer", "--mode", "finetune", "--dataset-size", "20000", "--epochs", "5", "--format", "json"],
        ["recommend", "--task", "digits"],
        ["lint", "{config}", "--format", "json"],
        ["doctor", "{log}", "--format", "json"],
        ["config", "validate", "{config}"],
        ["recipes", "ls"],
    ],
    ids=lambda a: a[0],
)
def test_light_verbs_do_not_import_torch(argv: list[str], tmp_path: Path) -> None:
    paths = _write_inputs(tmp_path)
    argv = [a.format(**paths) for a in argv]
    out = _run_without_torch(argv, tmp_path)
    assert out.returncode == 0, out.stderr
    rc, heavy = out.stdout.strip().splitlines()[-1].split(" ")
    assert heavy == "-", f"{argv[0]} imported {heavy}"
    assert rc in ("0", "None", "1"), out.stdout  # lint exits 1 on error findings; that is not a crash


def test_a_verb_imports_only_its_own_module(tmp_path: Path) -> None:
    """The parser is lazy: `doctor` imports doctor_cmd and no other verb's module (tune's runner included), while
    `trainwell --help` still lists every verb and `trainwell doctor --help` shows doctor's own arguments."""
    paths = _write_inputs(tmp_path)
    code = (
        "import sys, io, contextlib\n"
        "from trainwell.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['doctor', {str(paths['log'])!r}])\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(('trainwell.cli.', 'trainwell.tune')))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1].split(",") == [
        "trainwell.cli.common",
        "trainwell.cli.doctor_cmd",
        "trainwell.cli.main",
        "trainwell.cli.parser",
    ]
    top = subprocess.run([sys.executable, "-m", "trainwell", "--help"], capture_output=True, text=True, timeout=60)
    from trainwell.cli.main import VERBS

    assert all(name in top.stdout for name, _, _ in VERBS)
    verb = subprocess.run([sys.executable, "-m", "trainwell", "doctor", "--help"], capture_output=True, text=True, timeout=60)
    assert "--fail-on" in verb.stdout and "--plot" in verb.stdout
