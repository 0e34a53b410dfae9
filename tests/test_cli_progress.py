"""Progress bars of patients on a real (80-column) terminal."""

import io
import re

from rich.console import Console

from gistsim import cli

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_trial_bar_keeps_its_bar_and_elapsed_time_on_80_columns(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(
        cli, "console", Console(file=buffer, force_terminal=True, width=80, color_system=None)
    )
    with cli._patients_bar("trial", "trial focal-progression: 20,000 patients × 4 arms", 20_000) as update:
        update(12_000, 20_000)
    lines = [
        line for line in _CONTROL.sub("", buffer.getvalue()).replace("\r", "\n").splitlines() if line.strip()
    ]
    assert lines[0] == "trial focal-progression: 20,000 patients × 4 arms"
    last = lines[-1]
    assert len(last) <= 80, last
    # The whole elapsed time, and a bar at least a quarter of the line (Rich shrinks the bar first).
    assert re.search(r"12,000/20,000 patients +[\d,]+ patients/s +\d:\d\d:\d\d$", last), last
    assert last.startswith("trial ━") and last.index("12,000/") - len("trial ") >= 20, last
