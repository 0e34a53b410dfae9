"""Clinic-layer parameters (imaging, surgery, seeding, toxicity, death), from ``data/clinic.yaml``."""

from __future__ import annotations

from functools import lru_cache

from gistsim.biology.parameters import Parameter, ParameterSet


class ImagingParameters(ParameterSet):
    measurement_cv: Parameter
    detection_limit_mm: Parameter
    necrosis_half_life_days: Parameter
    scar_fraction: Parameter
    scar_half_life_days: Parameter
    resorption_exponent: Parameter
    viable_hu: Parameter
    necrotic_hu: Parameter


class PathologyParameters(ParameterSet):
    secondary_detection_fraction: Parameter
    lesions_sampled: Parameter


class SurgeryParameters(ParameterSet):
    r0_probability: Parameter
    residual_cells: Parameter
    perioperative_death_probability: Parameter
    recovery_days: Parameter
    reoperation_probability: Parameter


class SeedingParameters(ParameterSet):
    rate_per_cell_per_day: Parameter


class ToxicityParameters(ParameterSet):
    dose_reduction_per_year_imatinib_800: Parameter
    discontinuation_per_year: Parameter


class DeathParameters(ParameterSet):
    gompertz_rate_at_60_per_year: Parameter
    gompertz_doubling_years: Parameter
    burden_hazard_per_year_at_reference: Parameter
    burden_reference_cells: Parameter
    burden_exponent: Parameter
    hazard_per_year_per_failure: Parameter
    failures_exempt: Parameter
    lethal_volume_cm3: Parameter


class ClinicParameters(ParameterSet):
    """Everything the clinic layer needs besides drugs and potency."""

    imaging: ImagingParameters
    pathology: PathologyParameters
    surgery: SurgeryParameters
    seeding: SeedingParameters
    toxicity: ToxicityParameters
    death: DeathParameters


@lru_cache(maxsize=2)
def _default(calibrated: bool) -> ClinicParameters:
    from gistsim._calibrated import load_group

    return load_group(ClinicParameters, "clinic.yaml", "clinic", calibrated)


def default_clinic(*, calibrated: bool = True) -> ClinicParameters:
    """The shipped clinic parameters (a fresh copy, safe to modify); ``calibrated=False``: the values before calibration."""
    return _default(calibrated).model_copy(deep=True)
