"""The training engine: loop, precision strategies, checkpoints, exact resume, callbacks, run folder.

Importing this package does not import torch; its modules do, when they are used.
"""
