"""The simulation's vectorised reader agrees with the readable per-patient RECIST 1.1 reader."""

import numpy as np
import pytest

from gistsim.clinic import reading
from gistsim.clinic.recist import Lesion, assess
from gistsim.clinic.response import Response
from gistsim.clinic.strategy import ORGANS

CODE = {
    Response.CR: reading.CR, Response.PR: reading.PR, Response.SD: reading.SD,
    Response.NON_CR_NON_PD: reading.SD, Response.PD: reading.PD, Response.NE: reading.NE,
    Response.NED: reading.NED,
}


def random_patients(rng, n_patients, n_visits):
    """Lesions in non-nodal organs with multiplicative random walks, disappearing and appearing."""
    patients = []
    for _ in range(n_patients):
        n_les = rng.integers(1, 9)
        organ = rng.choice([0, 1, 3], n_les)  # liver, peritoneum, lung
        start = np.exp(rng.uniform(np.log(3), np.log(60), n_les))
        drift = rng.normal(-0.05, 0.25, n_les)
        steps = rng.normal(0, 0.15, (n_les, n_visits))
        size = start[:, None] * np.exp(np.cumsum(steps + drift[:, None], axis=1) - steps[:, :1] - drift[:, None])
        size[size < 5] = np.nan  # below detection: not seen
        late = rng.random(n_les) < 0.2  # some appear only later
        size[late, : rng.integers(1, n_visits)] = np.nan
        patients.append((organ, size))
    return patients


def stacked(patients):
    """Lesion arrays of all patients: owner, organ, sizes (lesions × visits)."""
    lesion_patient = np.concatenate([np.full(len(o), i) for i, (o, _) in enumerate(patients)])
    organ = np.concatenate([o for o, _ in patients])
    return lesion_patient, organ, np.vstack([s for _, s in patients])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_reader_matches_recist(seed):
    rng = np.random.default_rng(seed)
    n_visits = 8
    patients = random_patients(rng, 60, n_visits)
    lesion_patient, organ, sizes = stacked(patients)
    hu = np.full(len(organ), 60.0)
    reader = reading.Reader(len(patients))
    reader.set_baseline(np.arange(len(patients)), lesion_patient, organ, sizes[:, 0], hu)
    mine = np.array([reader.read(lesion_patient, sizes[:, v], hu).recist for v in range(1, n_visits)])
    compared = 0
    for i, (o, s) in enumerate(patients):
        lesions = [Lesion(str(k), ORGANS[o[k]]) for k in range(len(o))]
        ref = assess(lesions, np.arange(n_visits) * 84.0, np.nan_to_num(s, nan=0.0))
        expected = [CODE[a.response] for a in ref[1:]]
        np.testing.assert_array_equal(mine[:, i], expected, err_msg=f"patient {i}")
        compared += 1
    assert compared == 60


@pytest.mark.parametrize("seed", [4, 5])
def test_vectorised_choi_matches_choi(seed):
    from gistsim.clinic.choi import assess_choi

    rng = np.random.default_rng(seed)
    n_visits = 8
    patients = random_patients(rng, 60, n_visits)
    lesion_patient, organ, sizes = stacked(patients)
    # Attenuation falling (necrosis) or rising at random, only where the lesion is seen.
    hu = 70.0 * np.exp(np.cumsum(rng.normal(-0.03, 0.08, sizes.shape), axis=1))
    hu[np.isnan(sizes)] = np.nan
    reader = reading.Reader(len(patients))
    reader.set_baseline(np.arange(len(patients)), lesion_patient, organ, sizes[:, 0], hu[:, 0])
    mine = np.array([reader.read(lesion_patient, sizes[:, v], hu[:, v]).choi for v in range(1, n_visits)])
    offset = 0
    for i, (o, s) in enumerate(patients):
        lesions = [Lesion(str(k), ORGANS[o[k]]) for k in range(len(o))]
        h = hu[offset : offset + len(o)]
        offset += len(o)
        ref = assess_choi(lesions, np.arange(n_visits) * 84.0, np.nan_to_num(s, nan=0.0), h)
        expected = [CODE[a.response] for a in ref[1:]]
        np.testing.assert_array_equal(mine[:, i], expected, err_msg=f"patient {i}")


def test_a_lesion_seen_before_a_new_baseline_is_not_new_when_it_reappears():
    """Three patients, each: a 40 mm liver target and a 12 mm lesion that vanished under treatment
    and is unseen at a new baseline (a line switch); then it is back at 6 mm.
    Patient 0: it was seen before, so it is disease seen again (SD: 6 mm is under 20% of the
    burden's nadir, 40 mm + 0); patient 1: never seen before, it is a new lesion (PD); patient 2:
    seen before but resected at the new baseline, so what grows there is new (PD)."""
    lesion_patient, organ = np.repeat([0, 1, 2], 2), np.zeros(6, dtype=np.int64)
    hu = np.full(6, 60.0)
    first = np.array([40.0, 12.0, 40.0, np.nan, 40.0, 12.0])
    reader = reading.Reader(3)
    reader.set_baseline(np.arange(3), lesion_patient, organ, first, hu)
    gone_at_switch = np.array([40.0, np.nan] * 3)
    reader.read(lesion_patient, gone_at_switch, hu)
    reader.set_baseline(np.arange(3), lesion_patient, organ, gone_at_switch, hu,
                        gone=np.array([False] * 5 + [True]))  # fmt: skip
    back = reader.read(lesion_patient, np.array([40.0, 6.0] * 3), hu)
    np.testing.assert_array_equal(back.recist, [reading.SD, reading.PD, reading.PD])
    np.testing.assert_array_equal(back.new_lesion, [False, True, True])
    # Grown back past a fifth of the burden's nadir (8 mm), it is unequivocal progression.
    again = reader.read(lesion_patient, np.array([40.0, 9.0] * 3), hu)
    assert again.recist[0] == reading.PD and not again.new_lesion[0]
