"""Optimizers, parameter groups, LR schedules (pure multipliers), losses and the LR scaling rule."""
