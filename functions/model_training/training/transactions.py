"""Purchase occasions per customer, and their summary for buy-till-you-die models.

A *purchase occasion* is a calendar day on which the customer bought at least once: orders placed on the same
day are combined and their values added, the convention of the published CDNOW analyses. Times are floats in
days since the Unix epoch; the models work in a coarser unit (``unit_days``, a week by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from segmentation.domain.models import StoredOrder

DAY_SECONDS = 86_400.0
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Occasions:
    """One customer's purchase occasions, oldest first: times in days since the epoch and their values."""

    times: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Summary:
    """The (x, t_x, T) summary of the customers who had bought by the calibration end.

    ``index`` says which input customers these rows are (customers whose first purchase came later are left
    out); ``monetary`` is the mean value of the repeat purchases (0 without any); ``holdout`` counts purchase
    occasions after the calibration end, up to the holdout end.
    """

    index: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    holdout: np.ndarray
    holdout_value: np.ndarray


def summarise(
    customers: Sequence[Occasions],
    calibration_end: float,
    *,
    unit_days: float = 7.0,
    holdout_end: float | None = None,
) -> Summary:
    """Summarise every customer whose first purchase is at or before ``calibration_end`` (days since epoch)."""
    rows: list[int] = []
    x, t_x, age, monetary, holdout, holdout_value = [], [], [], [], [], []
    for i, customer in enumerate(customers):
        times, values = customer.times, customer.values
        if not len(times) or times[0] > calibration_end:
            continue
        cut = int(np.searchsorted(times, calibration_end, side="right"))
        first = times[0]
        rows.append(i)
        x.append(cut - 1)
        t_x.append((times[cut - 1] - first) / unit_days)
        age.append((calibration_end - first) / unit_days)
        monetary.append(float(values[1:cut].mean()) if cut > 1 else 0.0)
        if holdout_end is None:
            holdout.append(0)
            holdout_value.append(0.0)
        else:
            stop = int(np.searchsorted(times, holdout_end, side="right"))
            holdout.append(stop - cut)
            holdout_value.append(float(values[cut:stop].sum()))
    return Summary(
        index=np.asarray(rows, dtype=np.int64),
        x=np.asarray(x, dtype=np.float64),
        t_x=np.asarray(t_x, dtype=np.float64),
        T=np.asarray(age, dtype=np.float64),
        monetary=np.asarray(monetary, dtype=np.float64),
        holdout=np.asarray(holdout, dtype=np.float64),
        holdout_value=np.asarray(holdout_value, dtype=np.float64),
    )


def day_number(day: date) -> float:
    return float((day - _EPOCH).days)


def epoch_days(instant: datetime) -> float:
    return instant.timestamp() / DAY_SECONDS


def counted_orders(orders: Iterable[StoredOrder], as_of: datetime) -> list[StoredOrder]:
    """The orders the feature catalogue counts at ``as_of``: placed by then and not fully refunded."""
    return sorted((o for o in orders if o.placed_at <= as_of and not o.fully_refunded), key=lambda o: o.placed_at)


def shop_occasions(orders: Iterable[StoredOrder], as_of: datetime, tz: ZoneInfo) -> Occasions:
    """A shop customer's occasions: orders combined per calendar day in the shop's time zone.

    An occasion happens at the time of that day's first order (so t_x and T keep the precision of the
    timestamps) and is worth the day's net spend.
    """
    times: list[float] = []
    values: list[float] = []
    last_day: date | None = None
    for order in counted_orders(orders, as_of):
        day = order.placed_at.astimezone(tz).date()
        if day == last_day:
            values[-1] += order.net_total
            continue
        last_day = day
        times.append(epoch_days(order.placed_at))
        values.append(order.net_total)
    return Occasions(np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64))


def read_cdnow(path: str | Path) -> list[Occasions]:
    """The CDNOW purchase log (the validation data set of the published BG/NBD and Gamma-Gamma fits).

    Accepts the 1/10 sample (customer id, id within the sample, YYYYMMDD, CDs, dollars; no header) and the
    master file (customer id, YYYYMMDD, CDs, dollars, one header line). Same-day purchases are combined.
    """
    by_customer: dict[str, dict[float, float]] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if not fields or not fields[-3].isdigit():
            continue  # the header line or a blank one
        customer, stamp, value = fields[0], fields[-3], float(fields[-1])
        day = day_number(date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8])))
        days = by_customer.setdefault(customer, {})
        days[day] = days.get(day, 0.0) + value
    out = []
    for days in by_customer.values():
        ordered = sorted(days)
        out.append(Occasions(np.asarray(ordered), np.asarray([days[d] for d in ordered])))
    return out
