"""A lesion of 1e10 imatinib-sensitive cells under a 4-on/2-off schedule, with resistance by mutation.

Run: python examples/engine_quickstart.py
"""

import numpy as np

from gistsim.biology.genotypes import default_registry
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.engine.step import advance

reg = default_registry()
n_geno = reg.n_genotypes
sensitive = reg.code("KIT_exon11")

# Two pieces per 6-week cycle: 4 weeks on drug (sensitive cells die), 2 weeks off.
birth = np.full((2, n_geno), 0.04)
death = np.full((2, n_geno), 0.035)
death[0, sensitive] = 0.04 + 0.03
rates = GenotypeRates(birth, death)
mutation = MutationModel.from_registry(reg, rate_per_bp_per_division=1e-9, escape_target_bp=2.0)

clones = CloneTable.from_arrays(lesion=[0], genotype=[sensitive], count=[10**10], n_genotypes=n_geno)
rng = np.random.default_rng(2026)
for cycle in range(1, 13):
    advance(clones, [28.0, 14.0], rates, mutation, rng=rng)
    resistant = clones.count[clones.genotype != sensitive].sum()
    print(f"cycle {cycle:2d}: {clones.count.sum():.3e} cells, {resistant} resistant, {len(clones)} clones")
