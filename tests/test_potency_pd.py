"""Potency table and the kill rate: the §3a sensitivity matrix at clinical exposure, and DrugRates."""

import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import default_evolution
from gistsim.clinic import drugs as D
from gistsim.clinic import potency as P
from gistsim.clinic.pd import DrugRates, kill_fraction, kill_rate_per_day
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import MutationModel
from gistsim.engine.step import advance

REG = default_registry()
DRUGS = ["imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"]

# model_parameters.md §3a, transcribed here independently of potency.yaml. Only S and R cells are
# tested; I, mixed (S/I, R/I, I/R) and '?' cells are not. Secondary mutations on a KIT exon 11
# background. C809G is not in §3a: it is treated as the D820/N822/Y823 activation-loop class.
MATRIX = {
    ("KIT_exon11",): "S S S S S",
    ("KIT_exon9",): "I S S/I S S/I",
    ("KIT_exon11", "V654A"): "R S R/I I/R R",
    ("KIT_exon11", "T670I"): "R S S/I I R/I",
    ("KIT_exon11", "D816"): "R R R/I S S",
    ("KIT_exon11", "D820"): "R R/I S S S",
    ("KIT_exon11", "N822"): "R R/I S S S",
    ("KIT_exon11", "Y823"): "R R/I S S S",
    ("KIT_exon11", "C809G"): "R R/I S S S",
    ("KIT_exon11", "A829P"): "R R ? S ?",
    ("PDGFRA_D842V",): "R R R I S",
    ("wild_type",): "R/I I I I ?",
}
def _drug_only() -> P.Potency:
    # The shipped potency with the host's kill on imatinib removed: these tests are about the
    # drug's own kill (the host kill has its own, tests/test_host_kill.py).
    params = P.default_potency_parameters()
    for p in params.host_kill_per_day.values():
        p.value = 0.0
    return P.build_potency(params)


DRUG_ONLY = _drug_only()
S_MIN = 0.5  # sensitive: at least half the maximal kill at the median patient's exposure


def _r_max() -> float:
    # Resistant: the kill at median exposure is below the untreated net growth rate, so a resistant
    # clone still grows on the drug (0.005 / 0.044 = 0.11 with the shipped values).
    evo = default_evolution()
    return evo.net_growth_rate_per_day.value / P.default_potency().emax_per_day


#: The data file's values, before calibration: potency.yaml's rules place its medians so that §3a holds.
UNCALIBRATED = P.build_potency(P.default_potency_parameters(calibrated=False))


def _fraction(drug: str, code: int, regimen_name: str | None = None, potency: P.Potency | None = None) -> float:
    reg = D.regimen(regimen_name) if regimen_name else D.standard_regimen(drug)
    conc = D.steady_state_average(reg, D.typical_pk(drug))
    return float(kill_fraction(conc, P.ec50_ng_ml(drug, [code], potency=potency), P.hill(drug, potency=potency))[0])


CELLS = [
    (geno, drug, cls)
    for geno, row in MATRIX.items()
    for drug, cls in zip(DRUGS, row.split())
    if cls in ("S", "R")
]


@pytest.mark.parametrize("geno,drug,cls", CELLS, ids=[f"{'+'.join(g)}-{d}-{c}" for g, d, c in CELLS])
def test_sensitivity_matrix_at_clinical_exposure(geno, drug, cls):
    # potency.yaml's rules, at the data file's values. Calibration may then scale a drug's EC50s as
    # a whole (potency.ec50_scale: the in-vitro-to-plasma conversion is unknown, §3c), which moves
    # the drug's level and keeps what it inhibits better (the next test).
    f = _fraction(drug, REG.code(geno[0], list(geno[1:])), potency=UNCALIBRATED)
    if cls == "S":
        assert f >= S_MIN
    else:
        assert f <= _r_max()


ACTIVATION_LOOP = ("D816", "D820", "N822", "Y823", "C809G", "A829P")


def test_the_shipped_set_keeps_the_matrix_order_and_the_clinical_directions():
    # With the calibrated potency: within each drug every §3a S cell is inhibited more than every R
    # cell; ripretinib inhibits the activation-loop mutants more than sunitinib does (INTRIGUE's
    # ctDNA analysis, model_parameters.md §5; its ATP-pocket direction is the test below) and more
    # than its own ATP-pocket mutants.
    for drug in DRUGS:
        kill = {cls: [_fraction(d, REG.code(g[0], list(g[1:]))) for g, d, c in CELLS if d == drug and c == cls]
                for cls in ("S", "R")}  # fmt: skip
        if kill["R"]:  # ripretinib has no §3a R cell: its order is the loop below
            assert min(kill["S"]) > max(kill["R"]), drug
    for sec in ACTIVATION_LOOP:
        code = REG.code("KIT_exon11", [sec])
        rip, sun = _fraction("ripretinib", code), _fraction("sunitinib", code)
        assert rip > sun and rip > _fraction("ripretinib", REG.code("KIT_exon11", ["V654A"])), sec


def test_pdgfra_d842v_only_avapritinib_is_effective():
    code = REG.code("PDGFRA_D842V")
    fractions = {d: _fraction(d, code) for d in DRUGS}
    assert [d for d, f in fractions.items() if f >= S_MIN] == ["avapritinib"]


def test_exon9_needs_800mg():
    code = REG.code("KIT_exon9")
    f400 = _fraction("imatinib", code, "imatinib_400mg_daily")
    f800 = _fraction("imatinib", code, "imatinib_800mg_daily")
    # model_parameters.md §3a: "I (dose-dependent; 800 mg)": not sensitive at 400 mg, much more kill
    # at 800 mg, near the sensitive threshold there (calibrated-2026-12-02b, EC50 4,200: 0.25 -> 0.46;
    # the matrix's I spans the gap between R and S, so 0.1 below S_MIN is still at its top).
    assert f400 < S_MIN and f800 - f400 >= 0.15 and f800 >= S_MIN - 0.1
    assert P.ec50_ng_ml("imatinib", [code])[0] >= 3 * P.ec50_ng_ml("imatinib", [REG.code("KIT_exon11")])[0]


def test_most_resistant_component_dominates():
    params = P.default_potency_parameters()
    for drug in DRUGS:
        own = params.ec50_ng_ml[drug]
        for g in range(REG.n_genotypes):
            names = [REG.drivers[REG.driver_of[g]].name]
            names += [s.name for k, s in enumerate(REG.secondary) if REG.secondary_mask[g] >> k & 1]
            scale = params.ec50_scale[drug].value if drug in params.ec50_scale else 1.0
            assert P.ec50_ng_ml(drug, [g])[0] == pytest.approx(scale * max(own[n].value for n in names), rel=1e-12)


def test_anchors_follow_the_documented_rule():
    # The rule holds for the data file; calibration may then move a drug's EC50s as a whole.
    unscaled = P.build_potency(P.default_potency_parameters(calibrated=False))
    # potency.yaml rule 1: exon-11 EC50 = median exposure / kappa (4; ripretinib 15). Fails if the
    # PK medians change without regenerating the potency medians.
    exon11 = REG.code("KIT_exon11")
    for drug in DRUGS:
        kappa = 15.0 if drug == "ripretinib" else 4.0
        assert P.median_exposure_ng_ml(drug) / P.ec50_ng_ml(drug, [exon11], potency=unscaled)[0] == pytest.approx(
            kappa, rel=0.01
        )


def test_typical_exon11_patient_on_imatinib_is_killed_at_the_bozic_rate():
    # The data files' values (the priors' centres; calibration may move them): net decline
    # -0.03/d on therapy (Bozic 2013) from +0.005/d untreated -> kill ~0.035/d.
    reg = D.regimen("imatinib_400mg_daily")
    _dur, conc = D.exposure_pieces(reg, D.typical_pk("imatinib"), 300.0, 384.0)
    evo = default_evolution(calibrated=False)
    rates = DrugRates(
        birth_rate_per_day=evo.birth_rate_per_day.value,
        death_rate_per_day=evo.death_rate_per_day,
        conc_ng_ml=conc,
        drug="imatinib",
        potency=P.build_potency(P.default_potency_parameters(calibrated=False)),
    )
    kill = rates.kill_per_day(np.array([0]), np.array([REG.code("KIT_exon11")]))
    assert kill[0, 0] == pytest.approx(0.035, rel=0.05)


def test_sample_potency_and_table():
    a, b = P.sample_potency(np.random.default_rng(3)), P.sample_potency(np.random.default_rng(3))
    np.testing.assert_array_equal(a.ec50_ng_ml, b.ec50_ng_ml)
    assert (a.ec50_ng_ml > 0).all() and not np.array_equal(a.ec50_ng_ml, P.default_potency().ec50_ng_ml)
    rows = P.potency_table()
    assert len(rows) == len(DRUGS) * (len(REG.drivers) + len(REG.secondary))
    assert all(r["source"] and r["ec50_ng_ml"] > 0 for r in rows)
    text = P.format_potency_table()
    assert "imatinib" in text and "A829P" in text


# (f) DrugRates --------------------------------------------------------------------------------------


def test_drug_rates_shapes_and_exact_kill():
    rng = np.random.default_rng(0)
    n_groups, m = 6, 500
    birth = rng.uniform(0.02, 0.06, REG.n_genotypes)
    death = birth - 0.005
    conc = rng.uniform(0, 3000, (3, n_groups))
    drugs = ["imatinib", "sunitinib", None, "regorafenib", "ripretinib", "avapritinib"]
    rates = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death, conc_ng_ml=conc, drug=drugs, potency=DRUG_ONLY)
    group, geno = rng.integers(0, n_groups, m), rng.integers(0, REG.n_genotypes, m)
    b, d = rates.rates(group, geno)
    assert b.shape == d.shape == (3, m)
    np.testing.assert_array_equal(b, np.broadcast_to(birth[geno], (3, m)))
    pot = DRUG_ONLY
    expected = np.zeros((3, m))
    for i in range(m):
        name = drugs[group[i]]
        if name is not None:
            expected[:, i] = kill_rate_per_day(
                conc[:, group[i]], pot.ec50(name, [geno[i]]), P.hill(name), pot.emax_per_day
            )
    np.testing.assert_allclose(d - death[geno], expected, rtol=1e-12, atol=1e-15)
    untreated = group == 2  # drugs[2] is None
    assert (d[:, untreated] == death[geno[untreated]]).all()


def test_kill_factor_scales_only_the_kill_of_its_patient():
    birth = np.full(REG.n_genotypes, 0.04)
    death = np.full(REG.n_genotypes, 0.035)
    conc = np.array([[1500.0, 1500.0, 1500.0]])
    geno = np.full(3, REG.code("KIT_exon11"))
    plain = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death, conc_ng_ml=conc, drug="imatinib",
                      potency=DRUG_ONLY)  # fmt: skip
    factor = np.array([1.0, 2.5, 0.0])
    scaled = DrugRates(
        birth_rate_per_day=birth, death_rate_per_day=death, conc_ng_ml=conc, drug="imatinib", group_kill=factor,
        potency=DRUG_ONLY,
    )
    (b0, d0), (b1, d1) = plain.rates(np.arange(3), geno), scaled.rates(np.arange(3), geno)
    np.testing.assert_array_equal(b1, b0)  # growth untouched
    np.testing.assert_allclose(d1 - death[geno], factor * (d0 - death[geno]), rtol=1e-12)
    assert (d0 > death[geno]).all()  # the drug kills at all, so the comparison means something
    with pytest.raises(ValueError, match="group_kill"):
        DrugRates(birth_rate_per_day=birth, death_rate_per_day=death, conc_ng_ml=conc, drug="imatinib",
                  group_kill=np.array([1.0, -1.0, 1.0]))  # fmt: skip


def test_untreated_rates_and_engine_step():
    untreated = DrugRates(birth_rate_per_day=0.04, death_rate_per_day=0.035, n_pieces=2)
    b, d = untreated.rates(np.array([0, 1]), np.array([0, 5]))
    assert b.shape == (2, 2) and (d == 0.035).all()
    # One engine step on imatinib: the sensitive clone shrinks, the V654A clone does not.
    sens, res = REG.code("KIT_exon11"), REG.code("KIT_exon11", ["V654A"])
    table = CloneTable.from_arrays(
        lesion=[0, 0], genotype=[sens, res], count=[10**9, 10**6], n_genotypes=REG.n_genotypes, group=[0, 0]
    )
    reg = D.regimen("imatinib_400mg_daily")
    dur, conc = D.exposure_pieces(reg, D.typical_pk("imatinib"), 300.0, 384.0)
    rates = DrugRates(birth_rate_per_day=0.04, death_rate_per_day=0.035, conc_ng_ml=conc, drug="imatinib",
                      potency=DRUG_ONLY)  # fmt: skip
    advance(table, dur, rates, MutationModel.none(REG.n_genotypes), rng=np.random.default_rng(1))
    after = dict(zip(table.genotype.tolist(), table.count.tolist()))
    assert after[sens] < 0.2 * 10**9 and after[res] > 10**6


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (
            {"conc_ng_ml": np.ones(4), "drug": "imatinib"},
            r"conc_ng_ml has shape \(4,\); accepted shape \(n_pieces, n_groups\)",
        ),
        (
            {"conc_ng_ml": np.ones((1, 3)), "drug": ["imatinib"]},
            r"drug has 1 entries; accepted one per group \(3",
        ),
        (
            {"conc_ng_ml": np.ones((1, 2)), "drug": "gleevec"},
            r"drug = 'gleevec' is not known; accepted values: 'imatinib'",
        ),
        (
            {"conc_ng_ml": np.ones((1, 3)), "drug": ["imatinib", None, "gleevec"]},
            r"drug\[2\] = 'gleevec' is not known; accepted values: 'imatinib'",
        ),
        (
            {"conc_ng_ml": np.ones((1, 3)), "drug": np.array([0, -1, 99])},
            r"drug\[2\] = 99 is not accepted: a drug code in -1\.\.",
        ),
        (
            {"conc_ng_ml": np.ones((1, 3)), "drug": np.array([0, 1])},
            r"drug has shape \(2,\); accepted one code per group \(3",
        ),
        ({"conc_ng_ml": np.ones((1, 2))}, r"drug is None: accepted a drug name"),
        ({"drug": "imatinib"}, r"drug is given but conc_ng_ml is None"),
        ({"conc_ng_ml": -np.ones((1, 2)), "drug": "imatinib"}, r"conc_ng_ml\[0, 0\] = -1.0 is not accepted"),
    ],
)
def test_drug_rates_bad_input(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        DrugRates(birth_rate_per_day=0.04, death_rate_per_day=0.035, **kwargs)


def test_bad_genotype_and_rate_shapes():
    g = REG.n_genotypes
    with pytest.raises(
        ValueError, match=rf"birth_rate_per_day has shape \(3,\); accepted a scalar or shape \({g},\)"
    ):
        DrugRates(birth_rate_per_day=np.ones(3), death_rate_per_day=0.035)
    with pytest.raises(ValueError, match=rf"genotype_codes = \[{g}\] is not accepted: integer codes in 0..{g - 1}"):
        P.ec50_ng_ml("imatinib", [g])
    with pytest.raises(ValueError, match=r"drug = 'imatinb' is not known"):
        P.hill("imatinb")
    with pytest.raises(ValueError, match=r"hill = -1.0 is not accepted"):
        kill_fraction(100.0, 10.0, -1.0)


def test_ripretinib_is_not_sensitive_for_the_atp_pocket():
    # §3a 'I/R' and 'I' (INTRIGUE: ATP-pocket-only patients progress sooner on ripretinib than on
    # sunitinib): below the 'S' limit, and below sunitinib's kill of the same clones.
    for sec in ("V654A", "T670I"):
        code = REG.code("KIT_exon11", [sec])
        rip, sun = _fraction("ripretinib", code), _fraction("sunitinib", code)
        assert rip < S_MIN and rip < sun


def test_drug_codes_give_the_rates_drug_names_give():
    potency = P.default_potency()
    names = [potency.drugs[1], None, potency.drugs[0], potency.drugs[1]]
    codes = np.array([1, -1, 0, 1])
    conc = np.array([[800.0, 0.0, 1200.0, 50.0], [400.0, 0.0, 30.0, 900.0]])
    common = dict(birth_rate_per_day=0.04, death_rate_per_day=0.035, conc_ng_ml=conc, potency=potency)
    by_name, by_code = DrugRates(drug=names, **common), DrugRates(drug=codes, **common)
    group, genotype = np.array([0, 1, 2, 3, 0, 2]), np.array([0, 0, 1, 2, 3, 0])
    for a, b in zip(by_name.rates(group, genotype), by_code.rates(group, genotype)):
        np.testing.assert_array_equal(a, b)
    # The untreated group has no kill, the treated ones do.
    kill = by_code.kill_per_day(group, genotype)
    assert (kill[:, 1] == 0).all() and (kill[:, [0, 2, 3]] > 0).all()


def _numpy_rates(r: DrugRates, group, genotype, lesion):
    """The rates as numpy composes them (the formulas of DrugRates' docstring, array by array):
    the reference the compiled pass must equal bit for bit."""
    birth = np.broadcast_to(r.birth_rate_per_day[genotype], (r.n_pieces, len(genotype))).copy()
    death = r.death_rate_per_day[genotype]
    f = None if r.group_growth is None else r.group_growth[group]
    if r.group_escape is not None:
        e = np.where(r.potency.registry.bypass_carrier[genotype], r.group_escape[group], 1.0)
        f = e if f is None else f * e
    if r.lesion_secondary is not None:
        e = np.where(r.potency.registry.kit_secondary_mask[genotype] != 0, r.lesion_secondary[lesion], 1.0)
        f = e if f is None else f * e
    if f is not None:
        birth = np.maximum(death + (birth - death) * f, 0.0)
    s = None if r.group_scale is None else r.group_scale[group]
    if r.lesion_scale is not None:
        s = r.lesion_scale[lesion] if s is None else s * r.lesion_scale[lesion]
    if s is not None:
        birth, death = birth * s, death * s
    return birth, death + r.kill_per_day(group, genotype)


@pytest.mark.parametrize("seed", range(6))
def test_compiled_rates_equal_the_numpy_composition_bit_for_bit(seed):
    """Every optional factor on or off (by seed), treated groups on different drugs and untreated
    ones, a pause (zero exposure) in some pieces, the host's kill with and without its factor and cap."""
    rng = np.random.default_rng(seed)
    pot = P.default_potency()
    reg = pot.registry
    n_groups, n_lesions, n_clones, n_pieces = 7, 9, 300, 3
    on = rng.random(7) < 0.5 if seed > 1 else np.full(7, seed == 1)
    kw = {
        "birth_rate_per_day": rng.uniform(0.01, 0.05, reg.n_genotypes),
        "death_rate_per_day": rng.uniform(0.0, 0.04, reg.n_genotypes),
        "potency": pot,
    }
    for k, (name, size) in enumerate([("group_scale", n_groups), ("group_growth", n_groups), ("group_escape", n_groups),
                                      ("lesion_secondary", n_lesions), ("group_kill", n_groups), ("group_host", n_groups),
                                      ("lesion_scale", n_lesions)]):  # fmt: skip
        if on[k]:
            kw[name] = rng.uniform(0.3, 2.0, size)
    group = rng.integers(0, n_groups, n_clones)
    genotype = rng.integers(0, reg.n_genotypes, n_clones)
    lesion = rng.integers(0, n_lesions, n_clones)
    conc = rng.uniform(0.0, 3000.0, (n_pieces, n_groups))
    conc[1, :3] = 0.0
    code = rng.integers(-1, len(pot.drugs), n_groups)
    for rates in (DrugRates(n_pieces=n_pieces, **kw), DrugRates(conc_ng_ml=conc, drug=code, **kw)):
        got = rates.rates(group, genotype, lesion)
        expected = _numpy_rates(rates, group, genotype, lesion)
        for a, e in zip(got, expected):
            assert a.shape == e.shape
            np.testing.assert_array_equal(a, e)
