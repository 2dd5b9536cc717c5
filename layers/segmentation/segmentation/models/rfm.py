"""RFM scores (1-5 by the model's quintile breaks) and the named groups of the R x F grid.

The grid (rows: recency score, columns: frequency score):

    R\\F |  1              2                   3                   4           5
    ----+------------------------------------------------------------------------------------
     5  |  New            Potential Loyalist  Potential Loyalist  Champions   Champions
     4  |  Promising      Potential Loyalist  Potential Loyalist  Loyal       Loyal
     3  |  About to Sleep About to Sleep      Need Attention      Loyal       Loyal
     2  |  Hibernating    Hibernating         At Risk             At Risk     Can't Lose Them
     1  |  Lost           Hibernating         At Risk             At Risk     Can't Lose Them

It is the usual segment map of R and F scores, with "Lost" for the oldest, least frequent corner.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

RFM_GROUPS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)

_N, _PL, _CH, _PR, _LO = "New", "Potential Loyalist", "Champions", "Promising", "Loyal"
_AS, _NA, _HI, _AR, _CL, _LS = "About to Sleep", "Need Attention", "Hibernating", "At Risk", "Can't Lose Them", "Lost"

# GRID[r - 1][f - 1]
GRID: tuple[tuple[str, ...], ...] = (
    (_LS, _HI, _AR, _AR, _CL),
    (_HI, _HI, _AR, _AR, _CL),
    (_AS, _AS, _NA, _LO, _LO),
    (_PR, _PL, _PL, _LO, _LO),
    (_N, _PL, _PL, _CH, _CH),
)


def band(value: float, breaks: Sequence[float]) -> int:
    """1..5: the band of the first break ``value`` is <= to (5 if above every break)."""
    return bisect_left(breaks, value) + 1


def recency_score(days_since_last_order: float, breaks: Sequence[float]) -> int:
    """5 for the most recent customers (fewest days), 1 for the least recent."""
    return 6 - band(days_since_last_order, breaks)


def group(recency: int, frequency: int) -> str:
    return GRID[recency - 1][frequency - 1]
