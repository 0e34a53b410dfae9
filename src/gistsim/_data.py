"""Access to the data files shipped inside the package."""

from __future__ import annotations

from importlib import resources

import yaml

# libyaml's parser when PyYAML was built with it: the same safe constructors and resolver, parsed
# about ten times faster (the package's data files: 0.22 s -> 0.02 s), which every worker process
# pays once. User files keep ``yaml.safe_load``: they are read once and its error messages are the
# ones the validation tests pin.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(name: str) -> dict:
    """Parse ``gistsim/data/<name>``."""
    text = resources.files("gistsim.data").joinpath(name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_LOADER)
