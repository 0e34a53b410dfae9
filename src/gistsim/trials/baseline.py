"""Baseline characteristics of a trial's patients (a trial report's "Table 1").

Every arm treats the same patients, so the characteristics are read from the first arm's rows:
all simulated patients, and those randomised into the comparison. The table shows who reaches
the randomisation (at focal progression: fewer KIT exon 9, for instance), not a balance check,
which shared patients make moot.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

#: Columns a baseline needs; ``OPTIONAL`` ones are absent from results written before they existed.
REQUIRED = ("arm", "randomised", "age_years", "driver")
OPTIONAL = ("sex", "primary_site")


def baseline(files: list[Path], first_arm: str) -> dict[str, dict[str, Any]]:
    """Per group (``all``, ``randomised``): ``n``, ``age_years`` (median, q1, q3) and counts of each
    ``driver``, ``sex`` and ``primary_site`` value (``None`` where the results lack the column or
    the population did not draw it). Read file by file, one arm's rows kept: memory stays that of
    the few columns of one arm."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ages: dict[str, list[np.ndarray]] = {"all": [], "randomised": []}
    counts: dict[str, dict[str, Counter]] = {g: {c: Counter() for c in ("driver", *OPTIONAL)} for g in ages}
    present = set(OPTIONAL)
    for path in files:
        names = set(pq.read_schema(path).names)
        present &= names
        table = pq.read_table(path, columns=[*REQUIRED, *(c for c in OPTIONAL if c in names)])
        table = table.filter(pc.equal(table["arm"], first_arm))
        randomised = table["randomised"].to_numpy(zero_copy_only=False)
        for group, keep in (("all", slice(None)), ("randomised", randomised)):
            ages[group].append(table["age_years"].to_numpy(zero_copy_only=False)[keep])
            for column in counts[group]:
                if column in names:
                    values = np.asarray(table[column].to_pylist(), dtype=object)[keep]
                    counts[group][column].update(v for v in values if v is not None)
    out = {}
    for group, parts in ages.items():
        age = np.concatenate(parts) if parts else np.zeros(0)
        entry: dict[str, Any] = {"n": len(age)}
        entry["age_years"] = ({"median": float(np.median(age)), "q1": float(np.percentile(age, 25)),
                               "q3": float(np.percentile(age, 75))} if len(age) else None)  # fmt: skip
        for column, counter in counts[group].items():
            drawn = column == "driver" or (column in present and counter)
            entry[column] = dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) if drawn else None
        out[group] = entry
    return out


def level_label(variable: str, level: str) -> str:
    """A level as a reader expects it: KIT exon11, jejunum/ileum."""
    return level.replace("_", "/" if variable == "primary_site" else " ")


def baseline_html(table: dict[str, dict[str, Any]], groups: list[str]) -> str:
    """``table`` (:func:`baseline`) as an HTML table, one column per group in ``groups``."""
    labels = {"all": "All simulated", "randomised": "Randomised"}
    head = "<tr><th>Characteristic</th>" + "".join(f"<th>{labels[g]}</th>" for g in groups) + "</tr>"
    rows = [("Patients", [f"{table[g]['n']:,}" for g in groups])]
    age = [table[g]["age_years"] for g in groups]
    rows.append(("Age, years: median (IQR)",
                 [f"{a['median']:.0f} ({a['q1']:.0f}–{a['q3']:.0f})" if a else "–" for a in age]))  # fmt: skip
    titles = {"sex": "Sex", "driver": "Driver mutation", "primary_site": "Primary site"}
    for column in ("sex", "driver", "primary_site"):
        if table[groups[0]][column] is None:
            continue
        rows.append((f"<b>{titles[column]}</b>, n (%)", ["" for _ in groups]))
        for level in table[groups[0]][column]:
            cells = []
            for g in groups:
                k, n = table[g][column].get(level, 0), max(table[g]["n"], 1)
                cells.append(f"{k:,} ({100 * k / n:.0f}%)")
            rows.append(("&nbsp;&nbsp;" + html.escape(level_label(column, str(level))), cells))
    body = "".join("<tr><td>" + label + "</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" for label, cells in rows)
    return f"<table>{head}{body}</table>"
