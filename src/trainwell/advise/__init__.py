"""Advice as data: the guides' rules (``rules``), the recommender (``recommender``) and lint.

Nothing here imports torch; import the submodules you need (``from trainwell.advise.recommender import
recommend, Profile``).

The rule tables register themselves in ``rules.RULES`` when imported; they are imported here, in the order
of their stages, so that every module of this package sees the whole registry. They import ``rules``; it
imports none of them (no import cycle).
"""

from trainwell.advise import _rules_epochs, _rules_optim, _rules_batch, _rules_schedule, _rules_run  # noqa: I001  (stage order)
from trainwell.advise import _rules_sft  # last: it places its rules ahead of the general ones they refine

__all__ = ["_rules_batch", "_rules_epochs", "_rules_optim", "_rules_run", "_rules_schedule", "_rules_sft"]
