"""Lint training configs from trainwell and other tools (HF/TRL, LLaMA-Factory, axolotl, torchtune,
LightningCLI, Hydra): each file becomes one neutral view, and registered checks return findings with
a rule id, severity, message, value, fix and source. Nothing here imports torch.
"""

from trainwell.advise.lint.checks import CHECKS, LintCheck
from trainwell.advise.lint.readers import DIALECTS
from trainwell.advise.lint.runner import LintReport, build_view, lint_file, lint_mapping
from trainwell.advise.lint.view import ConfigView
from trainwell.findings import Finding

__all__ = ["CHECKS", "DIALECTS", "ConfigView", "Finding", "LintCheck", "LintReport", "build_view", "lint_file", "lint_mapping"]
