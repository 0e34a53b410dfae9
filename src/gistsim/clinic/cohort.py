"""Virtual patients at the start of treatment, drawn from a baseline description.

Each lesion grows from one founder cell carrying the patient's driver to its size at diagnosis,
picking up resistant subclones on the way (:func:`gistsim.engine.history.sample_history`), so the
lesions of one patient carry different secondary mutations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from gistsim.biology.genotypes import GenotypeRegistry
from gistsim.biology.parameters import EvolutionParameters
from gistsim.biology.volume import diameter_mm_to_cells
from gistsim.clinic.course import Cohort
from gistsim.clinic.strategy import ORGANS
from gistsim.engine.history import sample_history
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.errors import check_choice
from gistsim.streams import PatientStreams, sibling

#: Sites of the primary tumour, for populations and cases alike (model_parameters.md §1b: the small
#: intestine is the duodenum and "jejunum_ileum"; "other": omentum, mesentery, other extra-GI sites).
PrimarySite = Literal["stomach", "duodenum", "jejunum_ileum", "colon_rectum", "oesophagus", "other"]
PRIMARY_SITES: tuple[str, ...] = get_args(PrimarySite)
#: Spawn key of the streams a patient's primary site and sex come from (:func:`gistsim.streams.sibling`
#: of its baseline stream): any fixed number no one spawns up to.
SITE_AND_SEX_STREAM = 0x51E


@dataclass(frozen=True)
class Range:
    """A closed interval an unknown value is drawn from (uniformly, or log-uniformly)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"range low = {self.low!r}, high = {self.high!r} is not accepted: need finite low ≤ high")
        if self.log and self.low <= 0:
            raise ValueError(f"log-uniform range needs low > 0; got low = {self.low!r}")

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.log:
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size))
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class BaselineSpec:
    """How to draw patients: drivers, age, and their lesions."""

    driver_probabilities: dict[str, float]
    """Driver name → probability (normalised here)."""
    age_years: Range
    """Age at the start of treatment."""
    lesion_organ: str | dict[str, float]
    """Organ of the lesions (e.g. ``"liver"``), or organ → probability for each lesion."""
    lesion_count: Range
    """Number of lesions (rounded to an integer)."""
    lesion_diameter_mm: Range
    """Diameter of each lesion at the start of treatment."""
    primary_site: dict[str, float] | None = None
    """Site of the primary tumour → probability (normalised), for drivers not in
    ``primary_site_by_driver``; ``None``: not drawn."""
    primary_site_by_driver: dict[str, dict[str, float]] | None = None
    """Driver → its own site distribution (KIT exon 9 arises mostly in the small bowel)."""
    male_probability: float | None = None
    """Probability that a patient is male; ``None``: sex not drawn."""
    pk_iiv_cv: dict[str, dict[str, float]] | None = None
    """Drug → ``clearance`` and/or ``volume`` → between-patient CV, in place of the drug
    catalogue's (the same normals, scaled: a patient's rank in exposure does not change)."""


def sample_cohort(
    n: int,
    spec: BaselineSpec,
    *,
    registry: GenotypeRegistry,
    evolution: EvolutionParameters,
    mutation: MutationModel,
    pk_sampler,
    rng: np.random.Generator | PatientStreams,
) -> Cohort:
    """Draw ``n`` patients: covariates, lesions, and each lesion's clones from its history.

    With :class:`~gistsim.streams.PatientStreams` every patient's baseline comes from its own
    stream, so a patient is the same whatever block it is drawn in.
    """
    if n < 1:
        raise ValueError(f"n = {n!r} is not accepted: need at least one patient")
    organ_p = {spec.lesion_organ: 1.0} if isinstance(spec.lesion_organ, str) else dict(spec.lesion_organ)
    for organ in organ_p:
        check_choice("lesion_organ", organ, ORGANS)
    organ_codes = np.array([ORGANS.index(o) for o in organ_p])
    organ_prob = np.array(list(organ_p.values()), dtype=float)
    if (organ_prob < 0).any() or organ_prob.sum() <= 0:
        raise ValueError(f"lesion_organ = {organ_p} must have probabilities >= 0, not all zero")
    organ_prob = organ_prob / organ_prob.sum()
    names = [d.name for d in registry.drivers]
    for name in spec.driver_probabilities:
        check_choice("driver", name, names)
    drivers = list(spec.driver_probabilities)
    p = np.array([spec.driver_probabilities[d] for d in drivers], dtype=float)
    if (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"driver_probabilities = {spec.driver_probabilities} must be ≥ 0 and not all zero")
    if isinstance(rng, PatientStreams):
        if len(rng) != n:
            raise ValueError(f"{len(rng)} patient streams for n = {n} patients: need one per patient")
        gens = [rng.generators[rng.index[i]] for i in range(n)]
    else:
        gens = None
    if gens is None:
        driver = np.array(drivers, dtype=object)[rng.choice(len(drivers), size=n, p=p / p.sum())]
        age = spec.age_years.draw(rng, n)
        n_lesions = np.maximum(1, np.rint(spec.lesion_count.draw(rng, n))).astype(np.int64)
        diameter = spec.lesion_diameter_mm.draw(rng, int(n_lesions.sum()))
        organ = organ_codes[rng.choice(len(organ_codes), size=int(n_lesions.sum()), p=organ_prob)]
    else:
        driver = np.array([drivers[g.choice(len(drivers), p=p / p.sum())] for g in gens], dtype=object)
        age = np.concatenate([spec.age_years.draw(g, 1) for g in gens])
        n_lesions = np.array([max(1, int(np.rint(spec.lesion_count.draw(g, 1)[0]))) for g in gens], dtype=np.int64)
        diameter = np.concatenate([spec.lesion_diameter_mm.draw(g, int(k)) for g, k in zip(gens, n_lesions)])
        organ = np.concatenate([organ_codes[g.choice(len(organ_codes), size=int(k), p=organ_prob)]
                                for g, k in zip(gens, n_lesions)])  # fmt: skip
    lesion_patient = np.repeat(np.arange(n), n_lesions)
    cohort = build_cohort(
        driver=driver, age_years=age, lesion_patient=lesion_patient, lesion_organ=organ,
        lesion_diameter_mm=diameter, registry=registry, evolution=evolution, mutation=mutation,
        pk=pk_sampler(n, rng, iiv_cv=spec.pk_iiv_cv) if spec.pk_iiv_cv else pk_sampler(n, rng), rng=rng,
    )  # fmt: skip
    _draw_site_and_sex(cohort, spec, rng)
    return cohort


def _site_table(spec: BaselineSpec, drivers: list[str]) -> np.ndarray:
    """Cumulative site probabilities of ``drivers`` (rows in that order, columns :data:`PRIMARY_SITES`)."""
    def cumulative(field: str, probs: dict[str, float]) -> np.ndarray:
        for site in probs:
            check_choice(field, site, PRIMARY_SITES)
        p = np.array([probs.get(site, 0.0) for site in PRIMARY_SITES], dtype=float)
        if (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"{field} = {probs} must have probabilities >= 0, not all zero")
        c = np.cumsum(p / p.sum())
        c[-1] = 1.0
        return c

    by_driver = spec.primary_site_by_driver or {}
    if spec.primary_site is None and (missing := sorted(set(drivers) - set(by_driver))):
        raise ValueError(f"primary_site is not given, and primary_site_by_driver has no entry for {', '.join(missing)}: "
                         "give primary_site (the sites of drivers without their own) or an entry for every driver")  # fmt: skip
    return np.array([cumulative(f"primary_site_by_driver[{d}]", by_driver[d]) if d in by_driver
                     else cumulative("primary_site", spec.primary_site) for d in drivers])  # fmt: skip


def _draw_site_and_sex(cohort: Cohort, spec: BaselineSpec, rng) -> None:
    """Primary site (given the driver) and sex, one uniform each per patient, from streams of
    their own beside ``rng``'s (:data:`SITE_AND_SEX_STREAM`), so that every other draw is what it was before they
    existed. Neither changes the course yet: they are covariates of the results (the reference
    gives no coefficient of sex on imatinib's PK, nor a site effect on metastatic disease's
    response)."""
    sites, sex = spec.primary_site is not None or bool(spec.primary_site_by_driver), spec.male_probability is not None
    k = int(sites) + int(sex)
    if not k:
        return
    n, rng = cohort.n_patients, sibling(rng, SITE_AND_SEX_STREAM)
    # A scalar call per patient: cheaper here than the compiled per-patient path's set-up.
    u = np.array([rng.generators[j].random(k) for j in rng.index]) if isinstance(rng, PatientStreams) else rng.random((n, k))
    if sites:
        drivers = sorted(set(map(str, cohort.driver)))
        table = _site_table(spec, drivers)[np.searchsorted(drivers, cohort.driver.astype(str))]
        code = (u[:, 0, None] >= table).sum(axis=1)
        cohort.primary_site = np.array(PRIMARY_SITES, dtype=object)[np.minimum(code, len(PRIMARY_SITES) - 1)]
    if sex:
        cohort.sex = np.where(u[:, -1] < spec.male_probability, "male", "female").astype(object)


def build_cohort(
    *,
    driver: np.ndarray,
    age_years: np.ndarray,
    lesion_patient: np.ndarray,
    lesion_organ: np.ndarray,
    lesion_diameter_mm: np.ndarray,
    registry: GenotypeRegistry,
    evolution: EvolutionParameters,
    mutation: MutationModel,
    pk: object,
    rng: np.random.Generator | PatientStreams,
) -> Cohort:
    """Patients with given lesions; each lesion's clones grown from its founder cell."""
    founder = np.array([registry.code(str(d)) for d in driver], dtype=np.int64)[lesion_patient]
    g = registry.n_genotypes
    untreated = GenotypeRates(
        evolution.untreated_birth(registry)[None, :], np.full((1, g), evolution.death_rate_per_day)
    )
    n_total = len(lesion_patient)
    history = sample_history(
        lesion=np.arange(n_total),
        founder_genotype=founder,
        size_cells=diameter_mm_to_cells(np.asarray(lesion_diameter_mm, float), evolution.cells_per_cm3.value),
        group=np.asarray(lesion_patient, dtype=np.int64),
        rates=untreated,
        mutation=mutation,
        n_genotypes=g,
        rng=rng,
    )
    return Cohort(
        age_years=np.asarray(age_years, dtype=float),
        driver=np.asarray(driver, dtype=object),
        lesion_patient=np.asarray(lesion_patient, dtype=np.int64),
        lesion_organ=np.asarray(lesion_organ, dtype=np.int64),
        lesion_site=[ORGANS[o] for o in lesion_organ],
        clones=history.clones,
        pk=pk,
    )


#: The pace factor's normal score is clipped to ±PACE_Z_MAX. Beyond 3σ (1 patient in ~740) the
#: lognormal tail gave rates no tumour has (σ = 0.68 at z = 3.5: birth ×11, doubling in ~3 days),
#: and clone counts past int64 within one 12-week step. Even the clip is generous at the shipped
#: σ = 0.9 (median 1): ×15 at z = 3, a net growth of ~0.25/day, which such a patient's first
#: progression and death absorb; counts that would pass int64 saturate (kendall.MAX_CELLS).
PACE_Z_MAX = 3.0


def draw_pace(n: int, sigma_log: float, draws) -> np.ndarray:
    """Each patient's pace of disease: a lognormal factor with median 1 on its untreated birth and
    death rates (``draws``: :class:`gistsim.streams.Draws`, one standard normal per patient,
    clipped to ±:data:`PACE_Z_MAX`).

    Median 1, not mean 1: the typical values these variabilities sit on come from population
    models that write an individual's parameter as θ·exp(η) (Hansson 2013's KG, model_parameters.md
    §4a), in which θ is the median patient's value. A mean-1 factor would make the median patient
    slower than θ by exp(−σ²/2) (−21% at σ = 0.68), and more so the wider the variability.
    """
    z = np.clip(draws.standard_normal(np.arange(n)), -PACE_Z_MAX, PACE_Z_MAX)
    return np.exp(sigma_log * z)


def draw_paces(cohort: Cohort, evolution, draws) -> None:
    """Set ``cohort.kinetics_scale`` (the pace of disease), ``cohort.escape_scale`` (the pace of
    its KIT-independent resistance) and ``cohort.kill_scale`` (its sensitivity to every drug), in
    that order from ``draws``: one normal each per patient; then, if ``indolent_fraction`` > 0, one
    uniform each: a patient below it has indolent disease, its pace × ``indolent_pace``; then, if
    ``lesion_pace_sigma_log`` > 0, one normal per lesion (from its patient's stream):
    ``cohort.lesion_scale``, each lesion's pace relative to its patient's (median 1; the lesion's
    whole pace, patient × lesion, capped at 3 standard deviations of its law); then
    ``cohort.secondary_scale`` (:func:`draw_secondary_scale`); then, if ``host_kill_iiv_sigma_log``
    > 0, one normal per patient: ``cohort.host_scale``, its factor on the host's kill (the rate
    model holds the product at the host kill prior's top: :class:`gistsim.clinic.pd.DrugRates`).

    The escape factor is capped so that KIT-independent cells never outgrow KIT-driven ones
    (relative growth × factor ≤ 1, the top of escape_relative_growth's prior: a bypassed driver
    is assumed to cost fitness, not to give it).
    """
    n = cohort.n_patients
    cohort.kinetics_scale = draw_pace(n, evolution.kinetics_iiv_sigma_log.value, draws)
    escape = draw_pace(n, evolution.escape_growth_iiv_sigma_log.value, draws)
    kill = draw_pace(n, evolution.kill_iiv_sigma_log.value, draws)
    cohort.kill_scale = None if evolution.kill_iiv_sigma_log.value == 0.0 else kill
    fraction = evolution.indolent_fraction.value
    if fraction > 0.0:
        # Drawn only when used: a course that shares this generator (a case replay) then keeps
        # its numbers when the class is off.
        indolent = draws.random(np.arange(n)) < fraction
        cohort.kinetics_scale = np.where(indolent, evolution.indolent_pace.value, 1.0) * cohort.kinetics_scale
    sigma_lesion = evolution.lesion_pace_sigma_log.value
    if sigma_lesion > 0.0:
        # Last, and only when on (as the indolent class): each lesion's normal from its patient's
        # stream. The lesion's whole pace (patient × lesion) is held below PACE_Z_MAX standard
        # deviations of its law, as the patient's alone is: two clipped tails multiplied gave
        # ×67 at σ 0.9 and 0.5 (doubling in 15 hours), clones past int64 within a step. Slow
        # lesions are left alone (an indolent patient's are slower still).
        z = np.clip(draws.standard_normal(cohort.lesion_patient), -PACE_Z_MAX, PACE_Z_MAX)
        patient_log = np.log(cohort.kinetics_scale[cohort.lesion_patient])
        limit = PACE_Z_MAX * np.hypot(evolution.kinetics_iiv_sigma_log.value, sigma_lesion)
        whole = np.minimum(patient_log + sigma_lesion * z, limit)
        cohort.lesion_scale = np.exp(whole - patient_log)
    else:
        cohort.lesion_scale = None
    cohort.secondary_scale = draw_secondary_scale(cohort, evolution, draws)
    sigma_host = evolution.host_kill_iiv_sigma_log.value
    # Last, and only when on, as the other late factors.
    cohort.host_scale = draw_pace(n, sigma_host, draws) if sigma_host > 0.0 else None
    relative = evolution.escape_relative_growth.value
    if evolution.escape_growth_iiv_sigma_log.value == 0.0:
        # All ones: None spares the rate model a pass per clone and step (the normal is still
        # drawn, so a patient's stream advances the same whatever sigma).
        cohort.escape_scale = None
    else:
        cohort.escape_scale = np.minimum(escape, 1.0 / relative) if relative > 0 else escape


def draw_secondary_scale(cohort, evolution, draws) -> np.ndarray | None:
    """Per lesion, the factor on the untreated net growth of its secondary KIT mutants: the
    patient's lognormal factor (``secondary_growth_iiv_sigma_log``, one normal per patient) times
    the lesion's own (``secondary_growth_lesion_sigma_log``, one normal per lesion from its
    patient's stream), each median 1 and drawn only when on, after every other factor, so a
    course keeps its numbers when both are off (``None``: 1 everywhere).

    The lesion's part stands for which secondary mutation wins in that lesion: different lesions
    of one patient carry different ones (Liegl 2008, Wardelmann 2006), whose fitness need not be
    alike. The product is capped so that a secondary mutant never outgrows its parent
    (``secondary_relative_growth`` × factor ≤ 1, the top of that parameter's prior).
    """
    sigma_patient = evolution.secondary_growth_iiv_sigma_log.value
    sigma_lesion = evolution.secondary_growth_lesion_sigma_log.value
    if sigma_patient == 0.0 and sigma_lesion == 0.0:
        return None
    lesion_patient = np.asarray(cohort.lesion_patient, dtype=np.int64)
    n = cohort.n_patients
    log_factor = np.zeros(len(lesion_patient))
    if sigma_patient > 0.0:
        log_factor += np.log(draw_pace(n, sigma_patient, draws))[lesion_patient]
    if sigma_lesion > 0.0:
        z = np.clip(draws.standard_normal(lesion_patient), -PACE_Z_MAX, PACE_Z_MAX)
        log_factor += sigma_lesion * z
    top = evolution.secondary_relative_growth.value
    factor = np.exp(log_factor)
    return np.minimum(factor, 1.0 / top) if top > 0 else factor
