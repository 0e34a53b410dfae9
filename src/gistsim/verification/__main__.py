"""``python -m gistsim.verification --level quick|full [--only NAME] [--seed S] [--verbose]``.

Prints one line per check (PASS/FAIL, name, statistic, p, α) and exits with status 1 if any
check fails.
"""

from __future__ import annotations

import argparse
import sys

from gistsim.verification import CHECKS, DEFAULT_SEED, Verdict, run_check


def _print_table(verdicts: list[Verdict], level: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency, plain text is a fallback
        for v in verdicts:
            print(v.line())
        return
    table = Table(title=f"gistsim verification ({level})")
    for col in ("", "check", "statistic", "p", "alpha", "time"):
        table.add_column(col)
    for v in verdicts:
        table.add_row(
            "[green]PASS[/green]" if v.passed else "[red]FAIL[/red]",
            v.name,
            v.statistic,
            "n/a" if v.p_value is None else f"{v.p_value:.3g}",
            f"{v.alpha:g}",
            f"{v.runtime_s:.1f} s",
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gistsim.verification", description=__doc__)
    parser.add_argument("--level", choices=("quick", "full"), default="quick")
    parser.add_argument(
        "--only", action="append", choices=list(CHECKS), help="run only this check (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every sub-test and detail")
    parser.add_argument("--plain", action="store_true", help="plain text instead of a rich table")
    args = parser.parse_args(argv)
    verdicts = []
    for name in args.only or list(CHECKS):
        verdict = run_check(name, args.level, args.seed)
        verdicts.append(verdict)
        print(verdict.report() if args.verbose else verdict.line(), flush=True)
    if not args.plain:
        _print_table(verdicts, args.level)
    failed = [v.name for v in verdicts if not v.passed]
    print(
        f"{len(verdicts) - len(failed)} passed, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
