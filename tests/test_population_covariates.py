"""Population covariates beyond the driver: primary site given the driver, sex, PK variability."""

from importlib.resources import files

import numpy as np
import pytest
import yaml
from scipy import stats

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import default_evolution
from gistsim.clinic.cohort import PRIMARY_SITES, BaselineSpec, Range, sample_cohort
from gistsim.clinic.drugs import default_catalogue
from gistsim.clinic.treatment import Treatment
from gistsim.streams import PatientStreams
from gistsim.trials.runner import run_block
from gistsim.trials.spec import load_population, load_trial
from gistsim.validation import InputError

REG = default_registry()
EVO = default_evolution()
MUT = EVO.mutation_model(REG)
#: Goodness-of-fit tests reject at this level (fixed seeds: a failure is a real change, 1 in 1,000 otherwise).
ALPHA = 1e-3


def small_spec(**covariates) -> BaselineSpec:
    """One small lesion per patient, so that thousands of patients are cheap to draw."""
    return BaselineSpec(
        driver_probabilities={"KIT_exon11": 0.6, "KIT_exon9": 0.4}, age_years=Range(40, 80), lesion_organ="liver",
        lesion_count=Range(1, 1), lesion_diameter_mm=Range(5, 5), **covariates,
    )  # fmt: skip


def draw(spec: BaselineSpec, n: int, rng) -> object:
    return sample_cohort(n, spec, registry=REG, evolution=EVO, mutation=MUT, pk_sampler=Treatment().sample_pk, rng=rng)


def test_sites_follow_each_drivers_table_and_sex_its_probability():
    default = {"stomach": 0.6, "jejunum_ileum": 0.3, "other": 0.1}
    exon9 = {"jejunum_ileum": 0.9, "colon_rectum": 0.1}
    spec = small_spec(primary_site=default, primary_site_by_driver={"KIT_exon9": exon9}, male_probability=0.53)
    cohort = draw(spec, 4000, np.random.default_rng(3))
    for driver, table in (("KIT_exon11", default), ("KIT_exon9", exon9)):
        sites = cohort.primary_site[cohort.driver == driver]
        expected = np.array([table.get(s, 0.0) for s in PRIMARY_SITES])
        observed = np.array([(sites == s).sum() for s in PRIMARY_SITES])
        assert observed[expected == 0].sum() == 0, driver  # a site the table excludes never comes up
        keep = expected > 0
        p = stats.chisquare(observed[keep], expected[keep] / expected[keep].sum() * len(sites)).pvalue
        assert p > ALPHA, (driver, observed)
    males = int((cohort.sex == "male").sum())
    assert stats.binomtest(males, len(cohort.sex), 0.53).pvalue > ALPHA
    assert set(cohort.sex) == {"male", "female"}


def test_site_and_sex_are_drawn_after_everything_else():
    """Adding them to a population leaves every patient's other draws as they were."""
    ids = np.arange(200, 260)
    plain = draw(small_spec(), len(ids), PatientStreams.from_ids(9, ids))
    more = draw(small_spec(primary_site={"stomach": 1, "other": 1}, male_probability=0.5), len(ids),
                PatientStreams.from_ids(9, ids))  # fmt: skip
    assert plain.primary_site is None and plain.sex is None
    assert (plain.driver == more.driver).all() and np.array_equal(plain.age_years, more.age_years)
    assert np.array_equal(plain.clones.count, more.clones.count)
    assert np.array_equal(plain.pk["imatinib"].clearance_l_per_h, more.pk["imatinib"].clearance_l_per_h)
    assert set(more.primary_site) == {"stomach", "other"}


def test_a_patients_site_and_sex_do_not_depend_on_its_block():
    # Lesions of real sizes: their histories leave the baseline streams at positions that depend
    # on the block (each patient's draws do not), which site and sex must not follow.
    spec = load_population("liver-recurrence").to_spec()

    def of(ids, k):
        c = draw(spec, len(ids), PatientStreams.from_ids(4, np.array(ids)))
        return c.primary_site[ids.index(k)], c.sex[ids.index(k)]

    for k in (11, 12, 13, 14):
        assert of([k], k) == of([5, k, 40, 41], k) == of([k, 1, 2, 3, 6, 7, 8, 9], k)


def test_pk_variability_scales_each_patients_deviation_and_keeps_its_rank():
    ids = np.arange(300)
    typical = Treatment().sample_pk(1, PatientStreams.from_ids(1, ids[:1]), iiv_cv={"imatinib": {"clearance": 0.0}})
    default = Treatment().sample_pk(len(ids), PatientStreams.from_ids(1, ids))["imatinib"]
    wider = Treatment().sample_pk(len(ids), PatientStreams.from_ids(1, ids), iiv_cv={"imatinib": {"clearance": 0.8}})
    cl0 = typical["imatinib"].clearance_l_per_h[0]
    eta_default, eta_wider = np.log(default.clearance_l_per_h / cl0), np.log(wider["imatinib"].clearance_l_per_h / cl0)
    catalogue_cv = default_catalogue().drugs["imatinib"].clearance_iiv_cv.value
    ratio = np.sqrt(np.log1p(0.8**2) / np.log1p(catalogue_cv**2))
    np.testing.assert_allclose(eta_wider, ratio * eta_default, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(wider["imatinib"].volume_l, default.volume_l)  # only what was asked
    np.testing.assert_array_equal(wider["sunitinib"].clearance_l_per_h,
                                  Treatment().sample_pk(len(ids), PatientStreams.from_ids(1, ids))["sunitinib"].clearance_l_per_h)  # fmt: skip


def test_built_in_trial_rows_carry_site_and_sex():
    trial = load_trial("focal-progression")
    trial = trial.model_validate({**trial.model_dump(), "patients": 30, "block_size": 30})
    rows = run_block(trial.model_dump_json(), 0)
    assert {r["primary_site"] for r in rows} <= set(PRIMARY_SITES) and {r["sex"] for r in rows} == {"male", "female"}
    exon9 = [r["primary_site"] for r in rows if r["driver"] == "KIT_exon9"]
    assert "oesophagus" not in exon9 and "duodenum" not in exon9  # its own table has neither


def base_population() -> dict:
    return yaml.safe_load((files("gistsim") / "data/populations/liver-recurrence.yaml").read_text())


@pytest.mark.parametrize(
    "change,message",
    [
        ({"primary_site_probabilities": {"pancreas": 1.0}},
         r"primary_site_probabilities\.pancreas.*'stomach', 'duodenum', 'jejunum_ileum', 'colon_rectum', 'oesophagus'"),
        ({"primary_site_by_driver": {"KIT_exon99": {"stomach": 1.0}}},
         r"primary_site_by_driver key 'KIT_exon99' is not a known driver; accepted values: KIT_exon11"),
        ({"primary_site_by_driver": {"KIT_exon9": {"stomach": 0.0}}}, r"primary_site_by_driver\.KIT_exon9 needs a positive total"),
        ({"primary_site_probabilities": None}, r"primary_site_by_driver has no entry for KIT_exon11, PDGFRA_other, wild_type"),
        ({"male_probability": 1.2}, r"male_probability: Input should be less than or equal to 1 \(got 1.2\)"),
        ({"pk_iiv_cv": {"aspirin": {"clearance": 0.3}}}, r"pk_iiv_cv key 'aspirin' is not a known drug; accepted values: imatinib"),
        ({"pk_iiv_cv": {"imatinib": {"ka": 0.3}}}, r"pk_iiv_cv\.imatinib\.ka.*'clearance' or 'volume'"),
    ],
)  # fmt: skip
def test_bad_population_covariates_are_named(change, message):
    with pytest.raises(InputError, match=message):
        load_population(base_population() | change)
