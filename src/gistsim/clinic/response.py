"""Response categories, best overall response and time of first progression, for any criterion.

Works on the readings of :func:`gistsim.clinic.recist.assess` and
:func:`gistsim.clinic.choi.assess_choi`: a list whose item 0 is the baseline (its ``target`` is
``NA`` when there were no target lesions), each item with a ``day`` and a ``response``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class Response(StrEnum):
    """Response categories of RECIST 1.1 (and Choi), plus bookkeeping values."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    NON_CR_NON_PD = "NON-CR/NON-PD"
    PD = "PD"
    NE = "NE"
    NA = "NA"  # no lesions of that kind (no targets, no non-targets)
    NED = "NED"  # no disease at baseline and none seen since
    BASELINE = "BASELINE"


def best_overall_response(
    assessments: Sequence,
    *,
    confirm: bool = False,
    min_sd_days: float = 42.0,
    confirm_days: float = 28.0,
    start_day: float | None = None,
) -> Response:
    """Best response from the start until the first PD (Eisenhauer 2009, section 4.4 and Table 3).

    ``confirm``: CR/PR count only if a later visit ≥ ``confirm_days`` on is at least as good (a CR
    confirms a PR; NE or SD in between is allowed); use it when response is the primary endpoint.
    Unconfirmed responses, SD and NON-CR/NON-PD count as SD (NON-CR/NON-PD without targets) if
    seen ≥ ``min_sd_days`` after ``start_day`` (default: the baseline scan); else PD if PD
    followed, else NE. After an overall CR, a later SD is taken as PD (the CR was "truly met").
    """
    if not assessments:
        raise ValueError("assessments is empty; expected the baseline followed by the follow-up visits")
    start = assessments[0].day if start_day is None else start_day
    seq: list[tuple[float, Response]] = []
    had_cr = False
    for a in assessments[1:]:
        r = a.response
        # Disease seen after a CR that was truly met is PD (Table 3). PR is left alone: after a
        # CR, assess() gives PR only when non-targets were not evaluated (Table 1).
        if had_cr and r in (Response.SD, Response.NON_CR_NON_PD):
            r = Response.PD
        had_cr |= r == Response.CR
        seq.append((a.day, r))
        if r == Response.PD:
            break
    responses = [r for _, r in seq]

    def confirmed(good: tuple[Response, ...]) -> bool:
        return any(
            r in good and any(r2 in good and d2 - d >= confirm_days - 1e-9 for d2, r2 in seq[k + 1 :])
            for k, (d, r) in enumerate(seq)
        )

    if confirm:
        if confirmed((Response.CR,)):
            return Response.CR
        if confirmed((Response.CR, Response.PR)):
            return Response.PR
    else:
        for best in (Response.CR, Response.PR):
            if best in responses:
                return best
    stable = (Response.CR, Response.PR, Response.SD, Response.NON_CR_NON_PD)
    if any(r in stable and d - start >= min_sd_days - 1e-9 for d, r in seq):
        return Response.SD if assessments[0].target != Response.NA else Response.NON_CR_NON_PD
    for r in (Response.PD, Response.NED):
        if r in responses:
            return r
    return Response.NE


def first_pd_day(assessments: Sequence) -> float | None:
    """Day of the first visit read as PD (for PFS/TTP), or None."""
    return next((a.day for a in assessments if a.response == Response.PD), None)
