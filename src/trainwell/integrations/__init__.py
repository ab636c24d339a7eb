"""trainwell inside the trainers people already use: Hugging Face ``Trainer`` (and TRL), Lightning, MLflow.

Each module is an optional extra and imports its framework itself (``trainwell.integrations.hf`` needs
``trainwell[hf]``, ``.lightning`` needs ``trainwell[lightning]``, ``.mlflow`` needs ``trainwell[mlflow]``);
without it the import raises MissingDependencyError with the install line. Nothing in trainwell's core
imports this package. ``recorder`` writes the run folder the framework callbacks share; ``snippets``
prints recommendations as ready-to-paste framework code and needs no framework at all.
"""
