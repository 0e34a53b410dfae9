"""Strategies: validation errors name the field and the accepted values; the sequence logic."""

import pytest

from gistsim.clinic.strategy import builtin_strategies, load_strategy
from gistsim.validation import InputError


def test_builtins_express_the_required_rules():
    b = builtin_strategies()
    seq = b["standard-sequence"]
    chain = ["imatinib_400mg_daily"]
    while (nxt := seq.next_regimen(chain[-1])) is not None:
        chain.append(nxt)
    assert chain == [
        "imatinib_400mg_daily", "imatinib_800mg_daily", "sunitinib_50mg_4on2off",
        "regorafenib_160mg_3on1off", "ripretinib_150mg_daily",
    ]
    assert seq.first_regimen("KIT_exon9") == "imatinib_800mg_daily"
    assert seq.first_regimen("PDGFRA_D842V") == "avapritinib_300mg_daily"
    assert seq.first_regimen("KIT_exon11") == "imatinib_400mg_daily"
    # Exon 9 starts on 800 mg and moves on to sunitinib at progression.
    assert seq.next_regimen("imatinib_800mg_daily") == "sunitinib_50mg_4on2off"
    assert b["resect-focal-continue"].focal_progression.max_progressing_lesions == 1
    assert b["resect-residual"].residual_resection is not None
    assert b["bfr14-stop-1y"].stop.after_years == 1
    assert b["bfr14-stop-3y"].stop.after_years == 3


def test_intolerance_skips_the_same_drug():
    seq = builtin_strategies()["standard-sequence"]
    assert seq.next_regimen("imatinib_400mg_daily", other_drug=True) == "sunitinib_50mg_4on2off"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"colour": "red"}, r"colour: unknown key; accepted keys: name, description, start"),
        ({"start": "imatinib_300"}, r"start = 'imatinib_300' is not a known regimen; accepted values: imatinib_400mg_daily"),
        ({"sequence": ["imatinib_800mg_daily", "nilotinib"]}, r"sequence\[1\] = 'nilotinib' is not a known regimen"),
        ({"start_by_driver": {"KIT_exon12": "imatinib_800mg_daily"}}, r"'KIT_exon12' is not a known driver; accepted values: KIT_exon11"),
        ({"focal_progression": {"k": 2}}, r"focal_progression.k: unknown key; accepted keys: max_progressing_lesions, resectable_organs, action, switch_to"),
        ({"focal_progression": {"resectable_organs": ["brain"]}}, r"focal_progression.resectable_organs.0: Input should be 'liver'"),
        ({"focal_progression": {"max_progressing_lesions": 0}}, r"max_progressing_lesions: Input should be greater than 0"),
        ({"focal_progression": {"action": "radiate"}}, r"focal_progression.action: Input should be 'resect', 'continue' or 'switch'"),
        ({"focal_progression": {"action": "switch"}}, r"switch_to is required with action 'switch'"),
        ({"focal_progression": {"action": "switch", "switch_to": "sunitinib"}}, r"switch_to = 'sunitinib' is not a known regimen"),
        ({"focal_progression": {"action": "continue", "max_operations": 1}}, r"max_operations = 1 with action = 'continue'"),
        ({"focal_progression": {"max_operations": 0}}, r"max_operations: Input should be greater than 0"),
        ({"stop": {"after_years": -1}}, r"stop.after_years: Input should be greater than 0"),
    ],
)
def test_bad_strategies_are_refused_with_the_field(change, message):
    raw = {"name": "x", "start": "imatinib_400mg_daily", "sequence": ["imatinib_800mg_daily"]}
    raw.update(change)
    with pytest.raises(InputError, match=message):
        load_strategy(raw)


def test_unknown_strategy_name_lists_builtins(tmp_path):
    with pytest.raises(ValueError, match="built-in strategies: bfr14-stop-1y"):
        load_strategy("no-such-strategy")
    path = tmp_path / "s.yaml"
    path.write_text("name: mine\nstart: imatinib_400mg_daily\nsequence: [sunitinib_50mg_4on2off]\n")
    assert load_strategy(path).next_regimen("imatinib_400mg_daily") == "sunitinib_50mg_4on2off"


def test_driver_specific_sequence():
    seq = builtin_strategies()["standard-sequence"]
    assert seq.next_regimen("avapritinib_300mg_daily", driver="PDGFRA_D842V") == "ripretinib_150mg_daily"
    assert seq.next_regimen("ripretinib_150mg_daily", driver="PDGFRA_D842V") is None
    assert seq.next_regimen("imatinib_400mg_daily", driver="KIT_exon11") == "imatinib_800mg_daily"
    with pytest.raises(InputError, match=r"sequence_by_driver key 'KIT_exon12' is not a known driver"):
        load_strategy({"name": "x", "start": "imatinib_400mg_daily", "sequence_by_driver": {"KIT_exon12": []}})
