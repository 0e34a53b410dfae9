"""Where birth and death rates come from, and the mutation model.

The engine asks a *rate model* for the birth and death rates (per day) of any (group, genotype)
pair over the pieces of a step. A group is whatever shares an environment: usually one patient,
whose drug exposure applies to all its lesions. The clinic layer supplies a rate model that turns
exposure and potency into death rates; the simple tables here serve tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from gistsim.biology.genotypes import GenotypeRegistry
from gistsim.engine import _kernels
from gistsim.errors import check_nonnegative


class RateModel(Protocol):
    """Birth and death rates per day for (group, genotype) pairs over the pieces of one step."""

    def rates(
        self, group: np.ndarray, genotype: np.ndarray, lesion: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(birth, death)``, each of shape ``(n_pieces, len(group))``, per day.

        ``lesion``: each clone's lesion id, for models whose rates differ between the lesions of a
        group (the engine passes it unless the model has ``uses_lesion = False``)."""
        ...


@dataclass
class GenotypeRates:
    """Rates that depend on the genotype only: ``birth_per_day[piece, genotype]``."""

    birth_per_day: np.ndarray
    """Shape (n_pieces, n_genotypes)."""
    death_per_day: np.ndarray
    """Shape (n_pieces, n_genotypes)."""

    def __post_init__(self) -> None:
        # Float64 and contiguous: the compiled gather is built for that layout.
        self.birth_per_day = np.ascontiguousarray(np.atleast_2d(check_nonnegative("birth_per_day", self.birth_per_day)), dtype=float)
        self.death_per_day = np.ascontiguousarray(np.atleast_2d(check_nonnegative("death_per_day", self.death_per_day)), dtype=float)
        if self.birth_per_day.shape != self.death_per_day.shape:
            raise ValueError(
                f"birth_per_day has shape {self.birth_per_day.shape} but death_per_day has "
                f"{self.death_per_day.shape}; they must match (n_pieces, n_genotypes)"
            )

    #: Rates depend on the genotype only: the engine need not gather lesions for them.
    uses_lesion = False

    def rates(
        self, group: np.ndarray, genotype: np.ndarray, lesion: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        genotype = np.asarray(genotype)
        if genotype.dtype.kind not in "iu":
            raise ValueError(f"genotype codes must be integers; got dtype {genotype.dtype}")
        return _kernels.genotype_rates(self.birth_per_day, self.death_per_day, genotype.ravel())


@dataclass(frozen=True)
class MutationModel:
    """Secondary mutations: which genotype each mutation leads to, and how often it happens."""

    mutant_of: np.ndarray
    """``mutant_of[genotype, k]``: genotype after acquiring mutation k, or -1 where impossible."""
    rate_per_division: np.ndarray
    """Probability per cell division of acquiring mutation k (per-bp rate × target size)."""

    @classmethod
    def from_registry(
        cls, registry: GenotypeRegistry, rate_per_bp_per_division: float, *, escape_target_bp: float | None = None
    ) -> MutationModel:
        """Rates ``u_k = μ × target_size_k`` for the registry's secondary mutations; groups whose
        target is a parameter (KIT-independent resistance) take ``escape_target_bp``."""
        mu = float(check_nonnegative("rate_per_bp_per_division", rate_per_bp_per_division))
        sizes = registry.target_size_bp
        missing = np.isnan(sizes)
        if missing.any():
            if escape_target_bp is None:
                names = [s.name for s, m in zip(registry.secondary, missing) if m]
                raise ValueError(
                    f"escape_target_bp is None but the targets of {', '.join(names)} are parameters: "
                    "pass escape_target_bp (evolution.yaml), e.g. via EvolutionParameters.mutation_model"
                )
            sizes = np.where(missing, float(check_nonnegative("escape_target_bp", escape_target_bp)), sizes)
        return cls(registry.mutant_of, mu * sizes)

    @classmethod
    def none(cls, n_genotypes: int) -> MutationModel:
        """No mutation at all."""
        return cls(np.full((n_genotypes, 1), -1, dtype=np.int32), np.zeros(1))

    @cached_property
    def allowed_rate(self) -> np.ndarray:
        """``allowed_rate[g, k]``: u_k where mutation k is possible from g, else 0."""
        return np.where(self.mutant_of >= 0, self.rate_per_division[None, :], 0.0)

    @cached_property
    def total_rate(self) -> np.ndarray:
        """Total mutation probability per division from each genotype."""
        return self.allowed_rate.sum(axis=1)
