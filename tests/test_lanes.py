"""Randomised patients handed over at their focal progression give the rows of a replay from day 0."""

import numpy as np
import pytest

from gistsim.streams import Draws, PatientStreams
from gistsim.trials import runner
from gistsim.trials.spec import DEFAULT_TRIAL, load_trial


def _rows(monkeypatch, trial, block: int, hand_over: bool) -> list[dict]:
    monkeypatch.setattr(runner, "FORK_AT_RANDOMISATION", hand_over)
    return runner.run_block(trial.model_dump_json(), block)


@pytest.mark.parametrize(("patients", "block", "arms"), [(60, 0, 4), (60, 3, 4), (40, 1, 2)])
def test_handing_over_gives_the_rows_of_a_replay(monkeypatch, patients, block, arms):
    base = load_trial(DEFAULT_TRIAL)
    trial = base.model_validate({**base.model_dump(), "patients": patients * 4, "block_size": patients,
                                 "arms": base.model_dump()["arms"][:arms]})  # fmt: skip
    replayed = _rows(monkeypatch, trial, block, hand_over=False)
    handed = _rows(monkeypatch, trial, block, hand_over=True)
    randomised = {r["patient_id"] for r in replayed if r["randomised"]}
    # The comparison means something: patients randomised at different visits, arms that differ.
    assert len(randomised) >= 5
    assert len({r["time_origin_day"] for r in replayed if r["randomised"]}) >= 3
    first_arm = replayed[0]["arm"]
    events = [{r["events_json"] for r in replayed if r["randomised"] and (r["arm"] == first_arm) == mine}
              for mine in (True, False)]  # fmt: skip
    assert events[0] != events[1]
    # repr: every value, NaN and the sign of zero included, in the same order.
    assert repr(handed) == repr(replayed)


def test_streams_extended_draw_as_their_generators_would():
    kept = PatientStreams.from_ids(5, np.arange(3))
    draws = Draws(kept)
    draws.standard_normal(np.arange(3))  # the typed list exists before the extension
    assert kept.typed_generators is not None and kept.state_addresses is not None
    extra = PatientStreams.from_ids(6, np.arange(2)).generators
    fresh = PatientStreams.from_ids(6, np.arange(2)).generators
    kept.extend(extra)
    assert len(kept) == 5 and len(kept.typed_generators) == 5 and len(kept.state_addresses) == 5
    owner = np.array([4, 3, 3, 4, 0])
    uniforms = draws.random(owner)
    normals = draws.standard_normal(owner)
    sizes = draws.binomial(owner, np.full(5, 1000), np.full(5, 0.3))
    for k, g in zip((3, 4), fresh):
        mine = owner == k
        assert (uniforms[mine] == g.random(mine.sum())).all()
        assert (normals[mine] == g.standard_normal(mine.sum())).all()
        assert (sizes[mine] == g.binomial(1000, 0.3, mine.sum())).all()


def test_a_course_whose_patients_all_died_runs_on_to_the_next_joiners(monkeypatch):
    # The first visit's joiners arrive dead (and without cells): the course then runs with no one
    # alive until the next ones join, whose rows must be those of the unmodified run.
    from gistsim.clinic import lanes

    base = load_trial(DEFAULT_TRIAL)
    trial = base.model_validate({**base.model_dump(), "patients": 240, "block_size": 60})
    plain = runner.run_block(trial.model_dump_json(), 0)
    first_visit: set[int] = set()

    def dead_first(joiners, strategy, **kw):
        j = joiners[0]
        j.patient["st.alive"] = np.zeros_like(j.patient["st.alive"])
        j.clones = j.clones.rows(np.zeros(len(j.clones), dtype=bool))
        first_visit.update(j.parents.tolist())
        assert len(joiners) > 1 and joiners[1].visit > j.visit
        return lanes.continue_courses(joiners, strategy, **kw)

    monkeypatch.setattr(runner, "continue_courses", dead_first)
    changed = runner.run_block(trial.model_dump_json(), 0)
    first_arm = plain[0]["arm"]
    ids = {r["patient_id"] for r in plain[:60]}
    moved = {r["patient_id"] - min(ids) for r in plain if r["arm"] != first_arm and r["randomised"]}
    assert first_visit and first_visit < moved
    for before, after in zip(plain, changed):
        if before["arm"] != first_arm and before["patient_id"] - min(ids) in first_visit:
            assert after["os_days"] != before["os_days"] or after["events_json"] != before["events_json"]
        else:
            assert repr(after) == repr(before)
