"""Access to the data files shipped inside the package."""

from __future__ import annotations

from importlib import resources

import yaml


def load_yaml(name: str) -> dict:
    """Parse ``gistsim/data/<name>``."""
    text = resources.files("gistsim.data").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)
