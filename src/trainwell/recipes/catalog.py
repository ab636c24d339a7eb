"""Recipes: the guides' named configurations as commented YAML files beside this module.

Each ``NAME.yaml`` starts with a one-line summary comment (the help shown by ``trainwell recipes ls``);
every value carries a ``# why — source`` comment. ``recipe_dict(name)`` is the base layer that
``trainwell.config.load_config(base=recipe_dict(NAME))`` puts under a config file and overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainwell.registry import Registry

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RecipeInfo:
    name: str
    path: Path
    help: str

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def _summary(path: Path) -> str:
    """The first comment line: '# <summary>'."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


RECIPES: Registry[RecipeInfo] = Registry("recipe")
for _path in sorted(RECIPE_DIR.glob("*.yaml")):
    _info = RecipeInfo(_path.stem, _path, _summary(_path))
    RECIPES.register(_info.name, _info, _info.help)


def recipe_dict(name: str) -> dict[str, Any]:
    """The recipe's values as a plain dict (unknown names raise a RegistryError with did-you-mean)."""
    from trainwell.config.io import read_mapping

    return read_mapping(RECIPES.get(name, "recipe").path)
