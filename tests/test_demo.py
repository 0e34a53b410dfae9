import numpy as np
from typer.testing import CliRunner

from gistsim.cli import app
from gistsim.demo import run_demo, summary_rows


def test_demo_shows_response_then_regrowth():
    result = run_demo(years=6.0, seed=2)
    rows = summary_rows(result)
    sens = np.array([r["sensitive_cells"] for r in rows])
    res = np.array([r["resistant_cells"] for r in rows])
    total = result.cells.sum(axis=(1, 2))
    assert sens[-1] < sens[0] * 1e-6
    assert res[-1] > res[0]
    assert total.argmin() not in (0, len(total) - 1)


def test_cli_demo_writes_figure(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--years", "1"])
    assert res.exit_code == 0, res.output
    png = out / "engine_demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob("*.tmp.png"))
