import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry


def test_counts_and_round_trip():
    reg = default_registry()
    kit = [d for d in reg.drivers if d.acquires_secondary_kit]
    s = len(reg.secondary)
    b = sum(not m.kit for m in reg.secondary)  # KIT-independent groups: any driver acquires them
    assert reg.n_genotypes == len(kit) * (1 + s + s * (s - 1) // 2) + (len(reg.drivers) - len(kit)) * (1 + b)
    for code in range(reg.n_genotypes):
        parts = reg.name(code).split("+")
        assert reg.code(parts[0], parts[1:]) == code


def test_mutants_carry_at_most_two_secondaries():
    reg = default_registry()
    targets = reg.mutant_of[reg.mutant_of >= 0]
    assert reg.n_secondary(targets).max() == reg.max_secondary == 2
    pdgfra = reg.code("PDGFRA_D842V")
    kit_groups = np.array([m.kit for m in reg.secondary])
    # A PDGFRA tumour acquires no secondary KIT mutation, only KIT-independent resistance.
    assert (reg.mutant_of[pdgfra][kit_groups] == -1).all()
    assert reg.name(reg.mutant_of[pdgfra][~kit_groups][0]) == "PDGFRA_D842V+KIT_independent"
    double = reg.code("KIT_exon11", ["V654A", "D816"])
    assert (reg.mutant_of[double] == -1).all()


def test_kit_masks_leave_out_the_bypass():
    reg = default_registry()
    both = reg.code("KIT_exon11", ["D816", "KIT_independent"])
    assert reg.bypass_carrier[both] and not reg.bypass_carrier[reg.code("KIT_exon11", ["D816"])]
    assert reg.kit_secondary_mask[both] == reg.secondary_mask[reg.code("KIT_exon11", ["D816"])]
    assert reg.bypass_carrier.sum() == sum(
        1 for c in range(reg.n_genotypes) if "KIT_independent" in reg.name(c).split("+")
    )


def test_target_sizes_match_reference():
    # model_parameters.md §5: ~20-25 recurrent single-nucleotide changes in all.
    reg = default_registry()
    total = reg.target_size_bp[[m.kit for m in reg.secondary]].sum()
    assert 20 <= total <= 25
    assert np.isnan(reg.target_size_bp[[not m.kit for m in reg.secondary]]).all()  # a parameter


def test_unknown_names_say_what_is_accepted():
    reg = default_registry()
    with pytest.raises(ValueError, match="driver = 'KIT_exon12'.*'KIT_exon11'"):
        reg.code("KIT_exon12")
    with pytest.raises(ValueError, match="secondary mutation = 'D999'.*'V654A'"):
        reg.code("KIT_exon11", ["D999"])
    with pytest.raises(ValueError, match="cannot be formed"):
        reg.code("PDGFRA_D842V", ["V654A"])
    with pytest.raises(ValueError, match="out of range"):
        reg.name(reg.n_genotypes)


def test_driver_frequencies_sum_to_100():
    assert sum(d.frequency_percent for d in default_registry().drivers) == pytest.approx(100)
    assert np.all(default_registry().driver_of >= 0)
