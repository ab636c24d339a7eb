"""No log crashes the doctor: arbitrary series (empty, one point, constant, negative, NaN/Inf,
unsorted duplicate steps) must give a Diagnosis, never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trainwell.doctor import History, Series, diagnose

values = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.just(0.0)), max_size=40)
steps = st.lists(st.integers(min_value=0, max_value=60), max_size=40)


def _series(xs: list[int], ys: list[float]) -> Series:
    n = min(len(xs), len(ys))
    return Series([float(x) for x in xs[:n]], ys[:n])


@settings(max_examples=40, deadline=None)
@given(steps, values, steps, values, values, st.sampled_from(["step", "epoch"]), st.one_of(st.none(), st.integers(1, 20)))
def test_any_history_diagnoses(
    ts: list[int], tv: list[float], es: list[int], ev: list[float], lr: list[float], unit: str, k: int | None
) -> None:
    h = History(source="fuzz", x_unit=unit)
    h.train_loss = _series(ts, tv)
    h.eval["val_loss"] = _series(es, ev)
    h.eval["val_accuracy"] = _series(es, [abs(v) % 1 if v == v else v for v in ev])
    h.lr = _series(ts, lr)
    h.hints.num_classes = k
    result = diagnose(h.finish())
    assert isinstance(result.to_dict()["findings"], list)
