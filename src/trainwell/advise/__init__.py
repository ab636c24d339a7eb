"""Advice as data: the guides' rules (``rules``), the recommender (``recommender``) and lint.

Nothing here imports torch; import the submodules you need (``from trainwell.advise.recommender import
recommend, Profile``).
"""
