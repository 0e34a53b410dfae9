"""The ``gistsim`` command line. It only parses arguments and calls the API."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="gistsim: in-silico trials and patient twins for GIST. Research use only.", no_args_is_help=True)
console = Console()


@app.callback()
def _main() -> None:
    """gistsim: in-silico trials and patient twins for GIST. Research use only."""


@app.command()
def demo(
    out: Path = typer.Option(Path("out"), help="Folder for the figure."),
    seed: int = typer.Option(1, help="Random seed."),
    years: float = typer.Option(6.0, min=0.25, help="Years on the drug."),
) -> None:
    """Engine demonstration: lesions under a drug, resistant subclones growing back."""
    from gistsim.demo import plot_demo, run_demo, summary_rows

    with console.status("growing lesions from their founder cells and treating them"):
        result = run_demo(years=years, seed=seed)
    table = Table(title="Three liver lesions of one KIT exon 11 patient on a drug killing sensitive cells")
    for col in ("month", "sensitive cells", "resistant cells", "diameters (mm)", "largest resistant clone"):
        table.add_column(col, justify="right")
    for row in summary_rows(result):
        table.add_row(
            f"{row['month']:.1f}",
            f"{row['sensitive_cells']:.3g}",
            f"{row['resistant_cells']:.3g}",
            " / ".join(f"{d:.0f}" for d in row["diameters_mm"]),
            str(row["largest_resistant"]),
        )
    console.print(table)
    path = plot_demo(result, out / "engine_demo.png")
    console.print(f"figure: {path}")
    console.print("[dim]Research use only; not a substitute for clinical judgement.[/dim]")


if __name__ == "__main__":  # pragma: no cover
    app()
