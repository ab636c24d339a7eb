"""One Finding type for the doctor and lint: one severity scale, one set of JSON keys, old files still read."""

from __future__ import annotations

import json
import math

import pytest

from trainwell.advise.lint import lint_mapping
from trainwell.doctor import Finding as DoctorFinding
from trainwell.findings import Finding, Point, Severity, normalise
from trainwell.report.rundata import diagnosis

KEYS = {"rule", "severity", "message", "where", "value", "step", "evidence", "fix", "source"}


def test_doctor_and_lint_return_the_same_type_with_the_same_keys() -> None:
    report = lint_mapping({"learning_rate": 5e-5, "warmup_steps": 200, "max_steps": 100, "output_dir": "x"})
    assert report.findings and all(type(f) is Finding for f in report.findings)
    assert DoctorFinding is Finding
    assert all(set(f.to_dict()) == KEYS for f in report.findings)


def test_severity_is_one_ordered_scale_that_reads_as_its_name() -> None:
    assert Severity.INFO < Severity.WARNING < Severity.ERROR
    assert sorted([Severity.ERROR, Severity.INFO, Severity.WARNING]) == [Severity.INFO, Severity.WARNING, Severity.ERROR]
    assert Severity.ERROR == "error" and json.dumps(Severity.WARNING) == '"warning"' and f"{Severity.INFO}" == "info"
    assert Severity.WARNING >= "warning" and not Severity.INFO >= "warning"
    with pytest.raises(ValueError):
        Severity.parse("fatal")


def test_a_finding_round_trips_through_json_with_nan_evidence() -> None:
    found = Finding(
        rule="nan_inf", severity="error", message="m", fix="f", source="s", step=3.0, evidence=(Point("train_loss", 3.0, math.nan, "nan"),)
    )
    assert found.severity is Severity.ERROR  # a plain name is parsed into the enum
    data = json.loads(json.dumps(found.to_dict()))
    assert data["evidence"][0]["value"] == "nan"  # strict JSON
    back = Finding.from_dict(data)
    assert back.rule == "nan_inf" and back.severity is Severity.ERROR and math.isnan(back.evidence[0].value)


def test_findings_written_before_the_shared_type_are_read_with_todays_keys() -> None:
    old = {"code": "divergence", "severity": "critical", "message": "m", "step": 5, "evidence": [], "fix": "f", "source": "s"}
    assert normalise(old) == {**dict.fromkeys(KEYS, ""), "rule": "divergence", "severity": "error", "message": "m", "step": 5,
                              "evidence": [], "fix": "f", "source": "s", "value": None}  # fmt: skip
    read = diagnosis([old])
    assert read is not None and read["findings"][0]["rule"] == "divergence" and read["findings"][0]["severity"] == "error"
