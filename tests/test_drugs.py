"""Drug catalogue, regimens and exposure: published troughs, time dependence, schedules, errors."""

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gistsim.clinic import drugs as D

N_PATIENTS = 4000


def _troughs(name: str, seed: int = 2024) -> np.ndarray:
    reg = D.regimen(name)
    pk = D.sample_pk(reg.drug, N_PATIENTS, rng=np.random.default_rng(seed))
    return D.steady_state_trough(reg, pk)


def _discrete_reference(reg: D.Regimen, pk: D.PKParameters, edges: np.ndarray) -> np.ndarray:
    """Piece averages by brute-force superposition of every dose since day 0 (slow, exact)."""
    amp, lam = pk.modes(reg.dose_mg)
    times = np.arange(0.0, edges[-1], 1.0 / reg.doses_per_day)
    if not reg.continuous:
        times = times[(times % reg.cycle_days) < reg.days_on]
    dose = reg.dose_mg / reg.doses_per_day * pk.relative_exposure(times)
    out = []
    for a, b in itertools.pairwise(edges):
        td, dd = times[times < b], dose[times < b]
        lo, hi = (np.maximum(a, td) - td)[:, None, None], (b - td)[:, None, None]
        contrib = (
            dd[:, None, None] * amp[None] * (np.exp(-lam[None] * lo) - np.exp(-lam[None] * hi)) / lam[None]
        )
        out.append(contrib.sum(axis=(0, 2)) / (b - a))
    return np.array(out)


# (a) Published steady-state troughs -------------------------------------------------------------


def test_imatinib_400_trough_mean_and_variability_match_published():
    # Published means 868-1,171 ng/mL; brief range 1,000-1,200 (model_parameters §2a). The mean of
    # 4,000 patients may stray from the model's true mean by sampling error: allow 3 SE.
    t = _troughs("imatinib_400mg_daily")
    se = t.std() / np.sqrt(len(t))
    assert 1000 - 3 * se <= t.mean() <= 1200 + 3 * se
    cv = t.std() / t.mean()
    assert 0.60 <= cv <= 0.90  # Bouchet 2016: 75% between-patient variability


def test_imatinib_800_trough_mean_matches_published():
    # Korean series: 3,552 +/- 1,540 ng/mL (§2a). Tolerance: 3 SE of the simulated mean, with the SD
    # taken as the larger of the simulated SD and the published 1,540 ng/mL.
    t = _troughs("imatinib_800mg_daily")
    se = max(t.std(), 1540.0) / np.sqrt(len(t))
    assert abs(t.mean() - 3552) <= 3 * se


def test_imatinib_800_is_twice_daily_and_more_than_doubles_the_trough():
    reg = D.regimen("imatinib_800mg_daily")
    assert (reg.dose_mg, reg.doses_per_day) == (800, 2)
    t4, t8 = _troughs("imatinib_400mg_daily"), _troughs("imatinib_800mg_daily")
    assert t8.mean() / t4.mean() > 2.5  # published within-patient rise +160 +/- 101 %


def test_sunitinib_total_trough_in_tdm_window():
    # Total (sunitinib + SU12662) trough target >= 50 ng/mL on 4/2, range 50-100; >= 37.5 on
    # continuous dosing (DPOG TDM, §2b). The median patient should sit inside the window.
    typ = D.typical_pk("sunitinib")
    assert 50 <= D.steady_state_trough(D.regimen("sunitinib_50mg_4on2off"), typ)[0] <= 100
    assert D.steady_state_trough(D.regimen("sunitinib_37.5mg_daily"), typ)[0] >= 37.5


def test_label_exposures_reproduced_by_the_median_patient():
    # Steady-state AUC0-24 by construction of CL/F (regorafenib 58.3, avapritinib 15.4 mg.h/L);
    # ripretinib parent AUC0-12h 5,678 ng.h/mL (§2d, C) within 15 %; avapritinib Cmax 813 within 15 %.
    for name, auc_ng_h_ml in [("regorafenib_160mg_3on1off", 58300), ("avapritinib_300mg_daily", 15400)]:
        reg = D.regimen(name)
        avg = D.steady_state_average(reg, D.typical_pk(reg.drug))[0]
        assert avg * 24 == pytest.approx(auc_ng_h_ml, rel=1e-3)
    rip = D.regimen("ripretinib_150mg_daily")
    parent = dataclasses.replace(D.typical_pk("ripretinib"), metabolite_ratio=np.zeros(1))
    auc12 = D.exposure_pieces(rip, parent, 400.0, 400.5)[1][0, 0] * 12
    assert auc12 == pytest.approx(5678, rel=0.15)
    ava = D.regimen("avapritinib_300mg_daily")
    grid = 400 + np.linspace(0, 1, 97)
    cmax = max(D.exposure_pieces(ava, D.typical_pk("avapritinib"), a, a + 1e-3)[1][0, 0] for a in grid)
    assert cmax == pytest.approx(813, rel=0.15)


# (b) Imatinib exposure falls over the first months ---------------------------------------------


def test_imatinib_exposure_falls_by_the_eechoute_figure():
    # Eechoute 2012: AUC -29.3 % at day 90 vs day 1 (§2a, C).
    reg = D.regimen("imatinib_400mg_daily")
    pk = D.sample_pk("imatinib", 200, rng=np.random.default_rng(5))
    ratio = D.steady_state_average(reg, pk, t_days=90) / D.steady_state_average(reg, pk, t_days=0)
    np.testing.assert_allclose(ratio, 1 - 0.293, atol=0.01)
    # The same fall through the piece machinery: exposure on day 90 vs the day-0 steady state.
    day90 = D.exposure_pieces(reg, pk, 90.0, 91.0)[1][0]
    assert np.mean(day90 / D.steady_state_average(reg, pk, t_days=0)) == pytest.approx(0.707, abs=0.02)


def test_imatinib_pieces_resolve_the_first_months():
    reg = D.regimen("imatinib_400mg_daily")
    pk = D.typical_pk("imatinib")
    dur, conc = D.exposure_pieces(reg, pk, 0.0, 400.0)
    edges = np.concatenate([[0.0], np.cumsum(dur)])
    assert (dur[edges[:-1] < 180] <= 28 + 1e-9).all()
    assert len(dur) < 12  # one piece once the time effect has worn off
    assert (np.diff(conc[1:, 0]) < 0).all()  # after the accumulation piece, exposure only falls


# (e) Pieces: durations and schedules; exactness -------------------------------------------------


@pytest.mark.parametrize(
    "name,start,end",
    [
        ("imatinib_400mg_daily", 0.0, 250.0),
        ("imatinib_800mg_daily", 300.3, 400.7),
        ("sunitinib_50mg_4on2off", 10.0, 130.0),
        ("sunitinib_50mg_4on2off", 500.5, 650.0),
        ("sunitinib_37.5mg_daily", 0.0, 84.0),
        ("regorafenib_160mg_3on1off", 3.0, 87.0),
        ("ripretinib_150mg_daily", 0.0, 30.0),
        ("avapritinib_300mg_daily", 2.5, 3.7),
    ],
)
def test_pieces_sum_to_interval_and_are_exact(name, start, end):
    reg = D.regimen(name)
    pk = D.sample_pk(reg.drug, 4, rng=np.random.default_rng(1))
    dur, conc = D.exposure_pieces(reg, pk, start, end)
    assert conc.shape == (len(dur), 4)
    assert dur.sum() == pytest.approx(end - start, abs=1e-9)
    assert (dur > 0).all()
    edges = start + np.concatenate([[0.0], np.cumsum(dur)])
    np.testing.assert_allclose(conc, _discrete_reference(reg, pk, edges), rtol=1e-9)


def test_custom_on_off_imatinib_is_exact_with_time_dependent_exposure():
    reg = D.Regimen("imatinib", 300.0, days_on=5, days_off=2)
    pk = D.sample_pk("imatinib", 3, rng=np.random.default_rng(8))
    dur, conc = D.exposure_pieces(reg, pk, 100.5, 150.0)
    edges = 100.5 + np.concatenate([[0.0], np.cumsum(dur)])
    np.testing.assert_allclose(conc, _discrete_reference(reg, pk, edges), rtol=1e-9)


@pytest.mark.parametrize(
    "name,on,off", [("sunitinib_50mg_4on2off", 28, 14), ("regorafenib_160mg_3on1off", 21, 7)]
)
def test_on_off_pieces_follow_the_schedule(name, on, off):
    reg = D.regimen(name)
    pk = D.sample_pk(reg.drug, 50, rng=np.random.default_rng(2))
    cycle = on + off
    dur, conc = D.exposure_pieces(reg, pk, 0.0, 3 * cycle)
    np.testing.assert_allclose(dur, [on, off] * 3)
    assert (conc[1::2] < conc[0::2]).all()  # every off piece below the on piece before it
    # Later cycles: the on-period average includes re-accumulation after the break, so it stays
    # below the continuous steady state; the off-period average is the washout that follows
    # (its exactness against discrete dosing is tested above).
    late_on, late_off = D.exposure_pieces(reg, pk, 20 * cycle, 21 * cycle)[1]
    ss = D.steady_state_average(reg, pk)
    assert (late_on <= ss * (1 + 1e-9)).all() and np.mean(late_on / ss) > 0.75
    assert (late_off < late_on).all() and np.mean(late_off / late_on) < 0.6


def test_empty_interval_gives_one_zero_piece():
    reg = D.regimen("ripretinib_150mg_daily")
    dur, conc = D.exposure_pieces(reg, D.typical_pk("ripretinib"), 40.0, 40.0)
    assert dur.tolist() == [0.0] and conc.shape == (1, 1) and conc[0, 0] > 0


def test_typical_patient_is_the_median_and_sampling_is_reproducible():
    reg = D.regimen("sunitinib_50mg_4on2off")
    pk = D.sample_pk("sunitinib", N_PATIENTS, rng=np.random.default_rng(9))
    avg = D.steady_state_average(reg, pk)
    assert np.median(avg) == pytest.approx(
        D.steady_state_average(reg, D.typical_pk("sunitinib"))[0], rel=0.05
    )
    again = D.sample_pk("sunitinib", N_PATIENTS, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(pk.clearance_l_per_h, again.clearance_l_per_h)


def test_every_value_has_a_source_and_prior_draws_differ():
    cat = D.default_catalogue()
    pars = [p for drug in cat.drugs.values() for p in D._parameters(drug)]
    assert len(pars) > 30 and all(p.source for p in pars)
    drawn = cat.sample(np.random.default_rng(4))
    assert drawn.drugs["imatinib"].clearance_l_per_h.value != cat.drugs["imatinib"].clearance_l_per_h.value
    pk = D.sample_pk("imatinib", 10, rng=np.random.default_rng(1), catalogue=drawn)
    assert np.isfinite(D.steady_state_trough(D.regimen("imatinib_400mg_daily"), pk)).all()


# (d) Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,pattern",
    [
        (
            lambda: D.regimen("imatinib_600mg"),
            r"regimen = 'imatinib_600mg' is not known; accepted values: 'imatinib_400mg_daily'",
        ),
        (
            lambda: D.sample_pk("nilotinib", 3, rng=None),
            r"drug = 'nilotinib' is not known; accepted values: 'imatinib'",
        ),
        (
            lambda: D.Regimen("imatinib", -400.0),
            r"dose_mg = -400.0 is not accepted: values must be finite and > 0",
        ),
        (lambda: D.Regimen("imatinib", 400.0, days_off=7), r"days_off = 7 needs days_on"),
        (lambda: D.Regimen("imatinib", 400.0, doses_per_day=0), r"doses_per_day = 0 is not accepted"),
        (lambda: D.sample_pk("imatinib", 0, rng=None), r"n = 0 is not accepted"),
        (
            lambda: D.sample_pk("imatinib", 2, rng=None, z=np.zeros((3, 3))),
            r"z has shape \(3, 3\); accepted shape \(3, 2\)",
        ),
        (
            lambda: D.sample_pk("imatinib", 2, rng=np.random.default_rng(0), z=np.zeros((3, 2))),
            r"z and rng are both given",
        ),
        (
            lambda: D.exposure_pieces(D.regimen("imatinib_400mg_daily"), D.typical_pk("imatinib"), 10, 5),
            r"end_day = 5.0 is before start_day = 10.0",
        ),
        (
            lambda: D.exposure_pieces(D.regimen("imatinib_400mg_daily"), D.typical_pk("imatinib"), -1, 5),
            r"start_day = -1.0 is not accepted",
        ),
        (
            lambda: D.steady_state_trough(D.regimen("imatinib_400mg_daily"), D.typical_pk("sunitinib")),
            r"pk.drug = 'sunitinib' does not match regimen.drug = 'imatinib'",
        ),
    ],
)
def test_bad_input_names_field_and_accepted_values(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_bad_yaml_names_the_field():
    raw = D.default_catalogue().model_dump()
    raw["drugs"]["imatinib"]["volume_l"]["prior"]["sigma"] = 1.0
    with pytest.raises(ValidationError, match="drugs.imatinib.volume_l.prior.lognormal.sigma"):
        D.DrugCatalogue.model_validate(raw)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["imatinib_400mg_daily", "sunitinib_50mg_4on2off", "regorafenib_160mg_3on1off"]),
    a=st.floats(0, 400),
    gap1=st.floats(0, 120),
    gap2=st.floats(0, 120),
)
def test_exposure_is_additive_over_split_intervals(name, a, gap1, gap2):
    # The drug taken over [a, c) is the same whether the interval is asked for whole or in two parts.
    reg = D.regimen(name)
    pk = D.sample_pk(reg.drug, 3, rng=np.random.default_rng(0))
    b, c = a + gap1, a + gap1 + gap2
    whole = [D.exposure_pieces(reg, pk, a, c)]
    parts = [D.exposure_pieces(reg, pk, a, b), D.exposure_pieces(reg, pk, b, c)]
    total = [sum((dur[:, None] * conc).sum(axis=0) for dur, conc in x) for x in (whole, parts)]
    np.testing.assert_allclose(total[0], total[1], rtol=1e-9, atol=1e-9)
    assert sum(d.sum() for d, _ in parts) == pytest.approx(c - a, abs=1e-9)


@pytest.mark.parametrize("name", ["imatinib_400mg_daily", "sunitinib_50mg_4on2off", "regorafenib_160mg_3on1off"])
def test_canonical_start_keeps_the_exposure(name):
    from gistsim.clinic.treatment import Treatment

    tr = Treatment()
    r = tr.regimen_names.index(name)
    reg = tr.regimens[r]
    pk = D.sample_pk(reg.drug, 5, rng=np.random.default_rng(3))
    for days in (1300.0, 2000.0 + 17.0, 3000.0 + 5.0):
        start = float(tr._canonical_start(np.array([r]), np.array([days]))[0])
        assert start < days
        d1, c1 = D.exposure_pieces(reg, pk, days, days + 84.0)
        d2, c2 = D.exposure_pieces(reg, pk, start, start + 84.0)
        np.testing.assert_allclose(d1, d2, rtol=1e-9)
        np.testing.assert_allclose(c1, c2, rtol=1e-9)


def test_cached_exposures_give_the_same_rates_as_computing_them_again():
    # step_rates looks exposures up by (regimen, start, pause, interval) over a course; the rates
    # must be those computed afresh, at every visit, for patients on several regimens, some of
    # them in a surgical pause and some long enough on a drug that their keys repeat.
    from gistsim.clinic.treatment import Treatment

    t = Treatment()
    n = 12
    pk = t.sample_pk(n, np.random.default_rng(3))
    names = t.regimen_names
    regimen = np.array([names.index(r) for r in
                        ["imatinib_400mg_daily"] * 5 + ["sunitinib_50mg_4on2off"] * 4 + ["imatinib_800mg_daily"] * 3])  # fmt: skip
    started = np.array([0, 0, 84, 2000, 2000, 0, 42, 1500, 1500, 0, 84, 3000], dtype=float)
    off = np.zeros(n)
    off[[1, 6]] = 28.0
    birth, death = np.full(t.potency.registry.n_genotypes, 0.03), np.full(t.potency.registry.n_genotypes, 0.02)
    cache: dict = {}
    for day in np.arange(0.0, 10 * 84.0, 84.0):
        kw = dict(regimen=regimen, days_on_regimen=day - np.minimum(started, day) + started * (started > 1000),
                  off_days=off if day == 84.0 else np.zeros(n), dt_days=84.0, pk=pk,
                  birth_per_day=birth, death_per_day=death)  # fmt: skip
        fresh, cached = t.step_rates(**kw), t.step_rates(**kw, exposure_cache=cache)
        assert len(fresh) == len(cached)
        for (p1, d1, r1), (p2, d2, r2) in zip(fresh, cached):
            np.testing.assert_array_equal(p1, p2)
            np.testing.assert_array_equal(d1, d2)
            arrays = {k for k, v in vars(r1).items() if isinstance(v, np.ndarray)}
            assert arrays and arrays == {k for k, v in vars(r2).items() if isinstance(v, np.ndarray)}
            for k in arrays:
                np.testing.assert_array_equal(getattr(r1, k), getattr(r2, k), err_msg=k)
    assert 0 < len(cache) < 10 * 3 * 2  # keys repeated: patients long on a drug share them across visits


def test_per_patient_streams_draw_each_patients_pk_from_its_own_generator_drug_after_drug():
    """Treatment.sample_pk on per-patient streams (one compiled pass) gives what one call per
    patient and drug on that patient's numpy generator gives."""
    from gistsim.clinic.treatment import Treatment
    from gistsim.streams import PatientStreams

    ids = np.array([3, 7, 11, 20])
    got = Treatment().sample_pk(len(ids), PatientStreams.from_ids(5, ids))
    gens = PatientStreams.from_ids(5, ids).generators
    for drug in D.drug_names():
        each = [D.sample_pk(drug, 1, rng=g) for g in gens]
        for field in ("clearance_l_per_h", "volume_l", "absorption_rate_per_h", "metabolite_ratio"):
            expected = np.concatenate([getattr(e, field) for e in each])
            np.testing.assert_array_equal(getattr(got[drug], field), expected, err_msg=f"{drug}.{field}")
