"""Baseline characteristics of a trial's patients, checked against pandas on the same files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gistsim.trials.baseline import baseline, baseline_html

ARMS = ("first", "second")


def rows(n: int, *, with_covariates: bool, seed: int = 5) -> pd.DataFrame:
    """One row per patient per arm; the covariates of a patient alike in both arms, its other
    columns not (so that reading another arm's rows would show)."""
    rng = np.random.default_rng(seed)
    patient = pd.DataFrame({
        "patient_id": np.arange(n), "randomised": rng.random(n) < 0.3, "age_years": rng.uniform(30, 85, n),
        "driver": rng.choice(["KIT_exon11", "KIT_exon9", "wild_type"], n, p=[0.7, 0.2, 0.1]),
    })  # fmt: skip
    if with_covariates:
        patient["sex"] = rng.choice(["male", "female"], n)
        patient["primary_site"] = rng.choice(["stomach", "jejunum_ileum", "duodenum"], n)
    frames = []
    for k, arm in enumerate(ARMS):
        frame = patient.assign(arm=arm)
        if k:  # another arm's rows must not be counted: make them visibly different
            frame = frame.assign(age_years=frame.age_years + 100, driver="PDGFRA_other")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write(folder, table: pd.DataFrame, n_blocks: int = 3) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for b, ids in enumerate(np.array_split(table.patient_id.unique(), n_blocks)):
        part = table[table.patient_id.isin(ids)]
        path = folder / f"block-{b:05d}.parquet"
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path)
        paths.append(path)
    return paths


def test_counts_and_ages_are_the_first_arms_in_both_groups(tmp_path):
    table = rows(900, with_covariates=True)
    got = baseline(write(tmp_path, table), "first")
    first = table[table.arm == "first"]
    for group, part in (("all", first), ("randomised", first[first.randomised])):
        assert got[group]["n"] == len(part)
        assert got[group]["age_years"]["median"] == pytest.approx(part.age_years.median(), rel=1e-12)
        assert got[group]["age_years"]["q1"] == pytest.approx(part.age_years.quantile(0.25), rel=1e-12)
        for column in ("driver", "sex", "primary_site"):
            assert got[group][column] == part[column].value_counts().to_dict()
    assert json.loads(json.dumps(got)) == got  # JSON types only (summary.json)


def test_results_without_site_and_sex_give_none_and_the_table_leaves_them_out(tmp_path):
    got = baseline(write(tmp_path, rows(60, with_covariates=False)), "first")
    assert got["all"]["sex"] is None and got["all"]["primary_site"] is None and got["all"]["driver"]
    text = baseline_html(got, ["all", "randomised"])
    assert "Driver mutation" in text and "Sex" not in text and "Primary site" not in text
    assert f"<td>{got['all']['n']:,}</td><td>{got['randomised']['n']:,}</td>" in text


def test_the_table_gives_each_levels_share_of_its_group(tmp_path):
    table = rows(400, with_covariates=True)
    got = baseline(write(tmp_path, table), "first")
    text = baseline_html(got, ["all", "randomised"])
    k, n = got["randomised"]["sex"]["male"], got["randomised"]["n"]
    assert f"{k:,} ({100 * k / n:.0f}%)" in text and "jejunum/ileum" in text and "KIT exon11" in text
