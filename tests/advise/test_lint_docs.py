"""docs/lint.md embeds the rule table generated from the registry; this keeps them in sync."""

from __future__ import annotations

from pathlib import Path

from trainwell.advise.lint import CHECKS, lint_mapping
from trainwell.advise.lint.runner import READER_RULES, rule_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "lint.md"


def test_docs_rule_table_matches_registry() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("-->", text.index("<!-- rule-table:start")) + len("-->")
    end = text.index("<!-- rule-table:end -->")
    assert text[start:end].strip() == rule_table(), "regenerate the table with trainwell.advise.lint.runner.rule_table()"


def test_table_lists_every_rule_once() -> None:
    table = rule_table()
    for rid in [*CHECKS.names(), *(r[0] for r in READER_RULES)]:
        assert table.count(f"| `{rid}` |") == 1


def test_reader_findings_are_documented() -> None:
    documented = {r[0] for r in READER_RULES} | set(CHECKS.names())
    samples = [
        {"foo": 1},
        {"defaults": [], "trainer": {"gpus": 1}},
        {"task": "digits", "optimzer": {}},
        {"seed_everything": 1, "trainer": {"gpus": 1}, "model": {}},
    ]
    for data in samples:
        assert {f.rule for f in lint_mapping(data).findings} <= documented
