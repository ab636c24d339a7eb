"""Named, commented YAML presets from the guides; see ``catalog.RECIPES`` and ``trainwell recipes ls``."""
