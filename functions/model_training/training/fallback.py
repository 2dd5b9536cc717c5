"""RFM inputs at any instant, and the small-data fallback: empirical rates per RFM group with intervals.

When there are too few repeat buyers to fit BG/NBD and Gamma-Gamma, a customer's outlook is what customers
in her RFM group actually did. The estimate is *lagged* so that it predicts rather than restates: customers
are grouped as they stood at the start of a recent window (up to a year before ``as_of``), and the rate is
what they bought during that window. Each rate carries an exact Poisson interval, each order value a bootstrap
interval, and groups too small to say anything borrow the whole base's figures, flagged ``pooled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from segmentation.domain.models import StoredOrder
from segmentation.features.compute import calendar_days_between
from training import rfm
from training.transactions import counted_orders, epoch_days, shop_occasions

MAX_WINDOW_DAYS = 365
MIN_GROUP_CUSTOMERS = 5  # smaller groups borrow the pooled figures rather than report a rate from a handful


@dataclass(frozen=True)
class RfmInputs:
    """Recency (calendar days), frequency (orders) and monetary (net spend) of buyers at one instant, computed
    as the attribute catalogue computes days_since_last_order, orders_count and total_spent."""

    index: np.ndarray  # which customers are buyers at that instant
    recency_days: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray


def rfm_inputs(histories: Sequence[Sequence[StoredOrder]], at: datetime, tz: ZoneInfo) -> RfmInputs:
    index, recency, frequency, monetary = [], [], [], []
    for i, orders in enumerate(histories):
        counted = counted_orders(orders, at)
        if not counted:
            continue
        index.append(i)
        recency.append(calendar_days_between(counted[-1].placed_at, at, tz))
        frequency.append(len(counted))
        monetary.append(round(sum(o.net_total for o in counted), 2))
    return RfmInputs(
        np.asarray(index, dtype=np.int64),
        np.asarray(recency, dtype=np.float64),
        np.asarray(frequency, dtype=np.float64),
        np.asarray(monetary, dtype=np.float64),
    )


@dataclass(frozen=True)
class Fallback:
    window_days: float
    start: datetime
    by_group: dict[str, dict[str, float | int | bool]]

    def rate(self, group: str) -> float:
        return float(self.by_group[group]["orders_per_year"])


def window(histories: Sequence[Sequence[StoredOrder]], as_of: datetime) -> float:
    """Days of the lag window: a year, or half the observed history when the shop is younger than two years."""
    firsts = [o.placed_at for orders in histories for o in orders[:1] if o.placed_at <= as_of]
    if not firsts:
        return 0.0
    observed = (as_of - min(firsts)).total_seconds() / 86_400
    return float(min(MAX_WINDOW_DAYS, observed / 2))


def estimate(
    histories: Sequence[Sequence[StoredOrder]], as_of: datetime, tz: ZoneInfo, *, seed: int = 0
) -> Fallback | None:
    """Per-group purchase rate, P(bought again in the window) and order value; None without a usable window."""
    days = window(histories, as_of)
    if days < 1:
        return None
    start = as_of - timedelta(days=days)
    inputs = rfm_inputs(histories, start, tz)
    if inputs.index.size == 0:
        return None
    breaks = rfm.fit_breaks(inputs.recency_days, inputs.frequency, inputs.monetary)
    groups = rfm.groups(breaks, inputs.recency_days, inputs.frequency)
    start_day, end_day = epoch_days(start), epoch_days(as_of)
    purchases = np.zeros(len(inputs.index))
    values: list[np.ndarray] = []
    for row, i in enumerate(inputs.index):
        occasions = shop_occasions(histories[i], as_of, tz)
        purchases[row] = np.sum((occasions.times > start_day) & (occasions.times <= end_day))
        values.append(occasions.values)
    rng = np.random.default_rng(seed)
    years = days / 365.0
    labels = np.asarray(groups)
    pooled = _figures(purchases, values, years, rng)
    by_group: dict[str, dict[str, float | int | bool]] = {}
    for group in rfm.GROUPS:
        members = np.flatnonzero(labels == group)
        if members.size < MIN_GROUP_CUSTOMERS:
            by_group[group] = {**pooled, "customers": int(members.size), "pooled": True}
            continue
        figures = _figures(purchases[members], [values[m] for m in members], years, rng)
        by_group[group] = {**figures, "customers": int(members.size), "pooled": False}
    return Fallback(window_days=round(days, 1), start=start, by_group=by_group)


def _figures(
    purchases: np.ndarray, values: list[np.ndarray], years: float, rng: np.random.Generator
) -> dict[str, float | int | bool]:
    count, exposure = float(purchases.sum()), len(purchases) * years
    low, high = rfm.poisson_interval(count, exposure)
    spend = np.concatenate(values) if values else np.zeros(0)
    spend = spend[spend > 0]
    value_low, value_high = rfm.mean_interval(spend, rng)
    return {
        "orders_per_year": round(count / exposure, 4) if exposure else 0.0,
        "orders_per_year_low": round(low, 4),
        "orders_per_year_high": round(high, 4),
        "p_alive": round(float(np.mean(purchases > 0)), 4) if len(purchases) else 0.0,
        "order_value": round(float(spend.mean()), 2) if spend.size else 0.0,
        "order_value_low": round(value_low, 2) if spend.size else 0.0,
        "order_value_high": round(value_high, 2) if spend.size else 0.0,
    }
