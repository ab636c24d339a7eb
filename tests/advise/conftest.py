"""Shared fixtures for the recommender's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def prior_law(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LR law with the guides' prior constants instead of the corpus fit: the tests of the law's form and
    of the documented conflicts' resolutions at the guides' own anchors use it."""
    from trainwell.advise import lr_law

    prior = lr_law.prior_table()
    monkeypatch.setattr(lr_law, "_shipped", lambda: prior)
