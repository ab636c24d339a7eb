"""The LR range lint compares against: the guides' band for the config's optimizer, training mode and
effective batch (trainwell.advise.lr_bands, shared with the recommender)."""

from __future__ import annotations

from trainwell.advise.lint.view import ConfigView
from trainwell.advise.lr_bands import Band, band


def lr_range(view: ConfigView) -> Band | None:
    """The band for a linted config (its optimizer, stage, training mode and effective batch)."""
    batch = (view.batch_size or 0) * (view.accumulation or 1) or None
    return band(view.optimizer_family, stage=view.stage, training_mode=view.training_mode, pretrained=view.pretrained, batch=batch)
