"""Drug catalogue, regimens and per-patient exposure (population PK).

Values live in ``data/drugs.yaml``, each with its source (model_parameters.md §2). Every drug is a
one-compartment model with first-order absorption; sunitinib and ripretinib add their active
metabolite (SU12662, DP-5439), formed from the parent and eliminated first-order, and the reported
concentration is the *total active* concentration, parent + metabolite in ng/mL (the sunitinib TDM
target is on that sum). Imatinib adds the Eechoute 2012 fall in relative bioavailability over the
first months and a dose-dependent relative clearance above 400 mg.

How concentrations are computed. The model is linear, so the concentration after one unit dose is
a sum of exponentials, ``h(t) = Σ_j a_j e^{-λ_j t}``; each term ("mode") decays between doses and
jumps at each dose. Piece averages and troughs are exact for discrete doses (geometric sums over
the doses, :mod:`gistsim.clinic._pk`), so the washout after the last dose of an on-period starts
from the real post-dose state; spreading the dose over the day instead misstates a one-week
regorafenib washout by about a third.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from gistsim._data import load_yaml
from gistsim.biology.parameters import Parameter
from gistsim.clinic import _pk
from gistsim.errors import check_choice, check_nonnegative


class DoseClearance(BaseModel):
    """Relative clearance above a reference dose: CL(D) = CL · ratio^log2(D / reference)."""

    model_config = ConfigDict(extra="forbid")
    reference_dose_mg: PositiveFloat
    clearance_ratio_at_double_dose: Parameter


class ExposureDecay(BaseModel):
    """Relative bioavailability F(t) = 1 + excess · exp(−rate · t), t in days on the drug."""

    model_config = ConfigDict(extra="forbid")
    excess_fraction: Parameter
    rate_per_day: Parameter


class Metabolite(BaseModel):
    """An active metabolite summed into the total concentration."""

    model_config = ConfigDict(extra="forbid")
    name: str
    exposure_ratio: Parameter
    half_life_h: Parameter
    clearance_iiv_cv: Parameter
    clearance_correlation: Parameter


class DrugPK(BaseModel):
    """Typical PK of one drug (apparent, i.e. divided by bioavailability) and its variability."""

    model_config = ConfigDict(extra="forbid")
    label: str
    concentration: str = Field(min_length=1)
    clearance_l_per_h: Parameter
    volume_l: Parameter
    absorption_rate_per_h: Parameter
    clearance_iiv_cv: Parameter
    volume_iiv_cv: Parameter
    dose_clearance: DoseClearance | None = None
    exposure_decay: ExposureDecay | None = None
    metabolite: Metabolite | None = None


class RegimenSpec(BaseModel):
    """A named regimen as written in the YAML file."""

    model_config = ConfigDict(extra="forbid")
    drug: str
    dose_mg: PositiveFloat
    doses_per_day: PositiveInt = 1
    days_on: PositiveInt | None = None
    days_off: int = Field(default=0, ge=0)
    source: str = Field(min_length=1)


class Numerics(BaseModel):
    """How finely a time-dependent exposure is resolved into pieces."""

    model_config = ConfigDict(extra="forbid")
    max_piece_days: PositiveFloat
    decay_tolerance: PositiveFloat


class DrugCatalogue(BaseModel):
    """All drugs, the named regimens and the numerical settings."""

    model_config = ConfigDict(extra="forbid")
    drugs: dict[str, DrugPK]
    regimens: dict[str, RegimenSpec]
    numerics: Numerics

    def sample(self, rng: np.random.Generator) -> DrugCatalogue:
        """A copy with every population parameter drawn from its prior (typical values, not patients)."""
        new = self.model_copy(deep=True)
        for drug in new.drugs.values():
            for par in _parameters(drug):
                par.value = float(par.prior.sample(rng))
        return new


def _parameters(model: BaseModel):
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Parameter):
            yield value
        elif isinstance(value, BaseModel):
            yield from _parameters(value)


@lru_cache(maxsize=1)
def _default() -> DrugCatalogue:
    cat = DrugCatalogue.model_validate(load_yaml("drugs.yaml"))
    for name, spec in cat.regimens.items():
        check_choice(f"regimens.{name}.drug", spec.drug, cat.drugs)
    return cat


def default_catalogue() -> DrugCatalogue:
    """The shipped catalogue (a fresh copy each call, safe to modify)."""
    return _default().model_copy(deep=True)


def drug_names() -> list[str]:
    """Drugs in the shipped catalogue, in file order."""
    return list(_default().drugs)


def regimen_names() -> list[str]:
    """Named regimens in the shipped catalogue."""
    return list(_default().regimens)


@dataclass(frozen=True)
class Regimen:
    """A drug, a daily dose and a schedule of days on and off."""

    drug: str
    """Drug name, one of :func:`drug_names`."""
    dose_mg: float
    """Total dose per treatment day, in mg, split into ``doses_per_day`` equal doses."""
    doses_per_day: int = 1
    """Administrations per day (imatinib 800 mg is 400 mg twice daily)."""
    days_on: int | None = None
    """Days of dosing per cycle; ``None`` means continuous daily dosing."""
    days_off: int = 0
    """Days without drug per cycle."""
    name: str = ""
    """Catalogue name, or empty for a custom regimen."""

    def __post_init__(self) -> None:
        check_choice("drug", self.drug, drug_names())
        check_nonnegative("dose_mg", self.dose_mg, strictly_positive=True)
        if not (isinstance(self.doses_per_day, int | np.integer) and self.doses_per_day >= 1):
            raise ValueError(f"doses_per_day = {self.doses_per_day!r} is not accepted: a whole number >= 1")
        if self.days_on is None:
            if self.days_off != 0:
                raise ValueError(f"days_off = {self.days_off!r} needs days_on: accepted a whole number >= 1")
        else:
            for field, v, low in (("days_on", self.days_on, 1), ("days_off", self.days_off, 0)):
                if not (isinstance(v, int | np.integer) and v >= low):
                    raise ValueError(f"{field} = {v!r} is not accepted: a whole number >= {low}")

    @property
    def continuous(self) -> bool:
        """True when there are no days off."""
        return self.days_on is None or self.days_off == 0

    @property
    def cycle_days(self) -> float:
        """Length of one on/off cycle (1 day for continuous dosing)."""
        return 1.0 if self.continuous else float(self.days_on + self.days_off)


def regimen(name: str) -> Regimen:
    """A named regimen from the catalogue, e.g. ``regimen("sunitinib_50mg_4on2off")``."""
    check_choice("regimen", name, regimen_names())
    s = _default().regimens[name]
    return Regimen(s.drug, s.dose_mg, s.doses_per_day, s.days_on, s.days_off, name)


def standard_regimen(drug: str) -> Regimen:
    """The first regimen listed for a drug (its label starting dose)."""
    check_choice("drug", drug, drug_names())
    return regimen(next(n for n, s in _default().regimens.items() if s.drug == drug))


@dataclass(frozen=True)
class PKParameters:
    """Per-patient PK parameters of one drug (arrays of length ``n``)."""

    drug: str
    """Drug name."""
    clearance_l_per_h: np.ndarray
    """Apparent clearance CL/F of the parent at the reference dose (long-term value for imatinib)."""
    volume_l: np.ndarray
    """Apparent volume V/F of the parent."""
    absorption_rate_per_h: np.ndarray
    """First-order absorption rate constant ka."""
    metabolite_ratio: np.ndarray
    """AUC of the active metabolite / AUC of the parent (0 without a metabolite)."""
    metabolite_rate_per_h: float
    """Elimination rate constant of the metabolite (0 without one)."""
    reference_dose_mg: float
    """Dose above which the clearance falls with dose (inf when it does not)."""
    clearance_dose_exponent: float
    """CL(D) = CL · (D / reference)^exponent for D above the reference (0 = linear)."""
    exposure_excess: float
    """Relative bioavailability at day 0 minus 1 (0 = no time dependence)."""
    exposure_decay_per_day: float
    """Rate at which that excess decays."""

    @property
    def n(self) -> int:
        return len(self.clearance_l_per_h)

    def relative_exposure(self, t_days: np.ndarray | float) -> np.ndarray:
        """Relative bioavailability F(t) at days on the drug (1 at long times)."""
        return 1.0 + self.exposure_excess * np.exp(-self.exposure_decay_per_day * np.asarray(t_days, float))

    def modes(self, dose_mg: float) -> tuple[np.ndarray, np.ndarray]:
        """Unit-dose response as modes: amplitude (n, J) in ng/mL per mg and rate (n, J) per day."""
        cl = self.clearance_l_per_h
        if dose_mg > self.reference_dose_mg and self.clearance_dose_exponent != 0.0:
            cl = cl * (dose_mg / self.reference_dose_mg) ** self.clearance_dose_exponent
        return _pk.modes(
            cl_l_per_day=24.0 * cl,
            v_l=self.volume_l,
            ka_per_day=24.0 * self.absorption_rate_per_h,
            metabolite_ratio=self.metabolite_ratio,
            km_per_day=24.0 * self.metabolite_rate_per_h,
        )


def _iiv_sigma(cv: float) -> float:
    # A published %CV read as the CV of a log-normal: sigma² = ln(1 + CV²).
    return float(np.sqrt(np.log1p(cv**2)))


def sample_pk(
    drug: str,
    n: int,
    *,
    rng: np.random.Generator | None,
    catalogue: DrugCatalogue | None = None,
    z: np.ndarray | None = None,
    iiv_cv: dict[str, float] | None = None,
) -> PKParameters:
    """Draw ``n`` patients' PK parameters (log-normal between-patient variability, no covariates).

    ``rng=None`` gives ``n`` copies of the typical (median) patient. Three standard normals are
    drawn per patient whatever the drug, so streams line up across drugs. ``z`` (shape (3, n),
    with ``rng=None``) gives those normals instead, drawn by the caller. ``iiv_cv`` (keys
    ``clearance``, ``volume``) replaces the catalogue's between-patient CVs of the parent drug.
    """
    cat = catalogue or _default()
    check_choice("drug", drug, list(cat.drugs))
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n = {n!r} is not accepted: the number of patients must be a whole number >= 1")
    spec = cat.drugs[drug]
    if z is not None:
        if rng is not None:
            raise ValueError("z and rng are both given: accepted one of them (z: the normals, drawn already)")
        z = np.asarray(z, dtype=float)
        if z.shape != (3, n):
            raise ValueError(f"z has shape {z.shape}; accepted shape (3, {n}): three standard normals per patient")
    else:
        z = np.zeros((3, n)) if rng is None else rng.standard_normal((3, n))
    cv = {"clearance": spec.clearance_iiv_cv.value, "volume": spec.volume_iiv_cv.value}
    for key, value in (iiv_cv or {}).items():
        check_choice("iiv_cv", key, list(cv))
        cv[key] = float(check_nonnegative(f"iiv_cv[{key}]", value))
    eta_cl = _iiv_sigma(cv["clearance"]) * z[0]
    cl = spec.clearance_l_per_h.value * np.exp(eta_cl)
    v = spec.volume_l.value * np.exp(_iiv_sigma(cv["volume"]) * z[1])
    ratio, km = np.zeros(n), 0.0
    if (met := spec.metabolite) is not None:
        # AUC_m / AUC_p = fm·CL_p/CL_m: the ratio moves with the parent's clearance and against the
        # metabolite's, which is correlated with the parent's (Yu 2015 for sunitinib).
        rho = met.clearance_correlation.value
        eta_m = _iiv_sigma(met.clearance_iiv_cv.value) * (rho * z[0] + np.sqrt(1.0 - rho**2) * z[2])
        ratio = met.exposure_ratio.value * np.exp(eta_cl - eta_m)
        km = float(np.log(2.0) / met.half_life_h.value)
    ref, expo = np.inf, 0.0
    if (dc := spec.dose_clearance) is not None:
        ref, expo = dc.reference_dose_mg, float(np.log2(dc.clearance_ratio_at_double_dose.value))
    excess, decay = 0.0, 0.0
    if (ed := spec.exposure_decay) is not None:
        excess, decay = ed.excess_fraction.value, ed.rate_per_day.value
    ka = np.full(n, spec.absorption_rate_per_h.value)
    return PKParameters(drug, cl, v, ka, ratio, km, ref, expo, excess, decay)


def typical_pk(drug: str, *, catalogue: DrugCatalogue | None = None) -> PKParameters:
    """The median patient (all random effects zero)."""
    return sample_pk(drug, 1, rng=None, catalogue=catalogue)


def _check_pair(regimen: Regimen, pk: PKParameters) -> None:
    if not isinstance(regimen, Regimen):
        raise TypeError(
            f"regimen = {regimen!r} is not a Regimen; use regimen(name), name one of {regimen_names()}"
        )
    if pk.drug != regimen.drug:
        raise ValueError(
            f"pk.drug = {pk.drug!r} does not match regimen.drug = {regimen.drug!r}; "
            f"accepted: {regimen.drug!r}"
        )


def steady_state_trough(regimen: Regimen, pk: PKParameters, *, t_days: float | None = None) -> np.ndarray:
    """Trough (ng/mL) at steady state of daily dosing, just before a dose, per patient.

    On an on/off schedule this is the trough on treatment days once steady state is reached (where
    TDM samples are drawn). ``t_days``: days on the drug, for imatinib's time-dependent exposure;
    ``None`` means long-term (the time effect has worn off).
    """
    _check_pair(regimen, pk)
    amp, lam = pk.modes(regimen.dose_mg)
    tau = 1.0 / regimen.doses_per_day
    per_dose = regimen.dose_mg / regimen.doses_per_day
    trough = (amp * per_dose * np.exp(-lam * tau) / -np.expm1(-lam * tau)).sum(axis=1)
    return trough * (1.0 if t_days is None else pk.relative_exposure(t_days))


def steady_state_average(regimen: Regimen, pk: PKParameters, *, t_days: float | None = None) -> np.ndarray:
    """Average concentration (ng/mL) at steady state on treatment days, per patient: dose / CL."""
    _check_pair(regimen, pk)
    amp, lam = pk.modes(regimen.dose_mg)
    avg = (amp * regimen.dose_mg / lam).sum(axis=1)
    return avg * (1.0 if t_days is None else pk.relative_exposure(t_days))


def piece_boundaries(regimen: Regimen, pk: PKParameters, start_day: float, end_day: float) -> np.ndarray:
    """Piece edges in [start_day, end_day]: schedule switches, plus a grid resolving F(t)."""
    cuts = [start_day, end_day]
    if not regimen.continuous:
        cycle, on = regimen.cycle_days, float(regimen.days_on)
        k0 = np.floor(start_day / cycle)
        starts = cycle * np.arange(k0, np.ceil(end_day / cycle) + 1)
        cuts += [*starts, *(starts + on)]
    if pk.exposure_excess > 0 and pk.exposure_decay_per_day > 0:
        num = _default().numerics
        # Resolve F(t) until its excess is below the tolerance; later it is constant enough.
        until = np.log(pk.exposure_excess / num.decay_tolerance) / pk.exposure_decay_per_day
        step = num.max_piece_days
        cuts += list(step * np.arange(np.ceil(until / step) + 1))
    edges = np.unique(np.clip(np.asarray(cuts, float), start_day, end_day))
    return edges if len(edges) > 1 else np.array([start_day, end_day])


def exposure_pieces(
    regimen: Regimen, pk: PKParameters, start_day: float, end_day: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split [start_day, end_day) (days since the drug started) into pieces of constant exposure.

    Returns ``(durations_days (P,), conc_ng_ml (P, n))``: each piece's length and each patient's
    average total concentration over it. Pieces follow the on/off schedule (the off-piece value is
    the average of the washout, the on-piece value includes the approach to steady state) and,
    for imatinib, are at most ``numerics.max_piece_days`` long while F(t) still changes. Dosing is
    assumed to have run on schedule since day 0. An empty interval gives one piece of length 0.
    """
    _check_pair(regimen, pk)
    start = float(check_nonnegative("start_day", start_day))
    end = float(check_nonnegative("end_day", end_day))
    if end < start:
        raise ValueError(f"end_day = {end!r} is before start_day = {start!r}: accepted end_day >= start_day")
    amp, lam = pk.modes(regimen.dose_mg)
    tau = 1.0 / regimen.doses_per_day
    dose = regimen.dose_mg / regimen.doses_per_day
    decay = (pk.exposure_excess, pk.exposure_decay_per_day)
    if regimen.continuous:
        state = _pk.advance(np.zeros_like(amp), amp, lam, dose, tau, 0.0, start, decay)[0]
    elif decay[0] == 0.0:
        state = _pk.periodic_state(amp, lam, dose, tau, regimen.days_on, regimen.days_off, start)
    else:  # on/off with time-dependent F(t): walk the cycles from day 0 (no closed form)
        state = np.zeros_like(amp)
        history = piece_boundaries(regimen, pk, 0.0, start)
        for t0, t1 in itertools.pairwise(history):
            on = (t0 % regimen.cycle_days) < regimen.days_on - 1e-9
            state = _pk.advance(state, amp, lam, dose if on else 0.0, tau, t0, t1, decay)[0]
    edges = piece_boundaries(regimen, pk, start, end)
    durations = np.diff(edges)
    if len(durations) == 1 and durations[0] == 0.0:
        # An empty interval: one piece of length 0 at the concentration just before start_day.
        return durations, state.sum(axis=1)[None, :]
    conc = np.empty((len(durations), pk.n))
    for k, (t0, t1) in enumerate(itertools.pairwise(edges)):
        on = regimen.continuous or (t0 % regimen.cycle_days) < regimen.days_on - 1e-9
        state, integral = _pk.advance(state, amp, lam, dose if on else 0.0, tau, t0, t1, decay)
        conc[k] = integral.sum(axis=1) / (t1 - t0)
    return durations, conc
