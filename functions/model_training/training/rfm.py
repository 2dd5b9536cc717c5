"""RFM: quintile breaks over the active base, scores 1..5, the eleven named groups, and the small-data fallback.

The active base is every customer with at least one counted order (completed, not fully refunded) at the
model's ``as_of``; customers without orders have no RFM. Breaks are the 20/40/60/80% quantiles taken as values
that occur in the data (the inverted empirical CDF), so a break is always a real number of days, orders or
spend, and ties (most customers have one order) stay together in one band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, norm

QUANTILES = (0.2, 0.4, 0.6, 0.8)

GROUPS = (
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

# The R x F grid: GRID[r - 1][f - 1] is the group of a customer with recency score r and frequency score f.
GRID: tuple[tuple[str, ...], ...] = (
    # F=1          F=2              F=3                 F=4               F=5
    ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),  # R=1
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),  # R=2
    ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),  # R=3
    ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"),  # R=4
    ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),  # R=5
)


def breaks(values: Sequence[float] | np.ndarray) -> list[float]:
    """Ascending quintile cut points (values that occur in the data); empty input has none."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return []
    return [float(v) for v in np.quantile(data, QUANTILES, method="inverted_cdf")]


def band(value: float, cut_points: Sequence[float]) -> int:
    """1..5: the band of the first break the value is <= to (5 past the last break)."""
    for i, cut in enumerate(cut_points):
        if value <= cut:
            return i + 1
    return len(cut_points) + 1


def bands(values: np.ndarray, cut_points: Sequence[float]) -> np.ndarray:
    """``band`` for many values at once."""
    return np.searchsorted(np.asarray(cut_points, dtype=np.float64), values, side="left") + 1


@dataclass(frozen=True)
class RfmBreaks:
    recency_days: list[float]
    frequency: list[float]
    monetary: list[float]

    def as_document(self) -> dict[str, list[float]]:
        return {
            "recency_days_breaks": self.recency_days,
            "frequency_breaks": self.frequency,
            "monetary_breaks": self.monetary,
        }

    @classmethod
    def from_document(cls, document: dict[str, list[float]]) -> RfmBreaks:
        return cls(document["recency_days_breaks"], document["frequency_breaks"], document["monetary_breaks"])


def fit_breaks(recency_days: np.ndarray, frequency: np.ndarray, monetary: np.ndarray) -> RfmBreaks:
    return RfmBreaks(breaks(recency_days), breaks(frequency), breaks(monetary))


def scores(model: RfmBreaks, recency_days: np.ndarray, frequency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recency (5 = most recent) and frequency (5 = most orders) scores."""
    r = 6 - bands(recency_days, model.recency_days)
    f = bands(frequency, model.frequency)
    return r, f


def groups(model: RfmBreaks, recency_days: np.ndarray, frequency: np.ndarray) -> list[str]:
    r, f = scores(model, recency_days, frequency)
    return [GRID[ri - 1][fi - 1] for ri, fi in zip(r.tolist(), f.tolist(), strict=True)]


# ---------------------------------------------------------------- small-data fallback


def poisson_interval(count: float, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson rate: ``count`` events over ``exposure``."""
    if exposure <= 0:
        return 0.0, float("inf")
    tail = (1 - level) / 2
    low = 0.0 if count == 0 else chi2.ppf(tail, 2 * count) / 2
    high = chi2.ppf(1 - tail, 2 * count + 2) / 2
    return float(low / exposure), float(high / exposure)


def mean_interval(
    values: np.ndarray, rng: np.random.Generator, level: float = 0.95, draws: int = 2000
) -> tuple[float, float]:
    """Interval of a mean: percentile bootstrap for small samples (order values are skewed), normal beyond."""
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float(values[0])
    tail = (1 - level) / 2
    if values.size > 1000:  # the mean is close to normal here, and resampling would cost draws x n memory
        half = float(norm.ppf(1 - tail)) * float(values.std(ddof=1)) / np.sqrt(values.size)
        return float(values.mean()) - half, float(values.mean()) + half
    samples = rng.choice(values, size=(draws, values.size), replace=True).mean(axis=1)
    low, high = np.percentile(samples, [tail * 100, 100 - tail * 100])
    return float(low), float(high)
