"""The quadrature tables of mutant arrivals (:func:`gistsim.engine.arrivals._quadrature`) in one
compiled pass per rate profile.

The numpy path builds them as a dozen (nodes × profiles) temporaries: the composite Gauss–Legendre
grid, the source's intensity and the mutant lineage's survival at each node, then cumulative
shares, log(1 − geo) and four cumulants, each a pass over memory and each transposed for
:func:`gistsim.engine._kernels.pair_arrivals`. Here every profile's column is computed node by node
into those transposed tables directly. Same formulas and the same order of floating-point
operations (sums over nodes run in node order, as numpy's reductions along the first axis do), so
the tables equal the numpy path's up to the last bits of ``exp``/``expm1``/``log``, whose numpy
(SIMD) and libm implementations may round differently; ``tests/test_kernels.py`` compares the two.
"""

from __future__ import annotations

import math

import numpy as np

from gistsim.engine._kernels import _inline, _jit


@_inline
def _phi(r: float, t: float) -> float:
    """``expm1(r t) / r``, continuous at r = 0, exactly as :func:`gistsim.engine.kendall.phi`: not
    :func:`gistsim.engine._kernels._piece_mh`, whose m = 1 + expm1(r t) is exact only to 1.1e-16
    absolute, where these tables must equal the numpy path's to the last bits."""
    rt = r * t
    if abs(rt) < 1e-8:
        return t * (1.0 + 0.5 * rt)
    return math.expm1(rt) / r


@_jit
def profile_tables(durations, n_sub, bs, ds, bt, dt, m_start, rate, gl_x, gl_w):
    """Per profile (rows) and node (columns): cumulants K₁…K₄ of the total size per initial cell
    (profiles, 4), the quadrature terms of Λ, 1/(1 + H), their cumulative normalised shares and
    log(1 − geo), and Λ per initial cell (profiles,).

    ``durations`` (P,) the pieces, ``n_sub`` (P,) sub-intervals per piece (pieces of length ≤ 0 have
    no nodes), ``bs``/``ds`` the source's and ``bt``/``dt`` the mutant's rates per piece and profile
    (P, C), ``m_start`` (P, C) the source's growth factor at each piece's start, ``rate`` (C,) the
    mutation rate per division; ``gl_x``/``gl_w`` the Gauss–Legendre nodes and weights on [−1, 1].
    """
    n_pieces, n_prof = bs.shape
    n_gl = len(gl_x)
    n_nodes = 0
    for j in range(n_pieces):
        if durations[j] > 0:
            n_nodes += n_sub[j] * n_gl
    piece = np.empty(n_nodes, dtype=np.int64)
    x = np.empty(n_nodes)
    w = np.empty(n_nodes)
    i = 0
    for j in range(n_pieces):
        tau = durations[j]
        if tau <= 0:
            continue
        delta = tau / n_sub[j]
        for s in range(n_sub[j]):
            start = s * delta
            for q in range(n_gl):
                piece[i] = j
                x[i] = start + delta * (gl_x[q] + 1.0) / 2.0
                w[i] = delta * gl_w[q] / 2.0
                i += 1
    cumulants = np.zeros((n_prof, 4))
    integrand = np.empty((n_prof, n_nodes))
    geo = np.empty((n_prof, n_nodes))
    cum = np.empty((n_prof, n_nodes))
    log_q = np.empty((n_prof, n_nodes))
    isum = np.zeros(n_prof)
    suf_m = np.empty(n_pieces + 1)
    suf_h = np.empty(n_pieces + 1)
    for c in range(n_prof):
        # The mutant lineage's (m, H) from each piece's end to the step's end.
        suf_m[n_pieces], suf_h[n_pieces] = 1.0, 0.0
        for k in range(n_pieces - 1, -1, -1):
            r = bt[k, c] - dt[k, c]
            mk, hk = math.exp(r * durations[k]), bt[k, c] * _phi(r, durations[k])
            suf_m[k] = mk * suf_m[k + 1]
            suf_h[k] = hk * suf_m[k + 1] + suf_h[k + 1]
        total = 0.0
        for i in range(n_nodes):
            j = piece[i]
            src = bs[j, c] * m_start[j, c] * math.exp((bs[j, c] - ds[j, c]) * x[i])
            r = bt[j, c] - dt[j, c]
            left = durations[j] - x[i]
            m1, h1 = math.exp(r * left), bt[j, c] * _phi(r, left)
            g = 1.0 / (1.0 + h1 * suf_m[j + 1] + suf_h[j + 1])
            p = min(m1 * suf_m[j + 1] * g, 1.0)
            term = w[i] * src * p * rate[c]
            integrand[c, i] = term
            geo[c, i] = g
            total += term
            cum[c, i] = total
            q = 1.0 - g
            log_q[c, i] = math.log(q) if q > 0 else -math.inf
            inv = 1.0 / g
            e1 = term * inv
            cumulants[c, 0] += e1
            cumulants[c, 1] += e1 * inv * (1.0 + q)
            cumulants[c, 2] += e1 * inv * inv * (1.0 + q * (4.0 + q))
            cumulants[c, 3] += e1 * inv * inv * inv * (1.0 + q * (11.0 + q * (11.0 + q)))
        isum[c] = total
        if total > 0:
            for i in range(n_nodes):
                cum[c, i] /= total
    return cumulants, integrand, geo, cum, log_q, isum
