"""Genotypes: a primary driver plus up to ``max_secondary`` secondary KIT mutations.

Every genotype has an integer code, so the engine can hold genotypes in arrays. The registry is
read from ``data/genotypes.yaml``; the codes are assigned in a fixed order (driver by driver, then
by the secondary mutations carried), so a code means the same genotype in every run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from gistsim._data import load_yaml
from gistsim.errors import check_choice


@dataclass(frozen=True)
class Driver:
    """A primary driver mutation carried by every cell of a tumour."""

    name: str
    """Identifier used in files and the API, e.g. ``"KIT_exon11"``."""
    gene: str
    """``"KIT"``, ``"PDGFRA"`` or ``"none"``."""
    label: str
    """Human-readable name for reports."""
    frequency_percent: float
    """Share among unselected primary GIST (model_parameters.md §1a)."""
    acquires_secondary_kit: bool
    """Whether secondary KIT mutations can arise (only in KIT-mutant tumours)."""


@dataclass(frozen=True)
class SecondaryMutation:
    """A group of secondary changes with the same resistance profile (KIT mutations, or a bypass)."""

    name: str
    """Identifier, e.g. ``"D816"``."""
    exon: int | None
    """KIT exon (``None`` for a change outside KIT)."""
    region: str
    """``"ATP_pocket"``, ``"activation_loop"`` or ``"bypass"`` (KIT-independent)."""
    substitutions: tuple[str, ...]
    """The single-nucleotide substitutions grouped here (empty for a bypass)."""
    target_size: int | None
    """Number of distinct substitutions that produce it: the mutational target in base pairs;
    ``None`` where it is an uncertain parameter (``evolution.escape_target_bp``)."""
    kit: bool = True
    """A secondary KIT mutation (arises only in KIT-mutant tumours, counted as such at
    progression); ``False`` for KIT-independent resistance, which any tumour can acquire."""


@dataclass(frozen=True)
class GenotypeRegistry:
    """All genotypes the model can form, with integer codes and mutation targets."""

    drivers: tuple[Driver, ...]
    """Primary drivers, in file order."""
    secondary: tuple[SecondaryMutation, ...]
    """Secondary mutation groups, in file order."""
    max_secondary: int
    """Most secondary mutations one clone may carry."""
    driver_of: np.ndarray = field(repr=False)
    """``driver_of[code]``: index into :attr:`drivers`."""
    secondary_mask: np.ndarray = field(repr=False)
    """``secondary_mask[code]``: bit ``k`` set when the genotype carries ``secondary[k]``."""
    mutant_of: np.ndarray = field(repr=False)
    """``mutant_of[code, k]``: code after acquiring ``secondary[k]``, or -1 if that cannot happen."""

    @property
    def n_genotypes(self) -> int:
        return len(self.driver_of)

    @property
    def target_size_bp(self) -> np.ndarray:
        """Mutational target of each secondary group, in base pairs, as floats (NaN: a parameter)."""
        return np.array([np.nan if s.target_size is None else s.target_size for s in self.secondary], dtype=float)

    @property
    def kit_bits(self) -> int:
        """Mask of the secondary groups that are KIT mutations."""
        return sum(1 << k for k, s in enumerate(self.secondary) if s.kit)

    @property
    def kit_secondary_mask(self) -> np.ndarray:
        """``secondary_mask`` restricted to secondary KIT mutations (what sequencing reports)."""
        return self.secondary_mask & self.kit_bits

    @property
    def bypass_carrier(self) -> np.ndarray:
        """Per genotype code: whether it carries KIT-independent resistance."""
        return (self.secondary_mask & ~np.int16(self.kit_bits)) != 0

    def code(self, driver: str, secondary: tuple[str, ...] | list[str] = ()) -> int:
        """Integer code of a genotype given by names.

        >>> reg = default_registry()
        >>> reg.name(reg.code("KIT_exon11", ["V654A"]))
        'KIT_exon11+V654A'
        """
        names = [d.name for d in self.drivers]
        check_choice("driver", driver, names)
        d = names.index(driver)
        sec_names = [s.name for s in self.secondary]
        mask = 0
        for s in secondary:
            check_choice("secondary mutation", s, sec_names)
            mask |= 1 << sec_names.index(s)
        hits = np.flatnonzero((self.driver_of == d) & (self.secondary_mask == mask))
        if len(hits) == 0:
            raise ValueError(
                f"genotype {driver}+{'+'.join(secondary)} cannot be formed: driver {driver!r} "
                f"{'acquires no secondary KIT mutations' if not self.drivers[d].acquires_secondary_kit else ''}"
                f"{' and ' if not self.drivers[d].acquires_secondary_kit else ''}at most "
                f"{self.max_secondary} secondary mutations are allowed"
            )
        return int(hits[0])

    def name(self, code: int) -> str:
        """Readable name of a genotype code, e.g. ``'KIT_exon11+V654A+D816'``."""
        if not 0 <= code < self.n_genotypes:
            raise ValueError(f"genotype code {code} is out of range: accepted 0..{self.n_genotypes - 1}")
        parts = [self.drivers[self.driver_of[code]].name]
        mask = int(self.secondary_mask[code])
        parts += [s.name for k, s in enumerate(self.secondary) if mask >> k & 1]
        return "+".join(parts)

    def n_secondary(self, codes: np.ndarray) -> np.ndarray:
        """Number of secondary mutations carried by each genotype code."""
        masks = self.secondary_mask[np.asarray(codes)]
        return np.array([bin(int(m)).count("1") for m in np.ravel(masks)]).reshape(np.shape(masks))


def build_registry(raw: dict) -> GenotypeRegistry:
    """Build the registry from the parsed YAML document."""
    drivers = tuple(Driver(**d) for d in raw["drivers"])
    secondary = tuple(
        SecondaryMutation(**{**s, "substitutions": tuple(s["substitutions"])}) for s in raw["secondary"]
    )
    max_sec = int(raw["max_secondary"])
    n_sec = len(secondary)
    if n_sec > 15:
        raise ValueError(f"at most 15 secondary mutation groups fit the int16 mask; got {n_sec}")
    driver_of: list[int] = []
    masks: list[int] = []
    for d, drv in enumerate(drivers):
        # Secondary KIT mutations only in KIT-mutant tumours; KIT-independent changes in any.
        groups = [k for k, s in enumerate(secondary) if drv.acquires_secondary_kit or not s.kit]
        for n in range(min(max_sec, len(groups)) + 1):
            for combo in itertools.combinations(groups, n):
                driver_of.append(d)
                masks.append(sum(1 << k for k in combo))
    driver_arr = np.array(driver_of, dtype=np.int16)
    mask_arr = np.array(masks, dtype=np.int16)
    lookup = {(int(d), int(m)): c for c, (d, m) in enumerate(zip(driver_arr, mask_arr))}
    mutant_of = np.full((len(driver_arr), n_sec), -1, dtype=np.int32)
    for c, (d, m) in enumerate(zip(driver_arr, mask_arr)):
        for k in range(n_sec):
            if not m >> k & 1:
                mutant_of[c, k] = lookup.get((int(d), int(m) | 1 << k), -1)
    return GenotypeRegistry(drivers, secondary, max_sec, driver_arr, mask_arr, mutant_of)


@lru_cache(maxsize=1)
def default_registry() -> GenotypeRegistry:
    """The registry shipped in ``gistsim/data/genotypes.yaml``."""
    return build_registry(load_yaml("genotypes.yaml"))
