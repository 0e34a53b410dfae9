"""In-silico trials: populations, trial specs, running blocks of patients, analysis and reports."""
