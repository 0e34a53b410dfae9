"""The main job in miniature, through the Python API: a trial, its analysis, and a sweep of the
parameter its answer depends on most (how often patients can be operated on again).

Run: python examples/trial_quickstart.py   (results go to a temporary folder, printed at the end)
"""

import tempfile
from pathlib import Path

from gistsim.trials.analysis import analyze
from gistsim.trials.runner import run_trial
from gistsim.trials.spec import load_trial
from gistsim.trials.sweep import run_sweep

out = Path(tempfile.mkdtemp(prefix="gistsim-"))

# The built-in default trial, cut to 300 patients and two of its arms so that it runs in seconds.
# Every arm treats the same virtual patients; those whose first progression is a single escaping
# liver lesion are randomised at that visit.
base = load_trial("focal-progression")
trial = base.model_validate({**base.model_dump(), "patients": 300, "block_size": 150,
                             "arms": [a.model_dump() for a in base.arms if a.name in ("resect-continue", "continue-unchanged")]})  # fmt: skip
run_trial(trial, out / "trial")
analysis = analyze(out / "trial")
print(f"{analysis.n_patients} of {trial.patients} patients randomised at focal progression")
columns = ["arm", "endpoint", "median_months", "hr_vs_first", "hr_ci_lower", "hr_ci_upper"]
print(analysis.summary[columns].round(2).to_string(index=False))

# The same trial at two values of the reoperation probability, on the same patients: only the arm
# that operates changes.
sweep = run_sweep(trial, "clinic.surgery.reoperation_probability", [0.2, 0.8], out / "sweep")
for value, summary in zip(sweep.values, sweep.summaries):
    arms = summary["arms"]
    print(f"reoperation probability {value}: median OS "
          + ", ".join(f"{arm} {arms[arm]['median_os_months']:.1f}" for arm in arms) + " months")  # fmt: skip
print(f"results in {out}")
