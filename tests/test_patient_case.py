"""simulate_patient, its figures, the case format, the case matcher and `gistsim case`."""

import json
from importlib.resources import files

import numpy as np
import pytest
from typer.testing import CliRunner

from gistsim.cases.match import DAYS_PER_MONTH, decision_twins, match_course
from gistsim.cases.schema import builtin_cases, load_case
from gistsim.cli import app
from gistsim.clinic.course import Records
from gistsim.clinic.drugs import regimen, regimen_names
from gistsim.clinic.figures import clone_composition, spider_plot, timeline
from gistsim.clinic.patient import simulate_patient
from gistsim.clinic.reading import CR, PR, SD
from gistsim.validation import InputError

PNG = b"\x89PNG\r\n\x1a\n"


def test_simulate_patient_course_and_figures(tmp_path):
    course = simulate_patient(
        lesions=[{"organ": "liver", "diameter_mm": 30}, {"organ": "peritoneum", "diameter_mm": 18}],
        years=3, rng=5,
    )
    n_visits = len(course.visit_day)
    # Baseline + full visits + the visit closing the last interval (the horizon's, or death's).
    end = min(3 * 365.25, course.death_day)
    assert n_visits == int(end // 84) + 2
    assert course.measured_mm.shape == (n_visits, len(course.lesion_ids)) == course.true_mm.shape
    assert course.recist[0] == "baseline" and len(course.recist) == n_visits
    assert course.lesion_organ[:2] == ["liver", "peritoneum"]
    assert course.events[0]["kind"] == "line_start" and course.events[0]["detail"] == "imatinib_400mg_daily"
    assert len(course.clones) == n_visits
    assert sum(c for (les, g), c in course.clones[0].items()) > 1e9
    for draw in (spider_plot, timeline, clone_composition):
        path = draw(course, tmp_path / f"{draw.__name__}.png")
        assert path.read_bytes()[:8] == PNG


def test_spider_plot_names_operations_once_in_its_legend_and_nowhere_else():
    from gistsim.clinic.figures import _plt, _spider_figure

    course = simulate_patient(lesions=[{"organ": "liver", "diameter_mm": 30}], years=2, rng=5)
    last = float(course.visit_month[-1])
    course.events += [{"kind": "surgery", "month": last - 1.0}, {"kind": "surgery", "month": last}]
    fig = _spider_figure(course, "")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("surgery") == 1
    assert not any("surgery" in t.get_text() for t in ax.texts)
    _plt().close(fig)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"lesions": []}, "lesions is empty"),
        ({"lesions": [{"organ": "brain", "diameter_mm": 3}]}, r"lesions\[0\].organ = 'brain' is not known; accepted values: 'liver'"),
        ({"lesions": [{"organ": "liver", "diameter_mm": -3}]}, r"lesions\[0\].diameter_mm = -3.0"),
        ({"lesions": [{"organ": "liver", "size": 3}]}, r"unknown keys \['size'\]; accepted keys: organ, diameter_mm"),
        ({"lesions": [{"organ": "liver", "diameter_mm": 3}], "driver": "KIT_exon12"}, r"driver = 'KIT_exon12' is not known"),
    ],
)
def test_simulate_patient_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_patient(**kwargs)


def records(recist, events, death_day=np.inf):
    days = [84.0 * v for v in range(len(recist))]
    rec = Records(visit_day=days, recist=[np.array([r]) for r in recist], events=events)
    rec.death_day = np.array([death_day])
    return rec


OBS = load_case("sakakura-2006").observed
DRUG_OF = {name: regimen(name).drug for name in regimen_names()}
# CR first read at visit 3 (day 252); focal progression of lesion 1 at day 756 (6 visits = 16.6 months).
COURSE = [-1, PR, PR, CR, CR, CR, CR, CR, CR, SD] + [SD] * 20
EVENTS = [(0, 0.0, "line_start", "imatinib_400mg_daily"), (0, 756.0, "progression", "focal"),
          (0, 756.0, "focal_progression", "liver 1"), (0, 756.0, "surgery", "hepatectomy 1:R0")]  # fmt: skip


def test_matcher_reads_the_milestones():
    horizon = 84.0 * 29
    (m,) = match_course(records(COURSE, EVENTS), OBS, horizon, DRUG_OF)
    assert m.cr_month == pytest.approx(252 / DAYS_PER_MONTH)
    assert m.cr_duration_months == pytest.approx(504 / DAYS_PER_MONTH)
    assert m.progressing_lesions_at_focal_progression == 1 and m.resected_lesions == [1]
    assert m.months_without_progression_after_resection == pytest.approx((horizon - 756) / DAYS_PER_MONTH)


def test_a_twin_at_the_decision_need_not_match_what_followed():
    early = EVENTS + [(0, 1100.0, "progression", "imatinib_400mg_daily")]  # < 24 months free after the resection
    assert match_course(records(COURSE, early), OBS, 84.0 * 29, DRUG_OF) == []
    (twin,) = decision_twins(records(COURSE, early), OBS, DRUG_OF)
    assert (twin.patient, twin.cr_day, twin.focal_day, twin.lesions) == (0, 252.0, 756.0, [1])
    between = EVENTS + [(0, 500.0, "progression", "imatinib_400mg_daily")]
    assert decision_twins(records(COURSE, between), OBS, DRUG_OF) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda c, e: (c, e + [(0, 500.0, "progression", "imatinib_400mg_daily")]),  # progression between
        lambda c, e: (c, [x if x[2] != "focal_progression" else (0, 756.0, "focal_progression", "liver 0,liver 1") for x in e]),
        lambda c, e: (c, [x if x[2] != "focal_progression" else (0, 756.0, "focal_progression", "lung 1") for x in e]),  # not in the liver
        lambda c, e: (c, e + [(0, 1100.0, "progression", "imatinib_400mg_daily")]),  # < 24 months free
        lambda c, e: (c, e + [(0, 400.0, "line_start", "sunitinib_50mg_4on2off")]),  # not on imatinib
        lambda c, e: ([-1, PR, PR, PR, PR, PR, PR, PR, PR, SD] + [SD] * 20, e),  # never a CR
        lambda c, e: (c, [(0, 0.0, "line_start", "avapritinib_300mg_daily")] + e[1:]),  # the case's CR was on imatinib
    ],
)
def test_matcher_refuses_other_courses(change):
    course, events = change(COURSE, EVENTS)
    assert match_course(records(course, events), OBS, 84.0 * 29, DRUG_OF) == []


def test_the_observed_drug_is_a_known_one_and_needs_the_regimens_drugs(tmp_path):
    any_drug = OBS.model_copy(update={"drug": None})
    assert len(match_course(records(COURSE, [(0, 0.0, "line_start", "avapritinib_300mg_daily")] + EVENTS[1:]), any_drug, 84.0 * 29)) == 1
    with pytest.raises(ValueError, match="needs regimen_drug"):
        match_course(records(COURSE, EVENTS), OBS, 84.0 * 29)
    raw = (files("gistsim.data") / "cases" / "sakakura-2006.yaml").read_text().replace("drug: imatinib", "drug: gleevec")
    bad = tmp_path / "c.yaml"
    bad.write_text(raw)
    with pytest.raises(InputError, match=r"observed.drug.*'gleevec' is not a drug; accepted values: imatinib, sunitinib"):
        load_case(bad)


def test_case_files_validate(tmp_path):
    assert "sakakura-2006" in builtin_cases()
    bad = tmp_path / "c.yaml"
    bad.write_text("name: x\nprimary: {site: brain}\n")
    with pytest.raises(InputError, match=r"primary.site: Input should be 'stomach'") as err:
        load_case(bad)
    assert "baseline: Field required" in str(err.value)
    with pytest.raises(ValueError, match="built-in cases: sakakura-2006"):
        load_case("nobody-2020")


def test_cli_case_writes_summary(tmp_path):
    res = CliRunner().invoke(app, ["case", "sakakura-2006", "--out", str(tmp_path), "--patients", "300", "--seed", "3"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "case_summary.json").read_text())
    assert {"matched", "n_simulated", "n_matched", "match_fraction"} <= summary.keys()
    assert summary["n_simulated"] == 300
    assert summary["match_fraction"] == summary["n_matched"] / 300
    text = (tmp_path / "case_summary.md").read_text()
    assert ("No virtual patient reproduced" in text) != summary["matched"]
    assert not list(tmp_path.glob("*.tmp"))


def test_the_example_is_the_matched_patients_own_course(monkeypatch):
    # A replay keeps no clones while it searches; the first matched patient is simulated again
    # alone for its figures and must have the course it had in its block. Any patient with a
    # progression stands in for a match here (real matches are ~1 in 3,000).
    import gistsim.cases.replay as replay
    from gistsim.cases.match import CaseMatch

    calls = []

    def simulate(*args, **kwargs):
        calls.append(replay_simulate(*args, **kwargs))
        return calls[-1]

    def first_progressing(rec, *_, **__):
        p = min(p for p, _, kind, _ in rec.events if kind == "progression")
        return [CaseMatch(p, 1.0, 2.0, 1.0, 1, [], 3.0)]

    replay_simulate = replay.simulate_course
    monkeypatch.setattr(replay, "simulate_course", simulate)
    monkeypatch.setattr(replay, "match_course", first_progressing)
    result = replay.replay_case("sakakura-2006", max_patients=60, block_size=30, seed=5)
    block, alone = calls[0], calls[1]
    assert len(calls) == 3 and alone.death_day.shape == (1,)  # one re-simulation, for the first match only
    p = first_progressing(block)[0].patient
    mine = [(day, kind, detail) for q, day, kind, detail in block.events if q == p]
    assert mine == [(day, kind, detail) for _, day, kind, detail in alone.events]
    assert alone.death_day[0] == block.death_day[p] and len(alone.clones) == len(alone.visit_day)
    assert result.example is not None
    assert [(e["day"], e["kind"], e["detail"]) for e in result.example.events] == sorted(mine, key=lambda e: e[0])


def test_the_summary_names_the_resected_lesion_as_the_figures_do(tmp_path):
    from gistsim.cases.replay import ReplayResult, write_replay

    (m,) = match_course(records(COURSE, EVENTS), OBS, 84.0 * 29, DRUG_OF)
    result = ReplayResult("sakakura-2006", True, 1000, 1, seed=0, horizon_months=84.0, matches=[m])
    write_replay(result, load_case("sakakura-2006"), tmp_path)
    assert json.loads((tmp_path / "case_summary.json").read_text())["resected_lesions"] == [1]
    text = (tmp_path / "case_summary.md").read_text()
    assert "focal progression of 1 liver lesion (lesion 1 in the figures)" in text and "that lesion resected" in text
