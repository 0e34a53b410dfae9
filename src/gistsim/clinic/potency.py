"""Potency of each drug against each genotype: EC50 on the total plasma scale and a Hill exponent.

Values live in ``data/potency.yaml`` (its header states how every median was set from
model_parameters.md §3a and §3b). A genotype is a driver plus secondary KIT mutations; for each
drug it takes the *highest* EC50 among its components, because secondary mutations arise in cis
with the primary one and the receptor they produce is as resistant as its most resistant change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gistsim.biology.genotypes import GenotypeRegistry, default_registry
from gistsim.biology.parameters import Parameter
from gistsim.clinic.drugs import drug_names, standard_regimen, steady_state_average, typical_pk
from gistsim.errors import check_choice


class PotencyParameters(BaseModel):
    """The potency file: maximal kill, Hill exponents and EC50s, each with a prior and a source."""

    model_config = ConfigDict(extra="forbid")
    emax_per_day: Parameter
    hill: dict[str, Parameter]
    ec50_scale: dict[str, Parameter] = Field(default_factory=dict)
    """Per drug, a factor on all its EC50s: how far the clinical potency of the drug as a whole
    stands from the in-vitro-derived values (free fraction in plasma, §3c); 1 when absent."""
    host_kill_per_day: dict[str, Parameter] = Field(default_factory=dict)
    """Per drug, a kill rate on every tumour cell whatever its genotype while the drug is present
    (the host's immune response to the drug); 0 when absent."""
    ec50_ng_ml: dict[str, dict[str, Parameter]]

    def check_against(self, registry: GenotypeRegistry) -> None:
        """Raise unless there is a Hill exponent and a full row set for every catalogue drug."""
        rows = [d.name for d in registry.drivers] + [s.name for s in registry.secondary]
        for section in ("hill", "ec50_ng_ml"):
            got = getattr(self, section)
            if sorted(got) != sorted(drug_names()):
                raise ValueError(
                    f"{section} has drugs {sorted(got)}; accepted exactly {sorted(drug_names())}"
                )
        for section in ("ec50_scale", "host_kill_per_day"):
            unknown = sorted(set(getattr(self, section)) - set(drug_names()))
            if unknown:
                raise ValueError(f"{section} has unknown drugs {unknown}; accepted: {sorted(drug_names())}")
        for drug, table in self.ec50_ng_ml.items():
            if sorted(table) != sorted(rows):
                missing, extra = sorted(set(rows) - set(table)), sorted(set(table) - set(rows))
                raise ValueError(
                    f"ec50_ng_ml.{drug} rows missing {missing}, unknown {extra}; accepted rows: {rows}"
                )
            for row, par in table.items():
                if par.value <= 0:
                    raise ValueError(
                        f"ec50_ng_ml.{drug}.{row}.value = {par.value!r}: accepted values are > 0"
                    )

    def sample(self, rng: np.random.Generator) -> PotencyParameters:
        """A copy with every value drawn from its prior (drugs, then rows, in file order)."""
        new = self.model_copy(deep=True)
        pars = [new.emax_per_day, *new.hill.values()]
        pars += [p for table in new.ec50_ng_ml.values() for p in table.values()]
        pars += list(new.ec50_scale.values())
        pars += list(new.host_kill_per_day.values())
        for par in pars:
            par.value = float(par.prior.sample(rng))
        return new


@dataclass(frozen=True)
class Potency:
    """A potency parameter set resolved over every genotype code of a registry."""

    drugs: tuple[str, ...]
    """Drug names; row ``i`` of :attr:`ec50_ng_ml` belongs to ``drugs[i]``."""
    ec50_ng_ml: np.ndarray
    """EC50 (ng/mL, total plasma scale), shape (n_drugs, n_genotypes)."""
    hill: np.ndarray
    """Hill exponent per drug, shape (n_drugs,)."""
    emax_per_day: float
    """Maximal kill rate (per day) added to the death rate at saturating concentration."""
    registry: GenotypeRegistry
    """The genotype codes the columns refer to."""
    parameters: PotencyParameters
    """The parameter set this was built from (for reports and provenance)."""
    host_kill_per_day: np.ndarray | None = None
    """Per drug, shape (n_drugs,): kill of every genotype while the drug is present; None = 0."""
    host_kill_cap_per_day: np.ndarray | None = None
    """Per drug, shape (n_drugs,): the most a patient's host kill may be (its prior's top; inf
    for a prior without one) once scaled by the patient's factor (evolution.host_kill_iiv_sigma_log)."""

    def drug_index(self, drug: str) -> int:
        check_choice("drug", drug, self.drugs)
        return self.drugs.index(drug)

    def ec50(self, drug: str, genotype_codes: np.ndarray | list[int] | int) -> np.ndarray:
        """EC50 (ng/mL) of ``drug`` for each genotype code."""
        codes = np.asarray(genotype_codes)
        n = self.registry.n_genotypes
        if codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0 or codes.max() >= n)):
            raise ValueError(
                f"genotype_codes = {genotype_codes!r} is not accepted: integer codes in 0..{n - 1} "
                "(see default_registry())"
            )
        return self.ec50_ng_ml[self.drug_index(drug)][codes]


def build_potency(params: PotencyParameters, registry: GenotypeRegistry | None = None) -> Potency:
    """Resolve a parameter set over all genotypes: the maximum EC50 of the driver and secondaries."""
    reg = registry or default_registry()
    params.check_against(reg)
    drugs = tuple(drug_names())
    mask = reg.secondary_mask.astype(np.int64)
    ec50 = np.empty((len(drugs), reg.n_genotypes))
    for i, drug in enumerate(drugs):
        table = params.ec50_ng_ml[drug]
        driver = np.array([table[d.name].value for d in reg.drivers])
        out = driver[reg.driver_of]
        for k, sec in enumerate(reg.secondary):
            carries = (mask >> k) & 1 == 1
            out = np.where(carries, np.maximum(out, table[sec.name].value), out)
        scale = params.ec50_scale.get(drug)
        ec50[i] = out * (scale.value if scale is not None else 1.0)
    hill = np.array([params.hill[d].value for d in drugs])
    host = np.array([params.host_kill_per_day[d].value if d in params.host_kill_per_day else 0.0 for d in drugs])
    # The prior's top bounds what the host can do (potency.yaml: more would hold a D842V tumour on
    # imatinib, which it does not), for a patient whose factor is high as for the typical one.
    cap = np.array([params.host_kill_per_day[d].prior.top if d in params.host_kill_per_day else 0.0 for d in drugs])
    # None when every drug's host kill is 0, so the rate model skips it (and its results are unchanged).
    return Potency(drugs, ec50, hill, params.emax_per_day.value, reg, params, host if host.any() else None, cap)


@lru_cache(maxsize=2)
def _default_parameters(calibrated: bool = True) -> PotencyParameters:
    from gistsim._calibrated import load_group

    return load_group(PotencyParameters, "potency.yaml", "potency", calibrated)


@lru_cache(maxsize=1)
def default_potency() -> Potency:
    """The shipped (median) potency set over the default genotype registry."""
    return build_potency(_default_parameters().model_copy(deep=True))


def default_potency_parameters(*, calibrated: bool = True) -> PotencyParameters:
    """The shipped parameter file (a fresh copy, safe to modify); ``calibrated=False``: the values before calibration."""
    return _default_parameters(calibrated).model_copy(deep=True)


def sample_potency(rng: np.random.Generator) -> Potency:
    """A potency set with every EC50, Hill exponent and Emax drawn from its prior."""
    return build_potency(_default_parameters().sample(rng))


def ec50_ng_ml(
    drug: str, genotype_codes: np.ndarray | list[int] | int, *, potency: Potency | None = None
) -> np.ndarray:
    """EC50 (ng/mL, total plasma scale) of ``drug`` for each genotype code (default: median set)."""
    return (potency or default_potency()).ec50(drug, genotype_codes)


def hill(drug: str, *, potency: Potency | None = None) -> float:
    """Hill exponent of ``drug`` (default: median set)."""
    pot = potency or default_potency()
    return float(pot.hill[pot.drug_index(drug)])


def median_exposure_ng_ml(drug: str) -> float:
    """Median patient's steady-state average on the drug's standard regimen (on treatment days)."""
    return float(steady_state_average(standard_regimen(drug), typical_pk(drug))[0])


def potency_table(potency: Potency | None = None) -> list[dict[str, object]]:
    """One row per drug × genotype component: EC50, prior, kill fraction at median exposure, source."""
    pot = potency or default_potency()
    rows = []
    for i, drug in enumerate(pot.drugs):
        conc = median_exposure_ng_ml(drug)
        h = pot.hill[i]
        for row, par in pot.parameters.ec50_ng_ml[drug].items():
            ec = par.value
            rows.append(
                {
                    "drug": drug,
                    "component": row,
                    "ec50_ng_ml": ec,
                    "prior_sigma_log": par.prior.sigma_log if par.prior.kind == "lognormal" else None,
                    "hill": float(h),
                    "median_exposure_ng_ml": conc,
                    "kill_fraction_at_median_exposure": conc**h / (conc**h + ec**h),
                    "source": par.source,
                }
            )
    return rows


def format_potency_table(potency: Potency | None = None) -> str:
    """A text matrix for reports: EC50 (ng/mL) and, in brackets, the kill fraction at median exposure."""
    pot = potency or default_potency()
    rows = potency_table(pot)
    components = list(dict.fromkeys(r["component"] for r in rows))
    cell = {(r["drug"], r["component"]): r for r in rows}
    width = 18
    out = [f"{'component':<14}" + "".join(f"{d:>{width}}" for d in pot.drugs)]
    for comp in components:
        parts = []
        for d in pot.drugs:
            r = cell[(d, comp)]
            parts.append(f"{r['ec50_ng_ml']:>10.3g} ({r['kill_fraction_at_median_exposure']:.2f})")
        out.append(f"{comp:<14}" + "".join(f"{p:>{width}}" for p in parts))
    out.append(
        "EC50 in ng/mL of total plasma concentration; (kill fraction C^h/(C^h+EC50^h) at the median "
        "patient's steady-state average on the standard regimen)"
    )
    return "\n".join(out)
