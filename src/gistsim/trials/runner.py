"""Running a trial: blocks of patients, every arm on the same patients, Parquet results.

* Patient ``i`` has global id ``i``; block ``b`` holds ids ``[b·B, (b+1)·B)``. Each patient's
  baseline and course draw from streams seeded by (trial seed, patient id)
  (:class:`gistsim.streams.PatientStreams`), so a patient is the same in every arm, in any block
  and on any worker: results are identical for any number of workers, and changing one
  patient's arm changes only that patient's outcomes.
* Every arm starts from the same baseline and the same course streams. With randomisation at
  focal progression, the arms treat a patient alike until then, so the first arm decides who is
  randomised (first progression focal) and when; the other arms take those patients on at that
  visit, in the state the first arm's course had them (:mod:`gistsim.clinic.lanes`; the rows are
  those of a replay from day 0, which :data:`FORK_AT_RANDOMISATION` = False runs), and the
  others' courses, identical in every arm, are copied.
* A block is written atomically as ``block-NNNNN.parquet`` (temporary file, then rename), with the
  version, seed, trial spec and analysis settings in the file metadata; ``resume`` skips blocks
  already written, so an interrupted run loses no finished block.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gistsim import __version__
from gistsim.biology.genotypes import default_registry
from gistsim.clinic import drugs
from gistsim.clinic.cohort import draw_paces, sample_cohort
from gistsim.clinic.course import Records, simulate_course
from gistsim.clinic.lanes import continue_courses, stitched_records
from gistsim.clinic.reading import CR, NE, PD, PR, RESPONSE_NAMES
from gistsim.model import Model
from gistsim.streams import PatientStreams, as_draws
from gistsim.trials import records
from gistsim.trials.spec import Trial, load_population

#: Stream families: baselines, courses and the pace of disease draw from different seeds for the
#: same patient (so adding the pace left every baseline as it was).
_BASELINE, _COURSE, _PACE = 1, 2, 3
#: Whether trials randomised at focal progression hand the randomised patients over at their visit
#: (:mod:`gistsim.clinic.lanes`) rather than replay their courses from day 0 (the same rows).
FORK_AT_RANDOMISATION = True
_BEST = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NED": 2, "NE": 4}


@dataclass
class RunSummary:
    blocks_written: int
    blocks_skipped: int
    patients: int
    seconds: float


def block_path(out: Path, block: int) -> Path:
    return out / f"block-{block:05d}.parquet"


def metadata(trial: Trial) -> dict[str, object]:
    """What every block file records: version, seed, the whole trial, parameters, analysis."""
    return {
        "version": __version__,
        "seed": trial.seed,
        "trial": {**trial.model_dump(), "arms": [a.name for a in trial.arms],
                  "arm_strategies": {a.name: a.strategy for a in trial.arms}},  # fmt: skip
        "parameters": {
            **trial_model(trial).record(),
            "population": load_population(trial.population).model_dump(),
        },
        "analysis": analysis_metadata(trial.randomise_at, trial.rmst_horizon_years * 365.25),
    }


def analysis_metadata(time_origin: str, rmst_horizon_days: float) -> dict[str, object]:
    """How ``gistsim analyze`` reads the rows: the population (randomised unless every patient is
    compared from the start), the endpoints' columns, the RMST horizon and the time origin."""
    return {
        "population": "randomised" if time_origin != "start" else "all",
        "endpoints": {"PFS": ["pfs_days", "pfs_event"], "OS": ["os_days", "os_event"]},
        "rmst_horizon_days": rmst_horizon_days,
        "time_origin": time_origin,
    }


def trial_model(trial: Trial) -> Model:
    """The parameters a trial runs with: its parameter set with its own values over it."""
    return Model.build(trial.parameter_set, trial.parameters)


def run_block(trial_json: str, block: int) -> list[dict[str, object]]:
    """Simulate one block under every arm; one row per patient per arm."""
    return _simulate_block(trial_json, block)[0]


def _simulate_block(trial_json: str, block: int) -> tuple[list[dict[str, object]], dict[str, list]]:
    """:func:`run_block`'s rows, and the records the trial keeps (kind → columns per arm,
    :mod:`gistsim.trials.records`)."""
    trial = Trial.model_validate_json(trial_json)
    first = block * trial.block_size
    n = min(trial.block_size, trial.patients - first)
    ids = np.arange(first, first + n)
    model = trial_model(trial)
    registry, evolution, clinic, treatment = default_registry(), model.evolution, model.clinic, model.treatment()
    g = registry.n_genotypes
    mutation = evolution.mutation_model(registry)
    cohort = sample_cohort(
        n, load_population(trial.population).to_spec(), registry=registry, evolution=evolution,
        mutation=mutation, pk_sampler=treatment.sample_pk, rng=PatientStreams.from_ids(trial.seed * 10 + _BASELINE, ids),
    )  # fmt: skip
    pace_draws = as_draws(PatientStreams.from_ids(trial.seed * 10 + _PACE, ids))
    draw_paces(cohort, evolution, pace_draws)
    course_kw = dict(
        treatment=treatment, evolution=evolution, clinic=clinic, mutation=mutation,
        untreated_birth=evolution.untreated_birth(registry),
        untreated_death=np.full(g, evolution.death_rate_per_day),
        horizon_days=trial.horizon_years * 365.25, visit_days=trial.visit_days, keep_lesions=False,
        record_lesions="lesions" in trial.records,
    )  # fmt: skip
    arms = trial.arms
    rows: list[dict[str, object]] = []
    strategies = [a.load() for a in arms]
    # Every arm starts each patient's course stream afresh: the first arm's generators, put back
    # to their starting states (cheaper than new generators and a new typed list of them).
    course_streams = PatientStreams.from_ids(trial.seed * 10 + _COURSE, ids)
    # At focal progression the other arms take the randomised patients on from the first arm's
    # course at their visit (gistsim.clinic.lanes), rather than replaying their course from day 0.
    # Lesion records are not carried over by the hand-over: with them, the courses are replayed
    # (the same rows, ~6% more time).
    fork = trial.randomise_at == "focal_progression" and FORK_AT_RANDOMISATION and "lesions" not in trial.records
    snapshots: list | None = [] if fork else None
    starting_states = None if snapshots is not None else [g.bit_generator.state for g in course_streams.generators]
    exposures: dict = {}  # shared by the courses that take on the first arm's patients
    first_rec = simulate_course(cohort, strategies[0], rng=course_streams, snapshots=snapshots,
                                exposure_cache=exposures, **course_kw)  # fmt: skip
    landmark = None if trial.landmark_years is None else trial.landmark_years * 365.25
    origin, randomised = _randomisation(first_rec, n, trial.randomise_at, landmark)
    rows += outcome_rows(first_rec, ids, cohort, arms[0].name, strategies[0], origin, randomised)
    kept = {kind: [_record_columns(kind, first_rec, ids, arms[0].name, origin, treatment)] for kind in trial.records}
    chosen = np.flatnonzero(randomised) if trial.randomise_at != "start" else np.arange(n)
    if snapshots is not None:
        joiners = [j.select(np.flatnonzero(randomised[j.parents])) for j in snapshots]
        joiners = [j for j in joiners if len(j.parents)]
    sub = cohort.subset(chosen) if len(chosen) and len(arms) > 1 else None
    for arm, strategy in zip(arms[1:], strategies[1:]):
        if len(chosen) < n:  # not compared (not randomised): the first arm's row stands for every arm
            rows += [dict(r, arm=arm.name) for r, rand in zip(rows[:n], randomised) if not rand]
            for kind, parts in kept.items():
                parts.append(records.select(parts[0], ids[~randomised], arm.name))
        if len(chosen):
            if snapshots is not None:
                taken = continue_courses(joiners, strategy, pk=cohort.pk, exposure_cache=exposures, **course_kw)
                rec = stitched_records(first_rec, joiners, taken)
            else:
                for i in chosen.tolist():
                    course_streams.generators[i].bit_generator.state = starting_states[i]
                rec = simulate_course(sub, strategy, rng=course_streams.remap(chosen), **course_kw)
            rows += outcome_rows(rec, ids[chosen], sub, arm.name, strategy, origin[chosen], randomised[chosen])
            for kind, parts in kept.items():
                parts.append(_record_columns(kind, rec, ids[chosen], arm.name, origin[chosen], treatment))
    return rows, kept


def _record_columns(kind: str, rec: Records, ids: np.ndarray, arm: str, origin: np.ndarray, treatment):
    if kind == "visits":
        return records.visit_columns(rec, ids, arm, origin, treatment.regimen_names)
    return records.lesion_columns(rec, ids, arm, origin)


def _randomisation(rec: Records, n: int, at: str, landmark_days: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Time origin and randomised flag per patient (from the first arm)."""
    if at == "start":
        return np.zeros(n), np.ones(n, dtype=bool)
    if at == "landmark":
        days = np.asarray(rec.visit_day)
        later = days[days >= landmark_days - 1e-6]
        if not len(later):
            return np.zeros(n), np.zeros(n, dtype=bool)
        day = float(later[0])
        # Eligible as in BFR14: alive, free of progression and still on the first regimen.
        ineligible = np.zeros(n, dtype=bool)
        for p, d, kind, _ in rec.events:
            if d <= day + 1e-9 and (kind == "progression" or (kind == "line_start" and d > 0)):
                ineligible[p] = True
        return np.full(n, day), (rec.death_day > day) & ~ineligible
    origin, randomised = np.zeros(n), np.zeros(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    for p, day, kind, detail in sorted(rec.events, key=lambda e: (e[1], e[0])):
        if kind == "progression" and not seen[p]:
            seen[p] = True
            if detail == "focal":
                randomised[p], origin[p] = True, day
    return origin, randomised


def outcome_rows(rec: Records, ids: np.ndarray, cohort, arm: str, strategy, origin: np.ndarray,
                 randomised: np.ndarray) -> list[dict[str, object]]:  # fmt: skip
    """One results row per patient of ``rec`` (patients 0..len-1 of ``cohort``, ``ids`` their
    patient ids), times counted from ``origin``."""
    events: dict[int, list[tuple[float, str, str]]] = {}
    for p, d, kind, s in rec.events:
        events.setdefault(p, []).append((d, kind, s))
    recist = np.vstack(rec.recist[1:]) if len(rec.recist) > 1 else np.zeros((0, len(ids)), int)
    days = np.asarray(rec.visit_day[1:])
    horizon = rec.visit_day[-1]
    troughs = _first_troughs(cohort, strategy)
    n_lesions = np.bincount(cohort.lesion_patient, minlength=len(ids))
    # Python lists: the per-patient loops below read them element by element.
    codes_of, days = recist.T.tolist(), days.tolist()
    out = []
    for j in range(len(ids)):
        ev = sorted(events.get(j, []))
        t0 = float(origin[j])
        death = float(rec.death_day[j])
        end = min(death, horizon)
        prog = [d for d, kind, s in ev if kind == "progression" and d > t0]
        pfs_end = min(prog[0] if prog else np.inf, death)
        out.append({
            "patient_id": int(ids[j]), "arm": arm, "randomised": bool(randomised[j]),
            "driver": str(cohort.driver[j]), "age_years": float(cohort.age_years[j]),
            "primary_site": None if cohort.primary_site is None else str(cohort.primary_site[j]),
            "sex": None if cohort.sex is None else str(cohort.sex[j]),
            "n_lesions": int(n_lesions[j]),
            "best_response": best_response(codes_of[j], days, t0, np.inf),
            **first_response_days(codes_of[j], days, t0),
            "trough_ng_ml": float(troughs[j]),
            "secondary_at_progression": int(rec.secondary_at_progression[j]),
            "pfs_days": float(min(pfs_end, end) - t0), "pfs_event": bool(pfs_end <= end),
            "os_days": float(end - t0), "os_event": bool(death <= horizon),
            "surgeries": int(sum(kind == "surgery" for _, kind, _ in ev)),
            "lines_received": int(sum(kind == "line_start" for _, kind, _ in ev)),
            "time_origin_day": t0,
            **_per_line(ev, death, end, codes_of[j], days),
            "events_json": json.dumps([[round(d - t0, 3), kind, s] for d, kind, s in ev]),
        })  # fmt: skip
    return out


#: Lines of therapy with their own PFS/TTP columns.
MAX_LINES = 5


def best_response(codes: np.ndarray, days: np.ndarray, start: float, stop: float) -> str:
    """RECIST best overall response over the readings after ``start`` up to ``stop``, ending at
    the first PD (which counts only when nothing better came before it); NE without a reading."""
    best = None
    for r, d in zip(codes, days):
        if not (start < d <= stop) or r < 0 or r == NE:
            continue
        name = "SD" if RESPONSE_NAMES[r] == "NED" else RESPONSE_NAMES[r]
        if best is None or _BEST[name] < _BEST[best]:
            best = name
        if r == PD:
            break
    return best or "NE"


def first_response_days(codes: np.ndarray, days: np.ndarray, start: float) -> dict[str, float]:
    """Days from ``start`` to the first CR and the first PR-or-better reading before the first PD
    (NaN if none): with them the best response *within a study's follow-up* can be read off."""
    out = {"first_cr_day": math.nan, "first_pr_day": math.nan}
    for r, d in zip(codes, days):
        if not start < d or r < 0 or r == NE:
            continue
        if r == PD:
            break
        if r in (CR, PR) and math.isnan(out["first_pr_day"]):
            out["first_pr_day"] = float(d - start)
        if r == CR and math.isnan(out["first_cr_day"]):
            out["first_cr_day"] = float(d - start)
    return out


def _first_troughs(cohort, strategy) -> np.ndarray:
    """Steady-state trough of each patient's first regimen under ``strategy``."""
    out = np.full(cohort.n_patients, np.nan)
    first = [strategy.first_regimen(str(d)) for d in cohort.driver]
    for name in set(first):
        reg = drugs.regimen(name)
        if reg.drug not in cohort.pk:
            continue
        mine = np.asarray(first) == name
        out[mine] = drugs.steady_state_trough(reg, cohort.pk[reg.drug])[mine]
    return out


def _per_line(ev: list[tuple[float, str, str]], death: float, end: float, codes: np.ndarray,
              days: np.ndarray) -> dict[str, object]:  # fmt: skip
    """Per line (from its start): regimen, best response, PFS (progression or death), TTP (death censors).

    A line ends at the next line's start; a line that ends without progression (intolerance,
    focal switch) is censored there. Focal progressions count as progressions.
    """
    starts = [(d, s) for d, kind, s in ev if kind == "line_start"]
    prog = [d for d, kind, _ in ev if kind == "progression"]
    out: dict[str, object] = {}
    for k in range(MAX_LINES):
        key = f"line{k + 1}"
        if k < len(starts):
            t0, regimen = starts[k]
            stop = starts[k + 1][0] if k + 1 < len(starts) else end
            p = next((d for d in prog if t0 < d <= stop), np.inf)
            ttp_end = min(p, stop, death, end)
            pfs_end = min(p, death, stop, end)
            out |= {
                f"{key}_regimen": regimen, f"{key}_start_day": float(t0),
                f"{key}_best_response": best_response(codes, days, t0, stop),
                f"{key}_pfs_days": float(pfs_end - t0), f"{key}_pfs_event": bool(p <= stop or death <= stop),
                f"{key}_ttp_days": float(ttp_end - t0), f"{key}_ttp_event": bool(p <= min(stop, death)),
            }  # fmt: skip
        else:
            out |= {f"{key}_regimen": None, f"{key}_start_day": None, f"{key}_best_response": None, f"{key}_pfs_days": None,
                    f"{key}_pfs_event": None, f"{key}_ttp_days": None, f"{key}_ttp_event": None}  # fmt: skip
    return out


def schema():
    """The columns of a results block (the same in every block, whatever its contents)."""
    import pyarrow as pa

    fields = [
        ("patient_id", pa.int64()), ("arm", pa.string()), ("randomised", pa.bool_()), ("driver", pa.string()),
        ("age_years", pa.float64()), ("primary_site", pa.string()), ("sex", pa.string()),
        ("n_lesions", pa.int64()), ("best_response", pa.string()),
        ("pfs_days", pa.float64()), ("pfs_event", pa.bool_()), ("os_days", pa.float64()), ("os_event", pa.bool_()),
        ("surgeries", pa.int32()), ("lines_received", pa.int32()), ("time_origin_day", pa.float64()),
        ("trough_ng_ml", pa.float64()), ("secondary_at_progression", pa.int32()),
        ("first_cr_day", pa.float64()), ("first_pr_day", pa.float64()),
    ]  # fmt: skip
    for k in range(1, MAX_LINES + 1):
        fields += [
            (f"line{k}_regimen", pa.string()), (f"line{k}_start_day", pa.float64()),
            (f"line{k}_best_response", pa.string()), (f"line{k}_pfs_days", pa.float64()), (f"line{k}_pfs_event", pa.bool_()),
            (f"line{k}_ttp_days", pa.float64()), (f"line{k}_ttp_event", pa.bool_()),
        ]  # fmt: skip
    fields.append(("events_json", pa.string()))
    return pa.schema(fields)


def _check_same_run(path: Path, meta: dict[str, object]) -> None:
    """Raise unless the block at ``path`` was written by the same run (version, seed, trial spec,
    every parameter and the analysis settings): resuming on blocks of another run would mix two
    simulations in one result."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(b"gistsim")
    differ = _differences(json.loads(raw) if raw else {}, json.loads(json.dumps(meta)))
    if not differ:
        return
    shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
    raise FileExistsError(
        f"{path.parent} holds blocks of a different run ({shown} differ); "
        "blocks are reused only by the same run: choose an empty folder or remove those blocks"
    )


def _differences(old: object, new: object, prefix: str = "") -> list[str]:
    """Dotted paths at which two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if old == new else [prefix or "metadata"]


def block_table(rows: list[dict[str, object]]):
    """One block's rows as an Arrow table of :func:`schema`."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema())


def run_block_tables(trial_json: str, block: int) -> dict[str, object]:
    """:func:`run_block` as an Arrow table (``"block"``), with the trial's records (by kind), built
    where the block ran: a table crosses to the driver as a few buffers, where a list of dicts is
    thousands of objects to pickle and unpickle on the driver, which shares the cores with the
    workers (measured: 0.12 s of the driver's CPU per 1,000-patient block to unpickle, 0.15 s to
    build the table)."""
    rows, kept = _simulate_block(trial_json, block)
    return {"block": block_table(rows)} | {kind: records.table(kind, parts) for kind, parts in kept.items()}


def write_block(rows, path: Path, meta: dict[str, object]) -> None:
    """Write one block's rows (a list of row dicts, or :func:`block_table`'s table) atomically, with
    the trial's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = rows if isinstance(rows, pa.Table) else block_table(rows)
    table = table.replace_schema_metadata({b"gistsim": json.dumps(meta).encode()})
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def local_cluster(workers: int):
    """A local Dask cluster of ``workers`` single-threaded processes, configured for blocks of
    numpy work:

    * without the workers' statistical profiler: it samples the running task's stack every 10 ms,
      and a block ran 10% slower with it (one worker, 1,000 patients of the default trial: 34.7 s
      with, 31.3 s without; 25.9 s in process);
    * without Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` in the workers' environment (its default, so
      that freed memory goes back to the system at once): glibc then hands every array of more
      than 64 KiB back and maps it again, and a block of 250 patients ran 15–18% slower with it,
      in a worker or in process (5.3 against 4.5 s). A block's memory is bounded, so keeping
      freed pages costs little. Dask's other settings (one BLAS/OpenMP thread) are kept;
    * with the scheduler's HTTP server (health and metrics, served even without a dashboard) on a
      free port: its default, 8787, is taken by any other cluster on the machine (a second trial,
      the test suite), and Dask then warns and picks another anyway.
    """
    import dask
    from dask.distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    settings = {"distributed.worker.profile.enabled": False, "distributed.nanny.pre-spawn-environ": environ}
    with dask.config.set(settings):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": ":0"})  # fmt: skip


def run_trial(
    trial: Trial,
    out: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run every block of ``trial`` into ``out`` (locally, on ``workers`` processes, or on a Dask cluster).

    ``progress(done, total)`` is called after each block is written, with the patients finished so far
    in this run and the patients this run has to do (blocks skipped by ``resume`` count in neither).
    """
    n_blocks = -(-trial.patients // trial.block_size)
    existing = [b for b in range(n_blocks) if block_path(out, b).exists()]
    if existing and not resume:
        raise FileExistsError(
            f"{out} already holds {len(existing)} block files of a trial; pass resume=True (--resume) "
            "to finish that run, or choose an empty folder"
        )
    todo = [b for b in range(n_blocks) if b not in existing]
    meta = metadata(trial)
    if existing:
        _check_same_run(block_path(out, existing[0]), meta)
    spec = trial.model_dump_json()
    t0, done = time.perf_counter(), 0

    def patients_in(block: int) -> int:
        return min(trial.block_size, trial.patients - block * trial.block_size)

    total = sum(patients_in(b) for b in todo)

    def finished(block: int, tables: dict[str, object]) -> None:
        nonlocal done
        for kind in trial.records:  # before the block: a block file on disk means its records are there
            write_block(tables[kind], records.records_path(out, kind, block), meta)
        write_block(tables["block"], block_path(out, block), meta)
        done += patients_in(block)
        if progress:
            progress(done, total)

    if workers <= 1 and scheduler is None:
        out.mkdir(parents=True, exist_ok=True)
        for b in todo:
            finished(b, run_block_tables(spec, b))
    else:
        from dask.distributed import as_completed

        cluster = None if scheduler else local_cluster(workers)
        # Connected before the folder is made: an unreachable scheduler leaves nothing on disk.
        with _client(scheduler, cluster) as client:
            out.mkdir(parents=True, exist_ok=True)
            futures = {client.submit(run_block_tables, spec, b, pure=False): b for b in todo}
            for fut in as_completed(list(futures)):
                finished(futures.pop(fut), fut.result())
                fut.release()  # a written block's rows leave the cluster's memory
        if cluster is not None:
            cluster.close()
    return RunSummary(len(todo), len(existing), trial.patients, time.perf_counter() - t0)


def _client(scheduler: str | None, cluster):
    """A Dask client of ``cluster``, or of the scheduler at ``scheduler``; an unreachable address is
    a :class:`ConnectionError` that names it (Dask's own is a traceback after its connect timeout)."""
    from dask.distributed import Client

    if scheduler is None:
        return Client(cluster)
    try:
        return Client(scheduler)
    except (OSError, ValueError) as exc:  # ValueError: an address Dask cannot parse
        raise ConnectionError(
            f"scheduler = {scheduler!r}: no Dask scheduler answered there ({exc}); give the address a "
            "running scheduler prints (e.g. tcp://10.0.0.5:8786, from `dask scheduler`), or leave "
            "--scheduler out to run locally"
        ) from None
