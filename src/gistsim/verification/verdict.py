"""The result of one verification check, and how sub-tests combine into it."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Significance level of every check (family-wise over its sub-tests, by Bonferroni).
ALPHA = 0.01


@dataclass
class SubTest:
    """One hypothesis test inside a check."""

    label: str
    """What is compared, e.g. ``"super n0=10: mean"``."""
    statistic: str
    """Test and value, e.g. ``"z = 0.41"`` or ``"chi2 = 12.3 (df 14)"``."""
    p_value: float
    """Two-sided p-value of this sub-test alone."""


@dataclass
class Verdict:
    """The outcome of one check, as printed by ``python -m gistsim.verification``."""

    name: str
    """Check name, as accepted by ``--only``."""
    statistic: str
    """Description of the test statistic(s)."""
    p_value: float | None
    """Family-wise (Bonferroni-adjusted) p-value: ``min(1, k · min_i p_i)`` over ``k`` sub-tests."""
    alpha: float
    """Family-wise significance level; the check fails when ``p_value < alpha``."""
    passed: bool
    detail: str = ""
    """Parameters, sample sizes and anything worth reading next to the verdict."""
    distance: float | None = None
    """For distance-based checks: the largest observed distance (e.g. KS D)."""
    subtests: list[SubTest] = field(default_factory=list)
    runtime_s: float = 0.0

    def line(self) -> str:
        p = "n/a" if self.p_value is None else f"{self.p_value:.3g}"
        word = "PASS" if self.passed else "FAIL"
        return (
            f"{word} {self.name}: {self.statistic}; p = {p}, alpha = {self.alpha:g} ({self.runtime_s:.1f} s)"
        )

    def report(self) -> str:
        """Verdict line, sub-tests and detail, for logs and pytest output."""
        rows = [self.line()]
        rows += [f"    {s.label}: {s.statistic}, p = {s.p_value:.3g}" for s in self.subtests]
        if self.detail:
            rows += ["    " + line for line in self.detail.splitlines()]
        return "\n".join(rows)


def combine(
    name: str,
    statistic: str,
    subtests: list[SubTest],
    *,
    alpha: float = ALPHA,
    detail: str = "",
    problems: list[str] | None = None,
) -> Verdict:
    """Bonferroni: each of the k sub-tests at alpha/k, i.e. the adjusted p = k·min p against alpha.

    ``problems`` lists broken preconditions (e.g. a case meant for the normal limit that the
    engine samples exactly); any problem fails the check whatever the p-values.
    """
    k = len(subtests)
    p_min = min(s.p_value for s in subtests)
    p_adj = min(1.0, k * p_min)
    problems = problems or []
    if problems:
        detail = "\n".join(["PRECONDITION FAILED: " + p for p in problems] + ([detail] if detail else []))
    return Verdict(
        name=name,
        statistic=f"{statistic} [{k} sub-tests, Bonferroni]",
        p_value=p_adj,
        alpha=alpha,
        passed=bool(p_adj >= alpha) and not problems,
        detail=detail,
        subtests=subtests,
    )
