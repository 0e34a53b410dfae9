"""Analysis of an in-silico trial's results: Kaplan–Meier, RMST, Cox, log-rank and best response.

One front door, :func:`analyze`, reads the runner's results folder (``block-*.parquet``, one row
per patient per arm, the trial's parameters in the Parquet schema metadata under ``b"gistsim"``) and
returns a :class:`TrialAnalysis`. Every estimate comes from lifelines itself (DESIGN.md §5, STYLE.md):

- Kaplan–Meier (``KaplanMeierFitter``) per endpoint and arm, its median with the 95% CI from
  ``lifelines.utils.median_survival_times(kmf.confidence_interval_)``;
- the restricted mean survival time up to the trial's horizon (``restricted_mean_survival_time``);
- the hazard ratio of each arm against the first (reference) arm from a **pairwise** Cox model
  (``CoxPHFitter``, Efron ties, one indicator for the arm, fitted on the rows of the two arms only),
  so that each comparison is the two-arm trial it stands for and matches its log-rank test;
- the log-rank test of each arm against the first (``lifelines.statistics.logrank_test``).

**Arms share patients** (DESIGN.md §5): every arm treats the same virtual patients, so the arms are
not independent samples. The model-based Cox confidence intervals and log-rank p-values assume they
are; with outcomes of one patient positively correlated across arms (the usual case) they are
conservative (too wide, p too large), and in general only approximate. ``analyze(...,
cluster_by_patient=True)`` asks lifelines for the cluster-robust (sandwich) variance of the Cox
model with ``cluster_col="patient_id"`` (Lin & Wei 1989), which accounts for the pairing; the point
estimates are unchanged and the log-rank tests stay unpaired.

Times are stored in days; every fitted model here works in months (days / 30.4375).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gistsim.errors import check_choice
from gistsim.trials import subgroups
from gistsim.trials.baseline import baseline

DAYS_PER_MONTH = 30.4375
"""Mean Gregorian month (365.25 / 12 days)."""
BEST_RESPONSES = ("CR", "PR", "SD", "PD", "NE")
POPULATIONS = ("randomised", "all")
METADATA_KEY = b"gistsim"
BLOCK_GLOB = "block-*.parquet"
#: Read for every row. ``events_json`` is not: a million-patient trial's event lists held 2.4 GB in the
#: analysis (1 min 41 s), and only the swimmer plot's few patients need them (:meth:`TrialAnalysis.events`).
_BASE_COLUMNS = ("patient_id", "arm", "randomised", "best_response")
_SUMMARY_COLUMNS = ["arm", "endpoint", "n", "events", "median_months", "median_ci_lower_months",
                    "median_ci_upper_months", "rmst_months", "hr_vs_first", "hr_ci_lower", "hr_ci_upper",
                    "logrank_p"]  # fmt: skip


@dataclass
class TrialAnalysis:
    """Survival and response analysis of one trial's results; built by :func:`analyze`."""

    results_dir: Path
    """The folder that was read."""
    metadata: dict[str, Any]
    """The ``gistsim`` document from the first block's schema metadata, as stored."""
    trial_name: str
    seed: int
    version: str
    """gistsim version that produced the results."""
    population: str
    """``"randomised"`` (only rows with ``randomised`` true) or ``"all"``."""
    arms: list[str]
    """Arm names in the trial's order; the first is the reference of every comparison."""
    endpoints: dict[str, tuple[str, str]]
    """Endpoint name -> (duration column in days, event column)."""
    rmst_horizon_days: float
    cluster_by_patient: bool
    """Whether the Cox variances are cluster-robust by ``patient_id``."""
    data: pd.DataFrame
    """The analysed rows (after the population filter)."""
    summary: pd.DataFrame
    """One row per arm x endpoint: n, events, KM median and 95% CI, RMST (months), HR vs the first
    arm with 95% CI and log-rank p (NaN for the first arm or when not estimable)."""
    best_response: pd.DataFrame
    """Counts of each best response (columns CR, PR, SD, PD, NE) per arm (index)."""
    kaplan_meier: dict[str, dict[str, Any]] = field(repr=False)
    """endpoint -> arm -> fitted ``KaplanMeierFitter`` (timeline in months)."""
    cox: dict[str, dict[str, Any]] = field(repr=False)
    """endpoint -> non-reference arm -> fitted pairwise ``CoxPHFitter`` (absent when not estimable)."""
    logrank: dict[str, dict[str, Any]] = field(repr=False)
    """endpoint -> non-reference arm -> lifelines ``StatisticalResult`` (absent when not estimable)."""
    notes: list[str] = field(default_factory=list)
    """Plain-language caveats: medians not reached, comparisons not estimable, fit warnings."""
    lines: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    """arm -> its lines of therapy (:func:`gistsim.trials.lines.by_line`) over the first
    ``lines_patients`` patients of the analysed population; empty when the rows have no line columns."""
    lines_patients: int = 0
    subgroups: pd.DataFrame | None = field(default=None, repr=False)
    """Hazard ratios of ``subgroup_endpoint`` vs the first arm within subgroups
    (:func:`gistsim.trials.subgroups.subgroup_hazard_ratios`), over the first ``subgroup_patients``
    patients; None when the results lack the baseline columns."""
    subgroup_endpoint: str = ""
    subgroup_patients: int = 0
    baseline: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Baseline characteristics of all simulated and of the randomised patients
    (:func:`gistsim.trials.baseline.baseline`)."""
    missing_blocks: list[int] = field(default_factory=list)
    """Blocks of the trial (by its ``patients`` and ``block_size``) without a results file: an
    unfinished run, analysed as far as it got (a note says so)."""

    @property
    def unfinished(self) -> str | None:
        """The note on blocks without a results file, or None for a finished run."""
        if not self.missing_blocks:
            return None
        return unfinished_note(self.missing_blocks, _n_blocks(self.metadata["trial"]))

    @property
    def reference_arm(self) -> str:
        return self.arms[0]

    def events(self, patient_ids) -> pd.DataFrame:
        """``patient_id``, ``arm`` and ``events_json`` of these patients' rows, read from the results
        (the analysed rows do not carry the event lists)."""
        import pyarrow.parquet as pq

        wanted = [int(p) for p in patient_ids]
        frames = [pq.read_table(path, columns=["patient_id", "arm", "events_json"],
                                filters=[("patient_id", "in", wanted)]).to_pandas()
                  for path in sorted(self.results_dir.glob(BLOCK_GLOB))]  # fmt: skip
        return pd.concat(frames, ignore_index=True)

    @property
    def n_patients(self) -> int:
        """Distinct patients in the analysed population."""
        return int(self.data["patient_id"].nunique())

    def to_dict(self) -> dict[str, Any]:
        """The content of ``summary.json``: JSON types only, ``None`` where a value does not exist."""
        from gistsim import __version__

        arms: dict[str, dict[str, Any]] = {}
        for arm in self.arms:
            rows = self.summary[self.summary["arm"] == arm].set_index("endpoint")
            entry: dict[str, Any] = {"n": int(rows["n"].iloc[0])}
            for name in self.endpoints:
                r, key = rows.loc[name], name.lower()
                entry[f"events_{key}"] = int(r["events"])
                entry[f"median_{key}_months"] = _num(r["median_months"])
                entry[f"median_{key}_ci"] = [_num(r["median_ci_lower_months"]), _num(r["median_ci_upper_months"])]
                entry[f"rmst_{key}_months"] = _num(r["rmst_months"])
                if arm == self.reference_arm or not np.isfinite(r["hr_vs_first"]):
                    entry[f"hr_{key}_vs_first"], entry[f"hr_{key}_ci"] = None, None
                else:
                    entry[f"hr_{key}_vs_first"] = _num(r["hr_vs_first"])
                    entry[f"hr_{key}_ci"] = [_num(r["hr_ci_lower"]), _num(r["hr_ci_upper"])]
                entry[f"logrank_p_{key}"] = _num(r["logrank_p"])
            entry["best_response"] = {k: int(v) for k, v in self.best_response.loc[arm].items()}
            arms[arm] = entry
        return {
            "trial": self.trial_name,
            "seed": self.seed,
            "version": self.version,
            "analysis_version": __version__,
            "population": self.population,
            "n_patients": self.n_patients,
            "reference_arm": self.reference_arm,
            "rmst_horizon_months": self.rmst_horizon_days / DAYS_PER_MONTH,
            "cox_model": "pairwise vs the first arm" + (", cluster-robust by patient" if self.cluster_by_patient else ""),
            "arms": arms,
            "baseline": self.baseline,
            "subgroups": None if self.subgroups is None else {
                "endpoint": self.subgroup_endpoint, "patients": self.subgroup_patients,
                "hazard_ratios_vs_first": subgroups.to_records(self.subgroups),
            },
            "missing_blocks": list(self.missing_blocks),
            "notes": list(self.notes),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """``summary.json`` as text (strict JSON: no NaN or Infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def analyze(results_dir: str | Path, *, cluster_by_patient: bool = False) -> TrialAnalysis:
    """Analyse the trial results in ``results_dir`` (the runner's ``block-*.parquet`` files).

    Rows are filtered to ``randomised`` when the metadata's ``analysis.population`` is
    ``"randomised"``. For each endpoint and arm (in the metadata's order) it fits Kaplan–Meier,
    the RMST up to ``analysis.rmst_horizon_days``, and, for each arm after the first, a pairwise Cox
    model and a log-rank test against the first arm. Arms share patients, so they are not
    independent samples: the model-based Cox CIs and log-rank p-values are approximate (usually
    conservative); ``cluster_by_patient=True`` uses lifelines' cluster-robust Cox variance instead.

    Raises ``FileNotFoundError`` when there are no block files and ``ValueError`` naming the field,
    column or arm when the metadata or the data cannot be analysed.
    """
    results_dir = Path(results_dir)
    files = sorted(results_dir.glob(BLOCK_GLOB))
    if not files:
        raise FileNotFoundError(f"results_dir = '{results_dir}' holds no {BLOCK_GLOB} files; "
                                "give the folder the trial runner wrote")  # fmt: skip
    meta = _read_metadata(files[0])
    trial, an = meta["trial"], meta["analysis"]
    arms = [str(a) for a in trial["arms"]]
    endpoints = {str(k): (str(v[0]), str(v[1])) for k, v in an["endpoints"].items()}
    horizon_days = float(an["rmst_horizon_days"])
    columns = list(_BASE_COLUMNS) + [c for pair in endpoints.values() for c in pair if c not in _BASE_COLUMNS]
    data = _load(files, columns)
    _validate(data, arms, endpoints, results_dir)
    if an["population"] == "randomised":
        data = data[data["randomised"]]
    data = data.reset_index(drop=True)
    for arm in arms:
        if not (data["arm"] == arm).any():
            extra = " with randomised = true" if an["population"] == "randomised" else ""
            raise ValueError(f"arm {arm!r} has no rows{extra} in '{results_dir}'; nothing to analyse "
                             f"(population = {an['population']!r}; arms in the data: "
                             f"{sorted(data['arm'].unique().tolist())})")  # fmt: skip

    missing = missing_blocks(files, trial)
    notes: list[str] = [unfinished_note(missing, _n_blocks(trial))] if missing else []
    rows: list[dict[str, Any]] = []
    kms: dict[str, dict[str, Any]] = {}
    coxes: dict[str, dict[str, Any]] = {}
    lrs: dict[str, dict[str, Any]] = {}
    for name, (dur_col, evt_col) in endpoints.items():
        ep = _fit_endpoint(data, arms, name, dur_col, evt_col, horizon_days / DAYS_PER_MONTH,
                           cluster_by_patient, notes)  # fmt: skip
        rows += ep[0]
        kms[name], coxes[name], lrs[name] = ep[1], ep[2], ep[3]
    summary = pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)
    arm_rank, ep_rank = summary["arm"].map(arms.index), summary["endpoint"].map(list(endpoints).index)
    summary = summary.iloc[np.lexsort((ep_rank, arm_rank))].reset_index(drop=True)
    best = (pd.crosstab(data["arm"], data["best_response"]).reindex(index=arms, columns=list(BEST_RESPONSES))
            .fillna(0).astype(int))  # fmt: skip
    best.columns.name, best.index.name = None, "arm"
    lines, lines_patients = _lines(files, arms, an["population"])
    sub_endpoint = "OS" if "OS" in endpoints else next(iter(endpoints))
    sub_rows, sub_patients = subgroups.read_rows(files, endpoints[sub_endpoint], an["population"])
    table = (subgroups.subgroup_hazard_ratios(sub_rows, arms, endpoints[sub_endpoint], DAYS_PER_MONTH, cluster_by_patient)
             if sub_patients else None)  # fmt: skip
    return TrialAnalysis(
        subgroups=table, subgroup_endpoint=sub_endpoint, subgroup_patients=sub_patients,
        baseline=baseline(files, arms[0]),
        lines=lines, lines_patients=lines_patients,
        results_dir=results_dir, metadata=meta, trial_name=str(trial["name"]), seed=int(meta["seed"]),
        version=str(meta["version"]), population=an["population"], arms=arms, endpoints=endpoints,
        rmst_horizon_days=horizon_days, cluster_by_patient=cluster_by_patient, data=data, summary=summary,
        best_response=best, kaplan_meier=kms, cox=coxes, logrank=lrs, notes=notes, missing_blocks=missing,
    )  # fmt: skip


def _n_blocks(trial: dict[str, Any]) -> int | None:
    """Blocks of a trial from its metadata's ``patients`` and ``block_size`` (None without them)."""
    patients, size = trial.get("patients"), trial.get("block_size")
    if not (isinstance(patients, int) and isinstance(size, int) and patients > 0 and size > 0):
        return None
    return -(-patients // size)


def unfinished_note(missing: list[int], n_blocks: int | None) -> str:
    """The note on a run whose blocks ``missing`` (of ``n_blocks``) have no results file yet."""
    shown = ", ".join(map(str, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return (f"Unfinished run: {len(missing)} of {n_blocks} blocks have no results file (blocks {shown}); these "
            "figures cover the others only. Running the same trial into this folder with --resume finishes it.")  # fmt: skip


def missing_blocks(files: list[Path], trial: dict[str, Any]) -> list[int]:
    """Indices of the trial's blocks with no file among ``files`` (``block-NNNNN.parquet``)."""
    n = _n_blocks(trial)
    if n is None:
        return []
    present = {int(m.group(1)) for f in files if (m := re.fullmatch(r"block-(\d+)\.parquet", f.name))}
    return [b for b in range(n) if b not in present]


def _fit_endpoint(data, arms, name, dur_col, evt_col, horizon_months, cluster, notes):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from lifelines.utils import median_survival_times, restricted_mean_survival_time

    ref = arms[0]
    t_months = data[dur_col].to_numpy(dtype=float) / DAYS_PER_MONTH
    event = data[evt_col].to_numpy(dtype=bool)
    by_arm = {a: (data["arm"] == a).to_numpy() for a in arms}
    rows, kms, coxes, lrs = [], {}, {}, {}
    for arm in arms:
        m = by_arm[arm]
        kmf = KaplanMeierFitter(label=arm).fit(t_months[m], event[m])
        kms[arm] = kmf
        med = float(kmf.median_survival_time_)
        ci = median_survival_times(kmf.confidence_interval_)
        lo, hi = float(ci.iloc[0, 0]), float(ci.iloc[0, 1])
        if not math.isfinite(med):
            notes.append(f"{name}: median not reached in arm {arm!r} ({int(event[m].sum())} events in {int(m.sum())}).")
        elif not math.isfinite(hi):
            notes.append(f"{name}: upper 95% limit of the median not reached in arm {arm!r}.")
        if t_months[m].max() < horizon_months:
            notes.append(f"{name}: follow-up in arm {arm!r} ends at {t_months[m].max():.1f} months, before the "
                         f"RMST horizon ({horizon_months:.1f} months); the last KM value is carried forward.")  # fmt: skip
        row = {"arm": arm, "endpoint": name, "n": int(m.sum()), "events": int(event[m].sum()),
               "median_months": med, "median_ci_lower_months": lo, "median_ci_upper_months": hi,
               "rmst_months": float(restricted_mean_survival_time(kmf, t=horizon_months)),
               "hr_vs_first": np.nan, "hr_ci_lower": np.nan, "hr_ci_upper": np.nan, "logrank_p": np.nan}  # fmt: skip
        if arm != ref:
            mr = by_arm[ref]
            if event[m].sum() + event[mr].sum() == 0:
                notes.append(f"{name}: no events in arms {ref!r} and {arm!r}; no log-rank test.")
            else:
                lr = logrank_test(t_months[mr], t_months[m], event[mr], event[m])
                lrs[arm], row["logrank_p"] = lr, float(lr.p_value)
            cph = _fit_cox(data, t_months, event, ref, arm, by_arm, cluster, name, notes)
            if cph is not None:
                coxes[arm] = cph
                s = cph.summary.iloc[0]
                row.update(hr_vs_first=float(s["exp(coef)"]), hr_ci_lower=float(s["exp(coef) lower 95%"]),
                           hr_ci_upper=float(s["exp(coef) upper 95%"]))  # fmt: skip
        rows.append(row)
    return rows, kms, coxes, lrs


def _fit_cox(data, t_months, event, ref, arm, by_arm, cluster, name, notes):
    """Cox model on the rows of ``ref`` and ``arm`` with one indicator for ``arm``; None if not estimable."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    for a in (ref, arm):
        if not event[by_arm[a]].any():
            notes.append(f"{name}: no events in arm {a!r}; the hazard ratio of {arm!r} vs {ref!r} is not estimable.")
            return None
    pair = by_arm[ref] | by_arm[arm]
    cov = f"arm={arm}"
    frame = pd.DataFrame({"duration_months": t_months[pair], "event": event[pair].astype(int),
                          cov: by_arm[arm][pair].astype(float)})  # fmt: skip
    if cluster:
        frame["patient_id"] = data["patient_id"].to_numpy()[pair]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph = CoxPHFitter().fit(frame, "duration_months", "event",
                                    cluster_col="patient_id" if cluster else None)  # fmt: skip
        except ConvergenceError as err:
            notes.append(f"{name}: the Cox model of {arm!r} vs {ref!r} did not converge ({err}).")
            return None
    for w in caught:
        notes.append(f"{name}: Cox model of {arm!r} vs {ref!r}: {str(w.message).splitlines()[0]}")
    return cph


def _read_metadata(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ValueError(f"'{path}' has no schema metadata key {METADATA_KEY!r}; the trial runner writes a JSON "
                         "document there with version, seed, trial and analysis")  # fmt: skip
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"metadata {METADATA_KEY!r} of '{path}' is not valid JSON: {err}") from None
    _require(meta, ("version", "seed", "trial", "analysis"), "metadata", path)
    _require(meta["trial"], ("name", "arms"), "metadata.trial", path)
    _require(meta["analysis"], ("population", "endpoints", "rmst_horizon_days"), "metadata.analysis", path)
    arms, an = meta["trial"]["arms"], meta["analysis"]
    if not isinstance(arms, list) or not arms or len(set(arms)) != len(arms):
        raise ValueError(f"metadata.trial.arms = {arms!r} in '{path}' is not accepted: give a non-empty list of "
                         "distinct arm names, the reference arm first")  # fmt: skip
    check_choice("metadata.analysis.population", an["population"], POPULATIONS)
    eps = an["endpoints"]
    if not isinstance(eps, dict) or not eps or any(
        not isinstance(v, list | tuple) or len(v) != 2 or not all(isinstance(c, str) for c in v) for v in eps.values()
    ):
        raise ValueError(f"metadata.analysis.endpoints = {eps!r} in '{path}' is not accepted: give a mapping "
                         'name -> [duration column in days, event column], e.g. {"PFS": ["pfs_days", "pfs_event"]}')
    h = an["rmst_horizon_days"]
    if isinstance(h, bool) or not isinstance(h, int | float) or not math.isfinite(h) or h <= 0:
        raise ValueError(f"metadata.analysis.rmst_horizon_days = {h!r} in '{path}' is not accepted: "
                         "give a finite number of days > 0")  # fmt: skip
    return meta


def _require(doc: Any, keys: tuple[str, ...], where: str, path: Path) -> None:
    if not isinstance(doc, dict):
        raise ValueError(f"{where} in '{path}' is {type(doc).__name__}, not a JSON object with keys {list(keys)}")
    missing = [k for k in keys if k not in doc]
    if missing:
        raise ValueError(f"{where} in '{path}' lacks key(s) {missing}; required keys: {list(keys)}")


#: The lines-of-therapy tables read at most this many rows (blocks in order, i.e. the first
#: patients): a descriptive table, and its ~35 columns for every row of a million-patient trial
#: would cost more memory than the whole analysis.
LINES_MAX_ROWS = 200_000


def _lines(files: list[Path], arms: list[str], population: str) -> tuple[dict[str, pd.DataFrame], int]:
    """Lines of therapy per arm over the first blocks (up to :data:`LINES_MAX_ROWS` rows)."""
    from gistsim.trials.lines import by_line
    from gistsim.trials.runner import MAX_LINES

    wanted = ["patient_id", "arm", "randomised", "time_origin_day", "os_days", "os_event"] + [
        f"line{k}_{c}" for k in range(1, MAX_LINES + 1)
        for c in ("regimen", "start_day", "best_response", "pfs_days", "pfs_event")
    ]  # fmt: skip
    rows = first_rows(files, wanted, LINES_MAX_ROWS, population)
    if rows is None:
        return {}, 0
    tables = {arm: by_line(rows, arm) for arm in arms if (rows["arm"] == arm).any()}
    return tables, int(rows["patient_id"].nunique())


def first_rows(files: list[Path], columns: list[str], max_rows: int, population: str) -> pd.DataFrame | None:
    """``columns`` of the first files' rows, file by file until ``max_rows`` are read (patients are
    exchangeable across blocks), the randomised rows only for that ``population``; None when the
    first file lacks a column (results written before it existed)."""
    import pyarrow.parquet as pq

    frames, n = [], 0
    for path in files:
        if n >= max_rows or not set(columns) <= set(pq.read_schema(path).names):
            break
        frames.append(pq.read_table(path, columns=columns).to_pandas())
        n += len(frames[-1])
    if not frames:
        return None
    rows = pd.concat(frames, ignore_index=True)
    return rows[rows["randomised"]].reset_index(drop=True) if population == "randomised" else rows


def _load(files: list[Path], columns: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    frames = []
    for path in files:
        names = pq.read_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"'{path}' lacks column(s) {missing}; the analysis needs columns {columns}")
        frames.append(pq.read_table(path, columns=columns).to_pandas())
    return pd.concat(frames, ignore_index=True)


def _validate(data: pd.DataFrame, arms: list[str], endpoints: dict[str, tuple[str, str]], where: Path) -> None:
    unknown = sorted(set(data["arm"].astype(str)) - set(arms))
    if unknown:
        raise ValueError(f"arm = {unknown[0]!r} in '{where}' is not among metadata.trial.arms; accepted: {arms}")
    bad = ~data["best_response"].isin(BEST_RESPONSES)
    if bad.any():
        raise ValueError(f"best_response = {data['best_response'][bad].iloc[0]!r} (patient_id "
                         f"{data['patient_id'][bad].iloc[0]}) in '{where}' is not known; accepted values: "
                         f"{list(BEST_RESPONSES)}")  # fmt: skip
    for col in ["randomised"] + [e for _, e in endpoints.values()]:
        if data[col].dtype != bool:
            raise ValueError(f"column {col!r} in '{where}' has dtype {data[col].dtype}; it must be boolean "
                             "without missing values")  # fmt: skip
    for dur, _ in endpoints.values():
        t = pd.to_numeric(data[dur], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(t) | (t < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = data[dur].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value
            raise ValueError(f"{dur} = {value!r} (patient_id {data['patient_id'].iloc[i]}, arm "
                             f"{data['arm'].iloc[i]!r}) in '{where}' is not accepted: durations must be finite "
                             "days >= 0 from the trial's time origin")  # fmt: skip
    dup = data.duplicated(["patient_id", "arm"])
    if dup.any():
        r = data[dup].iloc[0]
        raise ValueError(f"patient_id {r['patient_id']} appears more than once in arm {r['arm']!r} in '{where}'; "
                         "the results must hold one row per patient per arm")  # fmt: skip
