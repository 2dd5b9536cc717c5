"""RFM bands and the named groups of the R x F grid."""

from __future__ import annotations

import pytest

from segmentation.models import rfm
from segmentation.models.rfm import RFM_GROUPS

BREAKS = [1, 2, 3, 5]


@pytest.mark.parametrize(("value", "expected"), [(0, 1), (1, 1), (1.5, 2), (2, 2), (3, 3), (4, 4), (5, 4), (6, 5)])
def test_a_value_goes_to_the_band_of_the_first_break_it_does_not_exceed(value, expected):
    assert rfm.band(value, BREAKS) == expected


@pytest.mark.parametrize(("days", "expected"), [(0, 5), (30, 5), (31, 4), (90, 4), (200, 2), (365, 2), (366, 1)])
def test_recency_scores_5_for_the_most_recent(days, expected):
    assert rfm.recency_score(days, [30, 90, 180, 365]) == expected


def test_the_grid_uses_exactly_the_eleven_standard_names():
    names = {name for row in rfm.GRID for name in row}
    assert names == set(RFM_GROUPS)
    assert len(rfm.GRID) == 5 and all(len(row) == 5 for row in rfm.GRID)


@pytest.mark.parametrize(
    ("recency", "frequency", "group"),
    [
        (5, 5, "Champions"),
        (4, 4, "Loyal"),
        (3, 5, "Loyal"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (5, 3, "Potential Loyalist"),
        (3, 3, "Need Attention"),
        (3, 1, "About to Sleep"),
        (2, 3, "At Risk"),
        (1, 5, "Can't Lose Them"),
        (2, 2, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_named_groups(recency, frequency, group):
    assert rfm.group(recency, frequency) == group
