"""gistsim: in-silico trials and patient twins for gastrointestinal stromal tumour (GIST).

Research use only; never a substitute for clinical judgement.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gistsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
