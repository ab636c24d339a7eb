"""Finders: the LR range test with its suggestion rules, and the batch-size finder.

Importing this package does not import torch; ``lr_finder`` and ``batch_finder`` do when they run.
"""
