"""Hyperparameter search in guide 001's priority order, on Optuna.

``space`` turns a config into searchable parameters (ranges by optimizer family and mode, in priority
order, overridable through ``tune.space``, see ``overrides``); ``staged`` plans the priority-order search
as pure data; ``strategies`` (samplers), ``runner`` (pruners, workers) and ``storage`` hold the Optuna
glue; ``objective`` trains one trial with the engine; ``results`` picks finalists and writes the run
folder; ``api.tune`` runs a study from start to finish.

Importing this package does not import optuna or torch.
"""
