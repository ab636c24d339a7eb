"""Hyperparameter search in guide 001's priority order, on Optuna.

``space`` turns a config into searchable parameters (ranges by optimizer family and mode, in priority
order, overridable through ``tune.space``); ``staged`` plans the priority-order search as pure data;
``study`` holds the Optuna glue (storage, samplers, pruners, workers); ``objective`` trains one trial
with the engine; ``results`` picks finalists and writes the run folder.

Importing this package does not import optuna or torch.
"""
