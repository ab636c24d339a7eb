"""The name fields are checked by the layers that own the registries (config.rules.NAME_CHECKS), and the
checks are in place in a fresh process that imports nothing but the config layer."""

from __future__ import annotations

import subprocess
import sys

from trainwell.config.rules import NAME_CHECKS


def test_optim_and_tasks_register_a_check_for_each_name_field() -> None:
    assert NAME_CHECKS.names() == ["loss.name", "optimizer.name", "schedule.name", "task"]


def test_a_fresh_process_that_imports_only_config_still_checks_names() -> None:
    code = (
        "import sys\n"
        "from trainwell.config import load_config\n"
        "from trainwell.errors import ConfigError\n"
        "try:\n"
        "    load_config({'schedule': {'name': 'cosin'}, 'task': 'pkg.mod:fn', 'loss': {'name': 'focal'}})\n"
        "except ConfigError as e:\n"
        "    print(sorted(p.where for p in e.problems), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "['schedule.name'] False"  # a user task is checked when built; no torch for a check
