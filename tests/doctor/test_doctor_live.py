"""LiveDoctor as the engine sees it: fed records one by one, it warns once per finding, hands findings
out as data, writes findings.json content and stops on divergence only when asked."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import pytest

from trainwell.config import load_config
from trainwell.doctor.live import DoctorWarning, LiveDoctor
from trainwell.engine.callbacks import Callback


def _doctor(stop: bool) -> LiveDoctor:
    config = load_config({"doctor": {"stop_on_divergence": stop}, "optimizer": {"lr": 0.1}})
    doctor = LiveDoctor(config, every=5)
    doctor.on_train_start(SimpleNamespace(total_steps=400, steps_per_epoch=40, history=[]))
    return doctor


def _feed(doctor: LiveDoctor, losses: list[float], start: int = 1) -> list[str | None]:
    reasons = []
    for i, loss in enumerate(losses, start=start):
        record = {
            "event": "train",
            "step": i * 5,
            "epoch": i * 5 / 40,
            "lr": 0.1,
            "loss": loss,
            "grad_norm": 1.0,
            "samples": 0,
            "time": 0.0,
        }
        reasons.append(doctor.on_log(SimpleNamespace(step=i * 5), record))
    return reasons


DIVERGING = [2.3 - 0.05 * i for i in range(20)] + [1.3 + 0.4 * i for i in range(1, 21)]


def test_is_an_engine_callback() -> None:
    assert isinstance(_doctor(False), Callback)


def test_warns_once_and_hands_findings_out_as_data() -> None:
    doctor = _doctor(stop=False)
    with pytest.warns(DoctorWarning, match="divergence") as caught:
        reasons = _feed(doctor, DIVERGING)
    assert not any(reasons)  # stop_on_divergence is off
    codes = [f.rule for f in doctor.findings]
    assert codes.count("divergence") == 1 and sum("divergence" in str(w.message) for w in caught) == 1
    assert [f.rule for f in doctor.new_findings()] == codes and doctor.new_findings() == []
    assert any(f["rule"] == "divergence" and f["fix"] == "optimizer.lr: 0.1 → 0.01" for f in doctor.findings_json())


def test_stops_on_divergence_when_asked() -> None:
    doctor = _doctor(stop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DoctorWarning)
        reasons = _feed(doctor, DIVERGING)
    first = next(i for i, r in enumerate(reasons) if r)
    assert reasons[first] is not None and reasons[first].startswith("doctor: divergence:")
    assert first < len(DIVERGING) - 1  # it stopped before the end of the run


def test_nan_train_loss_stops_but_nan_eval_does_not() -> None:
    doctor = _doctor(stop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DoctorWarning)
        _feed(doctor, [2.3, 2.2, 2.1, 2.0])
        assert doctor.on_evaluate(SimpleNamespace(step=20), {"val_loss": math.nan, "val_accuracy": 0.1}) is None
        reasons = _feed(doctor, [2.0, math.nan, 2.0, 2.0, 2.0, 2.0], start=5)
    assert any(r and r.startswith("doctor: nan_inf") for r in reasons)


def test_healthy_run_stays_quiet() -> None:
    doctor = _doctor(stop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DoctorWarning)
        reasons = _feed(doctor, [2.3 * math.exp(-i / 15) + 0.1 for i in range(40)])
        for step, val in ((40, 1.5), (80, 1.0), (120, 0.7), (160, 0.5)):
            reasons.append(doctor.on_evaluate(SimpleNamespace(step=step), {"val_loss": val, "val_accuracy": 0.5}))
    assert not any(reasons) and doctor.findings == []
