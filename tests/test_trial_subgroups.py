"""Subgroup hazard ratios recover effects that differ between subgroups.

Synthetic exponential survival with a known hazard ratio of the second arm per driver (0.5 in
one, 2.0 in the other, 1.0 in a third) and none by age. Each check: |log HR_hat - log HR| <= 3 SE,
the SE read off the reported 95% CI (two-sided alpha = 0.0027 per check; seeds fixed).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gistsim.trials.subgroups import MIN_PATIENTS, plot_forest, read_rows, subgroup_hazard_ratios, to_records

TRUE_HR = {"KIT_exon11": 0.5, "KIT_exon9": 2.0, "wild_type": 1.0}
DAYS_PER_MONTH = 30.4375
Z95 = 1.959963984540054


def synthetic(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    driver = rng.choice(list(TRUE_HR), n, p=[0.45, 0.45, 0.10])
    patient = pd.DataFrame({"patient_id": np.arange(n), "randomised": True, "driver": driver,
                            "age_years": rng.uniform(30, 85, n), "n_lesions": rng.integers(1, 7, n),
                            "sex": rng.choice(["male", "female"], n), "primary_site": None})  # fmt: skip
    frames = []
    for arm in ("ref", "new"):
        hr = np.array([TRUE_HR[d] for d in driver]) if arm == "new" else 1.0
        death = rng.exponential(600.0 / hr, size=n)
        follow = rng.uniform(365, 2000, n)
        frames.append(patient.assign(arm=arm, os_days=np.minimum(death, follow), os_event=death <= follow))
    return pd.concat(frames, ignore_index=True)


def test_each_drivers_own_hazard_ratio_is_recovered():
    table = subgroup_hazard_ratios(synthetic(3000), ["ref", "new"], ("os_days", "os_event"), DAYS_PER_MONTH)
    checked = 0
    for r in table.itertuples():
        if r.variable != "driver" or not math.isfinite(r.hr):
            continue
        se = (math.log(r.ci_upper) - math.log(r.ci_lower)) / (2 * Z95)
        assert abs(math.log(r.hr) - math.log(TRUE_HR[r.level])) <= 3 * se, (r.level, r.hr)
        checked += 1
    assert checked == 3
    # Age carries no effect of its own here: both levels mix the drivers alike, so neither is 0.5 nor 2.
    ages = table[table.variable == "age"]
    assert len(ages) == 2 and ((ages.ci_lower < 1.5) & (ages.ci_upper > 0.6)).all()
    assert set(table.variable) == {"driver", "age", "lesions"}  # sex and site change no course: no subgroups


def test_small_levels_are_listed_without_an_estimate():
    rows = synthetic(3000)
    few = rows.patient_id.isin(rows.patient_id.unique()[: MIN_PATIENTS - 1])
    rows.loc[few, "driver"] = "PDGFRA_D842V"
    table = subgroup_hazard_ratios(rows, ["ref", "new"], ("os_days", "os_event"), DAYS_PER_MONTH)
    small = table[table.level == "PDGFRA_D842V"].iloc[0]
    assert small.n_arm == MIN_PATIENTS - 1 and math.isnan(small.hr)
    records = to_records(table)
    assert json.loads(json.dumps(records)) == records and records[0]["variable"] == "driver"


def test_rows_are_read_up_to_the_first_blocks_and_need_the_baseline_columns(tmp_path):
    rows = synthetic(300)
    for b, ids in enumerate(np.array_split(np.arange(300), 3)):
        part = rows[rows.patient_id.isin(ids)]
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), tmp_path / f"block-{b:05d}.parquet")
    files = sorted(tmp_path.glob("block-*.parquet"))
    got, patients = read_rows(files, ("os_days", "os_event"), "randomised")
    assert patients == 300 and len(got) == 600
    pq.write_table(pa.Table.from_pandas(rows.drop(columns="n_lesions"), preserve_index=False), tmp_path / "old.parquet")
    assert read_rows([tmp_path / "old.parquet"], ("os_days", "os_event"), "randomised")[1] == 0


def test_forest_plot_has_a_row_per_estimated_level():
    table = subgroup_hazard_ratios(synthetic(3000), ["ref", "new"], ("os_days", "os_event"), DAYS_PER_MONTH)
    ax = plot_forest(table, "ref", "OS")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "driver: KIT exon9" in labels and "lesions: ≥ 4" in labels
    assert len(labels) == int(np.isfinite(table.hr).sum())  # one arm compared: one row per level
    with pytest.raises(KeyError):
        plot_forest(table.drop(columns="hr"), "ref", "OS")
