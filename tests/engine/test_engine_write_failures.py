"""Item 7 of issue H: a full disk or a read-only folder is a clear error (exit 2, the path, a fix) in
train, report and tune, and nothing is left half-written: atomic files keep their old content, a
checkpoint that could not be finished is removed. The disk is simulated by monkeypatching writes (a
real tmpfs is used too where this process may mount one)."""

from __future__ import annotations

import errno
import json
import pathlib
import subprocess
from pathlib import Path

import pytest

import trainwell.engine.checkpoint as checkpoint
from trainwell.cli.main import main
from trainwell.files import write_text_atomic

TINY = ["training.max_steps=4", "data.limit=128", "checkpoint.strategy=steps", "checkpoint.every=2", "evaluation.strategy=steps",
        "evaluation.every=2", "report=false", "logging.tensorboard=off"]  # fmt: skip


def _refuse_under(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int) -> None:
    """Every write_text and mkdir below ``folder`` fails with ``code`` (EROFS: read-only, ENOSPC: full)."""
    write_text, mkdir = pathlib.Path.write_text, pathlib.Path.mkdir

    def refuse(path: Path) -> None:
        if str(path).startswith(str(folder)):
            raise OSError(code, __import__("os").strerror(code), str(path))

    def guarded_write(self: Path, *a: object, **k: object) -> int:
        refuse(self)
        return write_text(self, *a, **k)  # type: ignore[arg-type]

    def guarded_mkdir(self: Path, *a: object, **k: object) -> None:
        refuse(self)
        mkdir(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(pathlib.Path, "write_text", guarded_write)
    monkeypatch.setattr(pathlib.Path, "mkdir", guarded_mkdir)


def test_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    target.write_text('{"old": true}', encoding="utf-8")
    _refuse_under(monkeypatch, tmp_path / ".summary", errno.ENOSPC)
    with pytest.raises(OSError) as info:
        write_text_atomic(target, '{"new": true}')
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert json.loads(target.read_text(encoding="utf-8")) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_train_into_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _refuse_under(monkeypatch, tmp_path / "ro", errno.EROFS)
    assert main(["train", "--run-dir", str(tmp_path / "ro" / "run"), *TINY]) == 2
    err = capsys.readouterr().err
    assert "must be a writable path" in err and "Read-only file system" in err and "Traceback" not in err


def test_full_disk_at_a_checkpoint_leaves_no_partial_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch.save reports a full disk as a RuntimeError ('unexpected pos'); it reaches the user as ENOSPC."""
    write_into = checkpoint._write_into

    def fail_second(temp: Path, step: int, *a: object, **k: object) -> None:
        if step > 2:
            (temp / "model.pt").write_bytes(b"half")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
        write_into(temp, step, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(checkpoint, "_write_into", fail_second)
    monkeypatch.setattr(checkpoint, "_disk_full", lambda folder: True)
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "free disk space" in err and "Traceback" not in err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-2"]  # the whole one, nothing partial


def test_report_into_a_read_only_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("task: digits\n", encoding="utf-8")
    (run / "report.html").write_text("old report", encoding="utf-8")
    _refuse_under(monkeypatch, run, errno.EACCES)
    assert main(["report", str(run)]) == 2
    assert "you may not write there" in capsys.readouterr().err
    assert (run / "report.html").read_text(encoding="utf-8") == "old report" and not list(run.glob(".*.tmp"))


def test_tune_into_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna")
    _refuse_under(monkeypatch, tmp_path / "ro", errno.EROFS)
    assert main(["tune", "--trials", "1", "--run-dir", str(tmp_path / "ro" / "study"), *TINY]) == 2
    assert "must be a writable path" in capsys.readouterr().err


def test_a_bug_is_not_dressed_as_a_disk_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the environment's refusals (no space, read-only, permission) become exit 2; another OSError is a bug."""
    import trainwell.cli.config_cmd as config_cmd

    def broken(args: object) -> int:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(config_cmd, "_fields", broken)
    with pytest.raises(OSError):
        main(["config", "fields"])


def test_real_tmpfs_full_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real 96 KiB file system: the first checkpoint does not fit."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        assert main(["train", "--run-dir", str(disk / "run"), *TINY, "data.limit=512"]) == 2
        assert "No space left on device" in capsys.readouterr().err
        assert not [p for p in (disk / "run" / "checkpoints").iterdir() if p.name.startswith(".")]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
