"""Run lint on one file: read it, detect its dialect, build the view, run every registered check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The dialect modules register themselves in DIALECTS when imported; detect() needs all of them.
from trainwell.advise.lint import readers_flat, readers_tree  # noqa: F401
from trainwell.advise.lint.checks import CHECKS
from trainwell.advise.lint.code_refs import code_findings
from trainwell.advise.lint.hydra_compose import compose_search_space
from trainwell.advise.lint.readers import DIALECTS, Dialect
from trainwell.advise.lint.view import ConfigView
from trainwell.config.io import read_mapping
from trainwell.errors import DataError
from trainwell.findings import Finding, Severity

_SHOWN_UNKNOWN = 12  # the message names this many unknown keys; the value holds them all


def detect(data: dict[str, Any]) -> Dialect:
    """The registered dialect with the highest score for this mapping (ties: the first name in sorted order)."""
    best: Dialect | None = None
    best_score = 0
    for _, dialect in DIALECTS.items():
        score = dialect.detect(data)
        if score > best_score:
            best, best_score = dialect, score
    assert best is not None  # "unknown" always scores 1
    return best


@dataclass
class LintReport:
    """The findings for one file, worst first, with the dialect lint read it as."""

    path: str
    dialect: str
    findings: list[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)

    @property
    def has_errors(self) -> bool:
        return self.count("error") > 0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "dialect": self.dialect, "findings": [f.to_dict() for f in self.findings]}


def build_view(data: dict[str, Any], path: str = "<config>") -> ConfigView:
    """Detect the dialect and read ``data`` into a ConfigView."""
    data = {str(k): v for k, v in data.items()}  # YAML allows `1: x`; every reader and message expects text keys
    dialect = detect(data)
    view = ConfigView(path=path, dialect=dialect.name, raw=data)
    dialect.read(view)
    return view


def _bookkeeping(view: ConfigView) -> list[Finding]:
    """Findings about the reading itself: keys lint could not interpret, and partial (Hydra) files."""
    out: list[Finding] = []
    if view.unknown:
        shown = ", ".join(view.unknown[:_SHOWN_UNKNOWN]) + (
            f", ... (+{len(view.unknown) - _SHOWN_UNKNOWN})" if len(view.unknown) > _SHOWN_UNKNOWN else ""
        )
        out.append(Finding(rule="unknown-keys", severity=Severity.INFO,
                           message=f"{len(view.unknown)} key(s) lint does not understand, so did not check: {shown}",
                           value=list(view.unknown), fix="nothing to do if they are right; check them for typos", source="trainwell lint"))  # fmt: skip
    if view.partial:
        out.append(Finding(rule="partial-config", severity=Severity.INFO,
                           message="one piece of a Hydra composition: only the values it sets were checked; "
                           "missing seed, warmup or checkpoint limits may be set in another file",
                           fix="lint the composed config (python train.py --cfg job > composed.yaml) for the full picture",
                           source="Hydra docs (--cfg job)"))  # fmt: skip
    return out


def lint_mapping(data: dict[str, Any], path: str = "<config>", file: Path | None = None) -> LintReport:
    """Lint an already-loaded mapping (tests and API users); ``file``, where the mapping was read from, lets a Hydra
    sweeper file's search space be judged with the optimizer its composition picks in another file."""
    view = build_view(data, path)
    composed = compose_search_space(view, file, build_view) if file is not None else []
    findings = list(view.notes)
    # trainwell's own validation already reported these places as errors; one message per problem is enough.
    validated = {f.where for f in view.notes if f.rule == "trainwell-config"}
    for _, entry in CHECKS.items():
        findings.extend(f for f in entry.run(view) if not (f.severity == "error" and f.where in validated))
    findings.extend(_bookkeeping(view))
    if composed:
        findings.append(Finding(rule="hydra-composition", severity=Severity.INFO,
                                message="the sweeper's search space was judged with facts from other files of its composition: "
                                + "; ".join(composed), fix="nothing to do; lint the composed config (--cfg job) to check all of it",
                                source="Hydra docs (defaults list, config groups)"))  # fmt: skip
    findings.extend(code_findings(data, view.dialect))
    findings.sort(key=lambda f: (-f.severity.rank, f.rule, f.where))
    return LintReport(path, view.dialect, findings)


def lint_file(path: str | Path) -> LintReport:
    """Lint one config file; raises DataError when the file cannot be read."""
    return lint_mapping(read_mapping(path, DataError), str(path), Path(path))


# Findings the readers and the runner produce themselves (not registered checks), for the docs table.
READER_RULES: tuple[tuple[str, str, str, str], ...] = (
    (
        "trainwell-config",
        "error",
        "a trainwell config breaks its schema or a cross-field rule (validated first)",
        "trainwell config schema",
    ),
    ("unknown-keys", "info", "keys lint does not understand, listed so nothing is silently dropped", "trainwell lint"),
    ("unknown-dialect", "info", "the file's format is not one lint reads; nothing was checked", "trainwell lint"),
    ("partial-config", "info", "one piece of a Hydra composition: absent values may be set elsewhere", "Hydra docs (--cfg job)"),
    (
        "hydra-composition",
        "info",
        "a sweeper's search space judged with the optimizer another file of its composition picks (named in the message)",
        "Hydra docs (defaults list, config groups)",
    ),
    (
        "code-reference",
        "warning",
        "the config names code the tool imports and runs (task, _target_, _component_, class_path); info, or a warning for system modules",
        "trainwell lint",
    ),
    ("lightning-1x-keys", "info", "Trainer arguments Lightning 2.x removed (gpus, amp_backend, ...)", "Lightning 2.0 release notes"),
)


def rule_table() -> str:
    """The Markdown table of every rule lint can report; docs/lint.md embeds it (a test keeps them in sync)."""
    rows = [(c.id, c.severity, c.summary, c.source) for _, c in CHECKS.items()] + list(READER_RULES)
    lines = ["| rule | severity | what it means | source |", "|---|---|---|---|"]
    lines += [f"| `{rid}` | {sev} | {summary} | {source} |" for rid, sev, summary, source in rows]
    return "\n".join(lines)
