"""The host's kill on imatinib (potency.host_kill_per_day): every genotype, only while the drug is there."""

import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry
from gistsim.clinic import potency as P
from gistsim.clinic.pd import DrugRates
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import MutationModel
from gistsim.engine.step import advance

REG = default_registry()
BIRTH, DEATH = 0.04, 0.035


def _potency(host: float, drug: str = "imatinib") -> P.Potency:
    params = P.default_potency_parameters(calibrated=False)
    params.host_kill_per_day[drug].value = host
    return P.build_potency(params)


def _rates(potency: P.Potency, conc: np.ndarray, drug) -> DrugRates:
    return DrugRates(birth_rate_per_day=BIRTH, death_rate_per_day=DEATH, conc_ng_ml=conc, drug=drug, potency=potency)


def test_host_kill_adds_to_every_genotype_on_imatinib_only_where_the_drug_is_present():
    h = 0.003
    # Groups: imatinib, imatinib paused in piece 0 (conc 0), sunitinib, untreated.
    conc = np.array([[1000.0, 0.0, 50.0, 0.0], [1000.0, 900.0, 50.0, 0.0]])
    drugs = ["imatinib", "imatinib", "sunitinib", None]
    every = np.arange(REG.n_genotypes)
    group = np.repeat(np.arange(4), len(every))
    geno = np.tile(every, 4)
    _, d0 = _rates(_potency(0.0), conc, drugs).rates(group, geno)
    b1, d1 = _rates(_potency(h), conc, drugs).rates(group, geno)
    np.testing.assert_array_equal(b1, BIRTH)  # the host kills, it does not slow division
    expected = np.zeros_like(d0)
    expected[:, group == 0] = h  # on imatinib: every genotype, resistant ones included
    expected[1, group == 1] = h  # paused in piece 0, present in piece 1
    np.testing.assert_allclose(d1 - d0, expected, rtol=1e-12, atol=1e-15)


def test_host_kill_is_not_scaled_by_the_tumours_own_sensitivity():
    h = 0.002
    conc = np.array([[1000.0, 1000.0]])
    geno = np.full(2, REG.code("KIT_exon11"))
    scaled = DrugRates(birth_rate_per_day=BIRTH, death_rate_per_day=DEATH, conc_ng_ml=conc, drug="imatinib",
                       potency=_potency(h), group_kill=np.array([1.0, 0.0]))  # fmt: skip
    _, d = scaled.rates(np.arange(2), geno)
    # A tumour insensitive to the drug (factor 0, e.g. full tolerance) still dies at the host's rate.
    assert d[0, 1] == pytest.approx(DEATH + h, rel=1e-12)
    assert d[0, 0] > DEATH + h


def test_host_kill_holds_a_slow_resistant_clone_in_check_but_not_a_fast_one():
    """Net growth below the host kill declines on imatinib; above it grows: the kill does not scale with pace."""
    h = 0.003
    res = REG.code("KIT_exon11", ["T670I"])  # imatinib barely touches it (EC50 ~140,000 ng/mL)
    conc = np.full((1, 2), 1000.0)
    pot = _potency(h)
    # Group 0 grows at net 0.002/day untreated, group 1 at 0.006/day (pace x0.4 and x1.2 of 0.005).
    rates = DrugRates(birth_rate_per_day=BIRTH, death_rate_per_day=BIRTH - 0.005, conc_ng_ml=conc, drug="imatinib",
                      potency=pot, group_scale=np.array([0.4, 1.2]))  # fmt: skip
    table = CloneTable.from_arrays(lesion=[0, 1], genotype=[res, res], count=[10**8, 10**8],
                                   n_genotypes=REG.n_genotypes, group=[0, 1])  # fmt: skip
    advance(table, np.array([365.0]), rates, MutationModel.none(REG.n_genotypes), rng=np.random.default_rng(4))
    after = dict(zip(table.lesion.tolist(), table.count.tolist()))
    # Expected means: exp(r·365) with r = pace·(b-d) - imatinib's own kill of T670I - h.
    own = pot.emax_per_day * 1000.0 / (1000.0 + pot.ec50("imatinib", [res])[0])
    slow, fast = (np.exp((p * 0.005 - own - h) * 365.0) * 1e8 for p in (0.4, 1.2))
    # 1e8 cells: the relative sd of the count is ~1e-4, so 1% is far outside sampling error.
    assert after[0] == pytest.approx(slow, rel=0.01) and after[0] < 1e8
    assert after[1] == pytest.approx(fast, rel=0.01) and after[1] > 1e8


def test_unknown_drug_in_host_kill_is_refused_naming_the_accepted_ones():
    raw = P.default_potency_parameters(calibrated=False).model_dump()
    raw["host_kill_per_day"]["gleevec"] = raw["host_kill_per_day"]["imatinib"]
    with pytest.raises(ValueError, match=r"host_kill_per_day has unknown drugs \['gleevec'\]; accepted: \['avapritinib'"):
        P.build_potency(P.PotencyParameters.model_validate(raw))


def test_a_patients_host_factor_scales_only_the_hosts_kill():
    h, conc, drugs = 0.003, np.array([[1000.0, 1000.0]]), ["imatinib", "imatinib"]
    every = np.arange(REG.n_genotypes)
    group, geno = np.repeat([0, 1], len(every)), np.tile(every, 2)
    pot = _potency(h)
    plain = _rates(pot, conc, drugs).rates(group, geno)[1]
    scaled = DrugRates(birth_rate_per_day=BIRTH, death_rate_per_day=DEATH, conc_ng_ml=conc, drug=drugs,
                       potency=pot, group_host=np.array([1.0, 1.5])).rates(group, geno)[1]  # fmt: skip
    np.testing.assert_allclose(scaled[:, group == 0], plain[:, group == 0])
    np.testing.assert_allclose(scaled[:, group == 1] - plain[:, group == 1], 0.5 * h)  # the host part only (below the cap)


def test_a_patients_host_kill_stops_at_its_priors_top():
    """A factor that would take the host's kill past the prior's top (0.005/day on imatinib) gives
    the top: more would hold a D842V tumour on imatinib (potency.yaml), for any patient."""
    pot = _potency(0.003)
    top = pot.parameters.host_kill_per_day["imatinib"].prior.high
    conc, drugs = np.array([[1000.0, 1000.0, 1000.0]]), ["imatinib"] * 3
    group, geno = np.arange(3), np.zeros(3, dtype=np.int64)
    plain = _rates(pot, conc, drugs).rates(group, geno)[1]
    factor = np.array([0.5, top / 0.003, 4.0])
    scaled = DrugRates(birth_rate_per_day=BIRTH, death_rate_per_day=DEATH, conc_ng_ml=conc, drug=drugs,
                       potency=pot, group_host=factor).rates(group, geno)[1]  # fmt: skip
    np.testing.assert_allclose(scaled - plain, [[0.5 * 0.003 - 0.003, top - 0.003, top - 0.003]])


def test_host_factors_are_drawn_last_and_only_when_on():
    from gistsim.biology.parameters import default_evolution
    from gistsim.calibration.fit import FITTED
    from gistsim.clinic.cohort import draw_paces
    from gistsim.streams import PatientStreams, as_draws

    class Holder:
        n_patients = 3000
        lesion_patient = np.arange(3000)

    evo = default_evolution()
    off, on = Holder(), Holder()
    draw_paces(off, evo, as_draws(PatientStreams.from_ids(9, np.arange(3000))))
    assert off.host_scale is None and default_evolution(calibrated=False).host_kill_iiv_sigma_log.value == 0.0
    assert "evolution.host_kill_iiv_sigma_log" in FITTED
    evo.host_kill_iiv_sigma_log.value = 0.9
    draw_paces(on, evo, as_draws(PatientStreams.from_ids(9, np.arange(3000))))
    np.testing.assert_array_equal(on.kinetics_scale, off.kinetics_scale)
    np.testing.assert_array_equal(on.secondary_scale, off.secondary_scale)
    # Lognormal, median 1, sigma 0.9 (clipped at 3 sigma): the log's sample sd has SE
    # 0.9 / sqrt(2 n) = 0.0116, its median SE 1.2533 x 0.9 / sqrt(n) = 0.0206; 4 SE each.
    logs = np.log(on.host_scale)
    assert abs(logs.std() - 0.9) < 4 * 0.0116 + 0.01  # + the clip's small cut of the tails
    assert abs(np.median(logs)) < 4 * 0.0206
