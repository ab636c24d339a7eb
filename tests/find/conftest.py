from __future__ import annotations

import sys
from pathlib import Path

# The shared synthetic curves live beside the tests (tests/ has no __init__.py).
sys.path.insert(0, str(Path(__file__).parent))
