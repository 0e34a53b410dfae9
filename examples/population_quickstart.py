"""A population of your own, a trial that keeps its per-visit records, and who benefits.

A population file says how patients are drawn: their drivers, the primary site given the driver,
sex, age, lesions and PK variability. Here: the built-in liver-recurrence population with wider
imatinib exposure between patients (clearance CV 0.8 instead of the drug file's), run through the
default trial's resect-or-continue question; the trial keeps every visit's reading.

Run: python examples/population_quickstart.py   (results go to a temporary folder, printed at the end)
"""

import tempfile
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml

from gistsim.trials.analysis import analyze
from gistsim.trials.runner import run_trial
from gistsim.trials.spec import load_trial

out = Path(tempfile.mkdtemp(prefix="gistsim-"))

population = yaml.safe_load((files("gistsim") / "data/populations/liver-recurrence.yaml").read_text())
population |= {"name": "liver-recurrence-wide-pk", "pk_iiv_cv": {"imatinib": {"clearance": 0.8}}}
(out / "population.yaml").write_text(yaml.safe_dump(population))

base = load_trial("focal-progression")
trial = base.model_validate({**base.model_dump(), "population": str(out / "population.yaml"), "patients": 300,
                             "block_size": 150, "records": ["visits"],
                             "arms": [a.model_dump() for a in base.arms if a.name in ("resect-continue", "continue-unchanged")]})  # fmt: skip
run_trial(trial, out / "trial")
analysis = analyze(out / "trial")

# Who was randomised (a first progression that is a single escaping liver lesion), against everyone.
for group in ("all", "randomised"):
    b = analysis.baseline[group]
    print(f"{group}: {b['n']} patients, median age {b['age_years']['median']:.0f}, "
          f"{100 * b['sex']['male'] / b['n']:.0f}% male, KIT exon 11 {100 * b['driver']['KIT_exon11'] / b['n']:.0f}%")

# Hazard ratio of OS, continuing unchanged against resecting, by lesions at baseline.
lesions = analysis.subgroups[analysis.subgroups.variable == "lesions"]
print(lesions[["level", "n_arm", "hr", "ci_lower", "ci_upper"]].round(2).to_string(index=False))

# One randomised patient's readings, visit by visit, in both arms (days from randomisation).
visits = pd.concat(pq.read_table(p).to_pandas() for p in sorted((out / "trial").glob("visits-*.parquet")))
patient = int(analysis.data["patient_id"].iloc[0])
mine = visits[visits.patient_id == patient].pivot(index="day", columns="arm", values="recist")
print(f"patient {patient}, from randomisation:\n{mine[mine.index >= 0].head(6).to_string()}")
print(f"results in {out}")
