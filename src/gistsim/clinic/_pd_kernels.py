"""Each clone's birth and death rates per piece (:meth:`gistsim.clinic.pd.DrugRates.rates`) in one
compiled pass.

``rates`` is asked for every clone table, every mutant pair and every seeding of every step (about
2,200 calls per 1,000-patient block); the numpy version makes a dozen (pieces × clones) temporaries
per call. The formulas and the order of the floating-point operations are the numpy version's
(kept as :meth:`~gistsim.clinic.pd.DrugRates.kill_per_day` and tested against this one), so the
numbers are the same to the bit. Optional factors come as empty arrays, not ``None``, so one
compiled signature serves every combination.
"""

from __future__ import annotations

import numpy as np

from gistsim.engine._kernels import _jit


@_jit
def clone_rates(group, genotype, lesion, birth_g, death_g, growth, escape, escape_geno, secondary, secondary_geno,
                scale, lesion_scale, conc_h, ec50_h, drug_of_group, emax, kill_f, host, host_f, host_cap, n_pieces):  # fmt: skip
    """(birth, death), each (n_pieces, clones): untreated rates per genotype, their net growth times
    the group's growth, escape and (lesion's) secondary factors, both times the group's and lesion's
    scale; the death plus the drug's kill E_max·Cʰ/(Cʰ + EC50ʰ) (``conc_h`` (pieces, groups) and
    ``ec50_h`` (drugs, genotypes) already raised to h; times the group's factor) and the host's kill
    (``host`` (pieces, groups), times the group's factor, capped).

    An optional factor not in use is an empty array: with any clone to compute, one in use has an
    entry per group (or lesion, or piece and group), so emptiness says which are in use.
    """
    n = len(genotype)
    birth = np.empty((n_pieces, n))
    death = np.empty((n_pieces, n))
    treated = len(conc_h) > 0
    for i in range(n):
        g, gt = group[i], genotype[i]
        b, d = birth_g[gt], death_g[gt]
        f, has_f = 1.0, False
        if len(growth):
            f, has_f = growth[g], True
        if len(escape):
            e = escape[g] if escape_geno[gt] else 1.0
            f, has_f = (f * e if has_f else e), True
        if len(secondary):
            e = secondary[lesion[i]] if secondary_geno[gt] else 1.0
            f, has_f = (f * e if has_f else e), True
        if has_f:
            b = max(d + (b - d) * f, 0.0)
        s, has_s = 1.0, False
        if len(scale):
            s, has_s = scale[g], True
        if len(lesion_scale):
            e = lesion_scale[lesion[i]]
            s, has_s = (s * e if has_s else e), True
        if has_s:
            b = b * s
            d = d * s
        eh = ec50_h[drug_of_group[g], gt] if treated else 0.0
        for k in range(n_pieces):
            birth[k, i] = b
            kill = 0.0
            if treated:
                ch = conc_h[k, g]
                kill = emax * ch / (ch + eh)
                if len(kill_f):
                    kill = kill * kill_f[g]
                if len(host):
                    h = host[k, g]
                    if len(host_f):
                        h = h * host_f[g]
                        if len(host_cap):
                            h = min(h, host_cap[g])
                    kill = kill + h
            death[k, i] = d + kill
    return birth, death
