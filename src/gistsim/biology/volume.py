"""Cells ↔ volume ↔ diameter, for a lesion taken as a sphere.

The cell density is a parameter (``cells_per_cm3``; prior in ``data/evolution.yaml``): 1e9 cells
per cm³ is the conventional figure, ~1e8 the more realistic one (Del Monte, Cell Cycle 2009;8:505).
"""

from __future__ import annotations

import numpy as np

from gistsim.errors import check_nonnegative

_MM3_PER_CM3 = 1000.0


def cells_to_volume_cm3(cells: np.ndarray | float, cells_per_cm3: float) -> np.ndarray:
    """Volume occupied by ``cells`` at the given density."""
    density = check_nonnegative("cells_per_cm3", cells_per_cm3, strictly_positive=True)
    return check_nonnegative("cells", cells) / density


def volume_cm3_to_cells(volume_cm3: np.ndarray | float, cells_per_cm3: float) -> np.ndarray:
    """Cells in a volume at the given density (float; round where a count is needed)."""
    density = check_nonnegative("cells_per_cm3", cells_per_cm3, strictly_positive=True)
    return check_nonnegative("volume_cm3", volume_cm3) * density


def volume_cm3_to_diameter_mm(volume_cm3: np.ndarray | float) -> np.ndarray:
    """Diameter of a sphere of that volume: d = (6V/π)^(1/3)."""
    v_mm3 = check_nonnegative("volume_cm3", volume_cm3) * _MM3_PER_CM3
    return np.cbrt(6.0 * v_mm3 / np.pi)


def diameter_mm_to_volume_cm3(diameter_mm: np.ndarray | float) -> np.ndarray:
    """Volume of a sphere of that diameter: V = π d³ / 6."""
    d = check_nonnegative("diameter_mm", diameter_mm)
    return np.pi * d**3 / 6.0 / _MM3_PER_CM3


def cells_to_diameter_mm(cells: np.ndarray | float, cells_per_cm3: float) -> np.ndarray:
    """Diameter of a spherical lesion holding ``cells``."""
    return volume_cm3_to_diameter_mm(cells_to_volume_cm3(cells, cells_per_cm3))


def diameter_mm_to_cells(diameter_mm: np.ndarray | float, cells_per_cm3: float) -> np.ndarray:
    """Cells in a spherical lesion of that diameter."""
    return volume_cm3_to_cells(diameter_mm_to_volume_cm3(diameter_mm), cells_per_cm3)
