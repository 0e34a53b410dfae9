"""Optional records of a trial beside its rows (``records:`` in a trial file, DESIGN §5).

``visits``: one row per patient, arm and visit while alive: the RECIST 1.1 and Choi readings, the
sum of target diameters and the regimen the patient is on. ``lesions``: one row per patient, arm,
visit and lesion that imaging saw: measured and true diameters and attenuation. Days are counted
from the patient's time origin, as in the rows' ``events_json`` (negative before randomisation).
They go to ``visits-NNNNN.parquet`` and ``lesions-NNNNN.parquet`` beside each block's
``block-NNNNN.parquet``, written before it, so a block file on disk means its records are too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gistsim.clinic.reading import RESPONSE_NAMES
from gistsim.clinic.strategy import ORGANS

#: What a trial can keep besides its rows.
RECORD_KINDS = ("visits", "lesions")
Columns = dict[str, np.ndarray]


def records_path(out: Path, kind: str, block: int) -> Path:
    return out / f"{kind}-{block:05d}.parquet"


def _names(codes: np.ndarray, names) -> np.ndarray:
    """Codes as names (object array), ``None`` where a code is negative (no reading, no regimen)."""
    table = np.array([*names, None], dtype=object)
    return table[np.where(codes < 0, len(names), codes)]


def visit_columns(rec, ids: np.ndarray, arm: str, origin: np.ndarray, regimen_names: list[str]) -> Columns:
    """The ``visits`` records of the course ``rec`` (patients 0..len(ids)-1, their ids ``ids``)."""
    days = np.asarray(rec.visit_day, dtype=float)
    alive = days[:, None] <= np.asarray(rec.death_day)[None, :] + 1e-9  # (visits, patients)
    patient, visit = np.nonzero(alive.T)  # patient by patient, visits in order

    def at(name: str) -> np.ndarray:
        return np.vstack(getattr(rec, name))[visit, patient]

    return {
        "patient_id": np.asarray(ids)[patient], "arm": np.full(len(patient), arm, dtype=object),
        "day": days[visit] - np.asarray(origin, dtype=float)[patient],
        "recist": _names(at("recist"), RESPONSE_NAMES), "choi": _names(at("choi"), RESPONSE_NAMES),
        "target_sum_mm": at("target_sum_mm").astype(float), "regimen": _names(at("regimen"), regimen_names),
    }  # fmt: skip


def lesion_columns(rec, ids: np.ndarray, arm: str, origin: np.ndarray) -> Columns:
    """The ``lesions`` records of the course ``rec`` (``Records.visible_lesions``, kept with
    ``record_lesions``)."""
    # A course records its baseline visit, so there is always a part.
    parts = [(np.full(len(seen[0]), v), *seen) for v, seen in enumerate(rec.visible_lesions)]
    visit, patient, label, organ, measured, true, hu = (np.concatenate(c) for c in zip(*parts))
    order = np.lexsort((label, visit, patient))
    visit, patient, label, organ = visit[order], patient[order], label[order], organ[order]
    return {
        "patient_id": np.asarray(ids)[patient], "arm": np.full(len(patient), arm, dtype=object),
        "day": np.asarray(rec.visit_day, dtype=float)[visit] - np.asarray(origin, dtype=float)[patient],
        "lesion": label.astype(np.int64), "organ": np.array(ORGANS, dtype=object)[organ],
        "measured_mm": measured[order], "true_mm": true[order], "hu": hu[order],
    }  # fmt: skip


def select(columns: Columns, patient_ids: np.ndarray, arm: str) -> Columns:
    """The records of ``patient_ids`` in ``columns``, under ``arm`` (patients not randomised: the
    first arm's records stand for them in every arm, as their rows do)."""
    keep = np.isin(columns["patient_id"], patient_ids)
    out = {k: v[keep] for k, v in columns.items()}
    out["arm"] = np.full(int(keep.sum()), arm, dtype=object)
    return out


def schema(kind: str):
    import pyarrow as pa

    common = [("patient_id", pa.int64()), ("arm", pa.string()), ("day", pa.float64())]
    if kind == "visits":
        return pa.schema(common + [("recist", pa.string()), ("choi", pa.string()), ("target_sum_mm", pa.float64()),
                                   ("regimen", pa.string())])  # fmt: skip
    return pa.schema(common + [("lesion", pa.int64()), ("organ", pa.string()), ("measured_mm", pa.float64()),
                               ("true_mm", pa.float64()), ("hu", pa.float64())])  # fmt: skip


def table(kind: str, parts: list[Columns]):
    """``parts`` (one per arm, in the trial's order; at least one) as one Arrow table of :func:`schema`."""
    import pyarrow as pa

    names = schema(kind).names
    columns = {k: np.concatenate([p[k] for p in parts]) for k in names}
    return pa.Table.from_pydict({k: list(v) if v.dtype == object else v for k, v in columns.items()}, schema=schema(kind))
