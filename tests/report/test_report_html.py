"""The run report without a browser: self-contained, escaped, complete, and tolerant of half-written folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import BEST_STEP, write_run
from trainwell.errors import DataError
from trainwell.report import render_run, write_report
from trainwell.report.page import esc, fmt
from trainwell.report.rundata import best_eval, flatten, load_run

pytest.importorskip("matplotlib")

URL_ATTR = re.compile(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:|//|ftp:|file:)""", re.I)


def test_report_is_self_contained(full_report: tuple[Path, str]) -> None:
    _, html = full_report
    srcs = re.findall(r"<img [^>]*src=\"([^\"]+)\"", html)
    assert len(srcs) == html.count("<img ") == 5  # loss, metrics, lr, grad norm, lr finder
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not URL_ATTR.search(html)
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_report_tells_the_story_of_the_run(full_report: tuple[Path, str]) -> None:
    run_dir, html = full_report
    assert "early stopping: val_accuracy did not improve for 5 evaluations" in html  # why it stopped
    assert "best val_accuracy" in html and f"at step {BEST_STEP}" in html
    assert "12.4 s" in html  # duration
    assert "AdamW from scratch on a small MLP" in html and "lr.adamw.scratch" in html  # the recommender's reason
    assert "overfitting" in html and "raise optimizer.weight_decay to 0.05" in html  # doctor finding and its fix
    assert esc(f"trainwell train {run_dir / 'config.yaml'}") in html  # reproduce command
    assert "2.13.0" in html  # environment
    for section in ("summary", "curves", "doctor", "config", "environment"):
        assert f'<section id="{section}">' in html


def test_every_piece_of_file_text_is_escaped(full_report: tuple[Path, str]) -> None:
    _, html = full_report
    assert "<b>grad clipped</b>" not in html and "&lt;b&gt;grad clipped&lt;/b&gt;" in html
    assert "<works>" not in html and "&lt;works&gt;" in html


def test_config_table_lists_key_fields_and_folds_the_rest(full_report: tuple[Path, str]) -> None:
    _, html = full_report
    main, _, folded = html.partition("<details>")
    assert ">optimizer.lr<" in main and ">evaluation.metric<" in main  # key field / changed from default
    assert ">lr_find.steps<" in folded  # default, not a key field
    assert "more settings at their defaults" in folded


def test_a_killed_run_still_gets_a_report_that_says_what_is_missing(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "killed", summary=False, extras=False)
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"event": "train", "step": 7')  # torn last line
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "the run did not finish" in html
    assert "1 malformed line skipped" in html
    assert f"at step {BEST_STEP}" in html  # best step derived from the log
    assert html.count("<img ") == 4  # no LR finder plot without lr_find.json


def test_a_folder_with_only_a_config_renders_with_notes(tmp_path: Path) -> None:
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("task: digits\n", encoding="utf-8")
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "Nothing to plot" in html and "metrics.jsonl is missing" in html


def test_findings_fall_back_to_running_the_doctor(tmp_path: Path) -> None:
    """No findings.json: the report runs trainwell.doctor on the folder, or says it could not."""
    run_dir = write_run(tmp_path / "nofindings", extras=False)
    (run_dir / "metrics.jsonl").unlink()  # nothing to plot keeps this test fast; the doctor still reads the folder
    html = render_run(load_run(run_dir))
    try:
        import trainwell.doctor  # noqa: F401
    except ImportError:
        assert "this trainwell has no doctor" in html
    else:
        assert "diagnosed by `trainwell doctor`" in html or "The doctor could not read this run" in html


def test_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        write_report(tmp_path / "nope")
    assert err.value.problems[0].rule == "run folder must exist"


def test_write_report_replaces_the_file_atomically(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("task: digits\n", encoding="utf-8")
    first = write_report(run_dir)
    (run_dir / "config.yaml").write_text("task: tabular\n", encoding="utf-8")
    second = write_report(run_dir)
    assert first == second == run_dir / "report.html"
    assert "tabular" in second.read_text(encoding="utf-8")
    assert not list(run_dir.glob(".*.tmp"))


def test_unreadable_json_files_become_notes_not_errors(run_dir: Path) -> None:
    (run_dir / "summary.json").write_text("{not json", encoding="utf-8")
    run = load_run(run_dir)
    assert any("summary.json could not be read" in n for n in run.notes)
    assert run.best_step == BEST_STEP  # from the log instead


def test_helpers() -> None:
    assert flatten({"a": {"b": 1, "c": {}}, "d": [1, 2]}) == [("a.b", 1), ("a.c", {}), ("d", [1, 2])]
    assert best_eval([{"step": 1, "m": 0.5}, {"step": 2, "m": float("nan")}, {"step": 3, "m": 0.7}], "m", "max") == {"step": 3, "m": 0.7}
    assert fmt(3e-05) == "3e-05" and fmt(None) == "null" and fmt(True) == "true" and fmt([0.9, 0.999]) == "[0.9, 0.999]"
    assert esc('"<x>"') == "&quot;&lt;x&gt;&quot;"


def test_reasons_json_may_be_wrapped(run_dir: Path) -> None:
    reasons = json.loads((run_dir / "reasons.json").read_text(encoding="utf-8"))
    (run_dir / "reasons.json").write_text(json.dumps({"reasons": reasons}), encoding="utf-8")
    assert "optimizer.lr" in load_run(run_dir).reasons
