"""Statistical verification of the engine (in the spirit of msprime's ``verification.py``).

Each check is a function ``check_xxx(level, seed) -> Verdict`` comparing the engine with closed
forms (:mod:`gistsim.verification.exact`) or with the slow exact reference
(:mod:`gistsim.engine.reference`). Level ``"quick"`` runs in ``make test`` (all checks within
about a minute and a half on one core), ``"full"`` in ``make verify`` (about 15 minutes).
Every check is a hypothesis test at α = 0.01 (Bonferroni over its sub-tests), with fixed seeds
and tolerances taken from sampling variances only.

Run ``python -m gistsim.verification --level quick|full [--only NAME]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gistsim.verification.checks_birth_death import (
    check_distribution,
    check_extinction,
    check_moments,
    check_piecewise,
)
from gistsim.verification.checks_mutation import check_luria_delbruck, check_treatment_mutants
from gistsim.verification.checks_normal import check_normal_limit
from gistsim.verification.verdict import ALPHA, SubTest, Verdict

#: Default seed of every check.
DEFAULT_SEED = 20240611

#: All checks, in the order they run.
CHECKS: dict[str, Callable[[str, int], Verdict]] = {
    "moments": check_moments,
    "extinction": check_extinction,
    "distribution": check_distribution,
    "piecewise": check_piecewise,
    "luria_delbruck": check_luria_delbruck,
    "treatment_mutants": check_treatment_mutants,
    "normal_limit": check_normal_limit,
}


def run_check(name: str, level: str, seed: int = DEFAULT_SEED) -> Verdict:
    """Run one check and record its wall time."""
    if name not in CHECKS:
        raise ValueError(f"check {name!r} is not known; accepted values: {', '.join(CHECKS)}")
    start = time.perf_counter()
    verdict = CHECKS[name](level, seed)
    verdict.runtime_s = time.perf_counter() - start
    return verdict


__all__ = ["ALPHA", "CHECKS", "DEFAULT_SEED", "SubTest", "Verdict", "run_check"]
