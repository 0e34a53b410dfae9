"""The ``gistsim`` command line. It only parses arguments and calls the API."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

SET_HELP = (
    "Override one parameter for this run, PATH=VALUE (e.g. evolution.kinetics_iiv_sigma_log=0.9); "
    "repeat for several. Recorded in every result file."
)


def parse_overrides(items: list[str] | None) -> dict[str, float]:
    """``["path=value", ...]`` → ``{path: float(value)}``; paths are checked where the model is built."""
    out: dict[str, float] = {}
    for item in items or []:
        path, sep, value = item.partition("=")
        path, value = path.strip(), value.strip()
        if not sep or not path or not value:
            raise ValueError(f"--set {item!r} is not accepted: write PATH=VALUE, e.g. potency.emax_per_day=0.04")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--set {item!r}: {value!r} is not a number; accepted: PATH=VALUE with a numeric value") from None
        if not math.isfinite(number):
            raise ValueError(f"--set {item!r}: the value must be finite")
        out[path] = number
    return out


app = typer.Typer(help="gistsim: in-silico trials and patient twins for GIST. Research use only.", no_args_is_help=True)
console = Console()


def _print_table(table: Table) -> None:
    """A table at its natural width when the output is not a terminal (a log, a pipe, ``make
    demo``'s output): Rich would fit it to 80 columns there and squeeze whole columns to "…". In a
    terminal Rich fits it to the terminal's width."""
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update(max_width=10_000)).maximum
    # print(width=...) is capped at the console's width: a console as wide as the table instead.
    Console(file=console.file, width=max(natural, console.width)).print(table)


def _progress_console() -> Console:
    """The console for progress bars: in a terminal, the terminal; in a log (80 columns unless told)
    Rich would shrink the bar to a few characters and cut the elapsed time, so 120 columns there."""
    return console if console.is_terminal else Console(file=console.file, width=max(console.width, 120))


@app.callback()
def _main() -> None:
    """gistsim: in-silico trials and patient twins for GIST. Research use only."""


@app.command()
def demo(
    out: Path = typer.Option(Path("out"), help="Folder for the figure."),
    seed: int = typer.Option(1, min=0, help="Random seed."),
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
    _print_table(table)
    path = plot_demo(result, out / "engine_demo.png")
    console.print(f"figure: {path}")
    console.print("[dim]Research use only; not a substitute for clinical judgement.[/dim]")


@app.command()
def case(
    name: str = typer.Argument("sakakura-2006", help="A built-in case name or a case YAML file."),
    out: Path = typer.Option(Path("out/case"), help="Folder for case_summary.json, the summary and figures."),
    patients: int = typer.Option(100_000, min=1, help="Most virtual patients to simulate (stops earlier at the time budget)."),
    seed: int = typer.Option(0, min=0, help="Random seed."),
    minutes: float = typer.Option(4.5, min=0.1, help="Time budget."),
    forecast: bool = typer.Option(False, "--forecast", help="Also treat the case's twins (matched up to the focal progression) under every alternative; results in OUT/forecast."),
    alternative: list[str] = typer.Option([], "--alternative", help="NAME=STRATEGY (repeat) for --forecast; default: the default trial's four arms and resecting once (resect-focal-once)."),
    follow_months: float = typer.Option(60.0, min=1.0, help="With --forecast: months followed after the latest possible decision (and the RMST horizon)."),
) -> None:
    """Replay an observed case: virtual patients like it, those whose course matches, and figures."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gistsim.cases.forecast import DEFAULT_ALTERNATIVES
    from gistsim.cases.replay import replay_case, write_replay
    from gistsim.cases.schema import load_case
    from gistsim.clinic.strategy import load_strategy

    try:
        spec = load_case(name)
        alternatives = _alternatives(alternative) if alternative else dict(DEFAULT_ALTERNATIVES)
        for strategy in alternatives.values():
            load_strategy(strategy)  # an unknown name fails here, naming the built-in strategies
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if alternative and not forecast:
        console.print("[red]--alternative is used with --forecast; add --forecast or leave it out[/red]")
        raise typer.Exit(2)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} patients"),
                  TextColumn("{task.fields[matched]}"), TimeElapsedColumn(), console=_progress_console()) as bar:  # fmt: skip
        # With --forecast the twins are what the forecast is made of: the bar counts them too.
        def counts(matched: int, twins: int) -> str:
            return f"{matched} matched" + (f", {twins:,} twins" if forecast else "")

        task = bar.add_task(f"replaying {spec.name}", total=patients, matched=counts(0, 0))
        try:
            result = replay_case(
                spec, max_patients=patients, seed=seed, time_budget_s=minutes * 60,
                alternatives=alternatives if forecast else None, follow_months=follow_months,
                progress=lambda n, m, t: bar.update(task, completed=n, matched=counts(m, t)),
            )  # fmt: skip
        except ValueError as exc:  # an alternative that acts before the decision
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    paths = write_replay(result, spec, out)
    if result.matched:
        m = result.matches[0]
        console.print(
            f"[green]{result.n_matched} of {result.n_simulated:,} virtual patients reproduced the course[/green] "
            f"({result.match_fraction:.3%}). One of them: CR at month {m.cr_month:.0f}, focal progression "
            f"{m.cr_duration_months:.0f} months later, then {m.months_without_progression_after_resection:.0f} "
            "months without progression after resection."
        )
    else:
        console.print(
            f"[yellow]No match: none of {result.n_simulated:,} virtual patients reproduced the observed course "
            "within the budget.[/yellow] The match was not loosened."
        )
    if forecast:
        console.print(f"{result.n_twins} twins at the decision, each treated under {len(alternatives)} alternatives "
                      f"({', '.join(alternatives)}); see case_summary.md and forecast/report.html")  # fmt: skip
    for p in paths:
        console.print(f"wrote {p}")
    console.print("[dim]Research use only; not a substitute for clinical judgement.[/dim]")


def _alternatives(items: list[str]) -> dict[str, str]:
    """``NAME=STRATEGY`` (or ``STRATEGY``, named after itself) -> {name: strategy}, names distinct."""
    out: dict[str, str] = {}
    for item in items:
        name, _, strategy = (x.strip() for x in (item.partition("=") if "=" in item else (item, "", item)))
        if not name or not strategy:
            raise ValueError(f"--alternative {item!r} is not accepted: write NAME=STRATEGY, e.g. switch=focal-switch-sunitinib")
        if name in out:
            raise ValueError(f"--alternative {item!r}: the name {name!r} is given twice; alternatives need distinct names")
        out[name] = strategy
    return out


def _trial_from_options(spec: str, n: int | None, seed: int | None, set_: list[str] | None, records: str | None = None):
    """The trial SPEC with --n, --seed, --set (and --records) applied; exits with the error on bad input."""
    from gistsim.trials.spec import load_trial
    from gistsim.validation import InputError, validate

    try:
        t = load_trial(spec)
        changes = {k: v for k, v in {"patients": n, "seed": seed}.items() if v is not None}
        if records is not None:
            changes["records"] = [r.strip() for r in records.split(",") if r.strip()]
        overrides = parse_overrides(set_)
        if overrides:
            changes["parameters"] = {**t.parameters, **overrides}
        return validate(type(t), {**t.model_dump(), **changes}, "trial with the command's options")
    except (InputError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@contextmanager
def _patients_bar(label: str, description: str, total: int):
    """A progress bar of patients with their rate; yields ``update(done, total)``.

    ``description`` is printed once above the bar, which shows only the short ``label``: on an
    80-column terminal a description such as "trial focal-progression (4 arms)" beside the counts
    left the bar two characters wide and cut the elapsed time.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console.print(description, highlight=False)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} patients"),
                  TextColumn("{task.fields[rate]} patients/s"), TimeElapsedColumn(), console=_progress_console()) as bar:  # fmt: skip
        task = bar.add_task(label, total=total, rate="-")

        def update(done: int, todo: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, total=todo, rate=f"{rate:,.0f}")

        yield update


@app.command()
def trial(
    spec: str = typer.Argument("focal-progression", help="A built-in trial name or a trial YAML file."),
    n: int | None = typer.Option(None, "--n", min=1, help="Number of patients (default: the spec's)."),
    seed: int | None = typer.Option(None, min=0, help="Random seed (default: the spec's)."),
    workers: int = typer.Option(1, min=1, help="Worker processes (a local Dask cluster when > 1)."),
    scheduler: str | None = typer.Option(None, help="Address of an existing Dask scheduler."),
    out: Path = typer.Option(Path("out/trial"), help="Results folder (one Parquet file per block)."),
    resume: bool = typer.Option(False, help="Skip blocks already written in OUT."),
    analyze_after: bool = typer.Option(True, "--analyze/--no-analyze", help="Write report.html and summary.json."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
    records: str | None = typer.Option(None, help="Records to keep beside the rows, comma-separated: visits, "
                                       "lesions ('' for none; default: the spec's)."),
) -> None:
    """Run an in-silico trial: every arm on the same virtual patients; results as Parquet."""
    from gistsim.trials.runner import run_trial

    t = _trial_from_options(spec, n, seed, set_, records)
    # total: what this run has to do (less than t.patients on --resume), so the bar ends full
    header = f"trial {t.name}: {t.patients:,} patients × {len(t.arms)} arms"
    try:  # the bar closes before the message
        with _patients_bar("trial", header, t.patients) as progress:
            summary = run_trial(t, out, workers=workers, scheduler=scheduler, resume=resume, progress=progress)
    except (FileExistsError, ConnectionError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"{summary.blocks_written} blocks written, {summary.blocks_skipped} already there; "
        f"{t.patients:,} patients × {len(t.arms)} arms in {summary.seconds:.0f} s → {out}"
    )
    if analyze_after:
        analyze(out, None)


@app.command()
def sweep(
    spec: str = typer.Argument("focal-progression", help="A built-in trial name or a trial YAML file."),
    parameter: str = typer.Option(..., help="Dotted parameter path, e.g. clinic.surgery.reoperation_probability."),
    values: str = typer.Option(..., help="Values separated by commas, e.g. 0.2,0.5,0.8 (each within the parameter's prior); "
                               "'prior': the prior's ends (uniform: low, high; lognormal: 5% and 95%) and the value in use."),
    n: int | None = typer.Option(None, "--n", min=1, help="Number of patients (default: the spec's)."),
    seed: int | None = typer.Option(None, min=0, help="Random seed (default: the spec's); the same for every value."),
    workers: int = typer.Option(1, min=1, help="Worker processes (a local Dask cluster when > 1)."),
    scheduler: str | None = typer.Option(None, help="Address of an existing Dask scheduler."),
    out: Path = typer.Option(Path("out/sweep"), help="Folder: one trial folder per value, and sweep.json/.md/.png."),
    resume: bool = typer.Option(False, help="Finish the values' runs already started in OUT."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Run a trial at several values of one parameter, on the same virtual patients, and compare."""
    from gistsim.trials.sweep import parse_values, prior_values, run_sweep, sweep_trials, write_sweep
    from gistsim.validation import InputError

    t = _trial_from_options(spec, n, seed, set_)
    try:
        points = prior_values(t, parameter) if values.strip() == "prior" else parse_values(values)
        sweep_trials(t, parameter, points)  # every value checked before any runs
    except (InputError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    header = f"sweep {parameter}: {len(points)} values × {t.patients:,} patients × {len(t.arms)} arms"
    try:  # the bar closes before the message
        with _patients_bar("sweep", header, t.patients * len(points)) as progress:
            result = run_sweep(t, parameter, points, out, workers=workers, scheduler=scheduler, resume=resume,
                               progress=progress)  # fmt: skip
    except (FileExistsError, ConnectionError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for path in write_sweep(result, out):
        console.print(f"wrote {path}")
    console.print("[dim]Research use only; not a substitute for clinical judgement.[/dim]")


@app.command()
def analyze(
    results: Path = typer.Argument(..., help="A trial's results folder (block-*.parquet)."),
    out: Path | None = typer.Option(None, help="Where to write report.html and summary.json (default: RESULTS)."),
) -> None:
    """Analyse a trial: Kaplan-Meier, log-rank, Cox hazard ratios, RMST; writes report.html and summary.json."""
    from gistsim.trials.analysis import analyze as run_analysis
    from gistsim.trials.report import write_report

    try:
        analysis = run_analysis(results)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    table = Table(title=f"{analysis.trial_name}: {analysis.population} patients (months)")
    table.add_column("arm", no_wrap=True)
    for col in ("endpoint", "n", "median (95% CI)", "HR vs first (95% CI)", "RMST", "log-rank p"):
        table.add_column(col, justify="right", no_wrap=True)

    def fmt(x: object, spec: str = ".1f") -> str:
        if x is None or (isinstance(x, float) and x != x):
            return "-"
        return "NR" if x == float("inf") else format(x, spec)  # NR: median not reached

    for row in analysis.summary.itertuples(index=False):
        r = row._asdict()
        table.add_row(
            str(r["arm"]), str(r["endpoint"]), str(r["n"]),
            f"{fmt(r['median_months'])} ({fmt(r['median_ci_lower_months'])}-{fmt(r['median_ci_upper_months'])})",
            f"{fmt(r['hr_vs_first'], '.2f')} ({fmt(r['hr_ci_lower'], '.2f')}-{fmt(r['hr_ci_upper'], '.2f')})",
            fmt(r["rmst_months"]), fmt(r["logrank_p"], ".3g"),
        )  # fmt: skip
    _print_table(table)
    if analysis.unfinished:
        console.print(f"[yellow]{analysis.unfinished}[/yellow]")
    for path in write_report(analysis, out or results):
        console.print(f"wrote {path}")
    console.print("[dim]Research use only; not a substitute for clinical judgement.[/dim]")


@app.command()
def validate(
    out: Path = typer.Option(Path("out/validation"), help="Folder for validation.html, validation.json and the trials."),
    workers: int = typer.Option(2, min=1, help="Worker processes (a local Dask cluster when > 1)."),
    scale: float = typer.Option(1.0, min=0.01, max=10.0, help="Patients as a multiple of each target trial's size."),
    parameter_set: str = typer.Option("calibrated", help="calibrated (the shipped defaults) or priors (the uncalibrated values of the data files)."),
    set_: list[str] = typer.Option(None, "--set", help=SET_HELP),
    seed_offset: int = typer.Option(0, min=0, help="Added to every target trial's seed: other virtual patients, to see how much the count within owes to the draw."),
) -> None:
    """Run every calibration-target trial and compare simulated with published, side by side.

    With ``--scale`` below 1 and ``--set`` it is also the way to try a parameter change on every
    target before calibrating (a pilot): ``--scale 0.3`` takes about 3 minutes on two cores.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gistsim.calibration.report import headline
    from gistsim.calibration.validate import run_validation

    if parameter_set not in ("calibrated", "priors"):
        console.print(f"[red]--parameter-set = {parameter_set!r}: accepted values: calibrated, priors[/red]")
        raise typer.Exit(2)
    try:
        overrides = parse_overrides(set_)
        if overrides:  # checked before any trial runs: a bad path fails here, not minutes later
            from gistsim.model import Model

            Model.build(parameter_set, overrides)
    except (ValueError, KeyError) as exc:
        console.print(f"[red]{exc.args[0] if isinstance(exc, KeyError) else exc}[/red]")
        raise typer.Exit(2) from None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} patients"),
                  TimeElapsedColumn(), console=_progress_console()) as bar:  # fmt: skip
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"trial {name}", total=total)
            bar.update(tasks[name], completed=done)

        try:
            outcomes, paths = run_validation(out, workers=workers, scale=scale, parameter_set=parameter_set,
                                             parameters=overrides, seed_offset=seed_offset, progress=progress)  # fmt: skip
        except FileExistsError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    table = Table(title=headline(outcomes))
    for col in ("target", "published", "simulated (95% interval)", "tolerance", "within"):
        table.add_column(col, justify="right" if col != "target" else "left", no_wrap=col == "target")
    def f(x: float, pct: bool) -> str:
        if x is None or math.isnan(x):
            return "-"
        if x == float("inf"):
            return "NR"  # a median not reached
        return f"{100 * x:.1f}%" if pct else f"{x:.3g}"

    for o in outcomes:
        pct = o.unit == "proportion"
        table.add_row(o.name, f(o.published, pct), f"{f(o.simulated, pct)} ({f(o.lo, pct)}-{f(o.hi, pct)})",
                      f"±{100 * o.tolerance:.1f} pts" if pct else f"±{o.tolerance:.3g}",
                      "[green]yes[/green]" if o.within else "[red]no[/red]")  # fmt: skip
    _print_table(table)
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def calibrate(
    out: Path = typer.Option(Path("out/calibration"), help="Folder for calibrated.yaml and calibration.json."),
    seed: int = typer.Option(2026, min=0, help="Seed of CMA-ES (the trials keep their own seeds: common random numbers)."),
    evaluations: int = typer.Option(240, min=2, help="Most candidate parameter sets to evaluate."),
    popsize: int = typer.Option(10, min=2, help="Candidates per CMA-ES generation."),
    scale: float = typer.Option(0.06, min=0.005, max=1.0, help="Patients per candidate, as a multiple of each target trial's size."),
    workers: int = typer.Option(2, min=1, help="Worker processes evaluating candidates in parallel."),
    start: str = typer.Option("priors", help="Where the search starts: 'priors' (the data files' values) or "
                              "'calibrated' (the shipped set, to refine it)."),
    sigma0: float = typer.Option(0.8, min=0.01, max=3.0, help="Initial CMA-ES step, in prior standard deviations."),
    free: list[str] = typer.Option(None, "--free", help="A fitted parameter to search (repeat the option); the "
                                   "others stay at their start values. Default: every fitted parameter."),
    set_: list[str] = typer.Option(None, "--set", help="PATH=VALUE: a fitted parameter's start value, over --start's."),
    loss: str = typer.Option("cauchy", help="The distance's loss per target: 'cauchy' (far-off targets still "
                             "pull) or 'welsch' (they stop pulling; near ones count)."),
    quick: bool = typer.Option(False, "--quick", help="A few small evaluations: exercises the whole path in minutes."),
) -> None:
    """Fit the uncertain parameters to the published targets (CMA-ES with common random numbers)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gistsim.calibration.fit import calibrate as run_calibration
    from gistsim.calibration.fit import check_fitted, start_values
    from gistsim.calibration.simulate import check_loss

    try:
        start_at = start_values(start)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--start") from exc
    try:
        overrides = parse_overrides(set_)
        check_fitted(overrides, "--set")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--set") from exc
    try:
        check_fitted(free or [], "--free")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--free") from exc
    start_at |= overrides
    try:
        check_loss(loss)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--loss") from exc
    if quick:
        evaluations, popsize, scale = min(evaluations, 4), 2, 0.01
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} candidates"),
                  TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), console=_progress_console()) as bar:  # fmt: skip
        task = bar.add_task("calibrating", total=evaluations, best="-")
        result = run_calibration(
            out, seed=seed, scale=scale, max_evaluations=evaluations, popsize=popsize, workers=workers,
            start=start_at, free=tuple(free) if free else None, loss=loss, sigma0=sigma0, progress=lambda k, _, best: bar.update(task, completed=k, best=f"{best:.3f}"),
        )  # fmt: skip
    console.print(f"{result.evaluations} candidates; best objective {result.best_objective:.3f} "
                  f"(distance {result.best_distance:.3f})")  # fmt: skip
    for k, v in result.best.items():
        console.print(f"  {k} = {v:.4g}")
    console.print(f"wrote {out / 'calibrated.yaml'} (ship it as src/gistsim/data/calibrated.yaml) and "
                  f"{out / 'calibration.json'}")  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    app()
