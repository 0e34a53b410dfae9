"""Kill slowing with burden (``evolution.kill_slowing_exponent``): at 1 (Norton–Simon) the drug's
kill is slowed as the untreated growth is, by 1/(1 + V/V½); at 0 it is not."""

import numpy as np

from gistsim.clinic.potency import default_potency_parameters
from test_course import EVO, NO_DEATH, cohort, run

STAY = {"name": "stay-on-400", "start": "imatinib_400mg_daily", "sequence": [], "beyond_last": "continue"}
STILL = {**NO_DEATH, "death__lethal_volume_cm3": 1e12, "imaging__measurement_cv": 0.0}


def plateau_cm3(exponent, monkeypatch, n=10):
    """Each patient's viable volume, mean over the last year of six on imatinib 400 mg."""
    monkeypatch.setattr(EVO.kill_slowing_exponent, "value", exponent)
    rec = run(cohort(n, [60.0], driver="KIT_exon9"), STAY, years=6.0, keep_clones=True, **STILL)
    volumes = []
    for table in rec.clones[-5:]:
        ids, totals = table.lesion_totals()
        volumes.append(np.bincount(rec.lesion_patient[ids], weights=totals, minlength=n) / EVO.cells_per_cm3.value)
    return np.mean(volumes, axis=0)


def test_off_by_default():
    assert EVO.kill_slowing_exponent.value == 0.0


def test_norton_simon_plateau_follows_from_the_size_independent_one(monkeypatch):
    # Exon 9 disease weakly inhibited by 400 mg (kill k below the untreated net growth g), with the
    # host's kill h, which is never slowed. Size-independent kill: the tumour settles where
    # g·f(V) = k + h, f = 1/(1 + V/V½); that plateau gives each patient's k. Norton–Simon: where
    # (g − k)·f(V) = h instead — a plateau predicted from the first, several times larger.
    g = EVO.net_growth_rate_per_day.value
    h = default_potency_parameters().host_kill_per_day["imatinib"].value
    half = EVO.growth_half_volume_cm3.value
    v0 = plateau_cm3(0.0, monkeypatch)
    k = g / (1.0 + v0 / half) - h
    assert (k > 0).all() and (k < g).all()  # weakly inhibited: the premise holds
    predicted = half * ((g - k) / h - 1.0)
    v1 = plateau_cm3(1.0, monkeypatch)
    assert (predicted > 3.0 * v0).all()
    np.testing.assert_allclose(v1, predicted, rtol=0.03)
