"""Population reorder intervals of consumable categories (oils, refills, candles...).

For each customer and category, the intervals between consecutive purchase days that included the category;
each customer's median interval counts once (a customer who reorders weekly must not outvote fifty who
reorder every two months), and the population interval is the median of those. The scoring side uses it when
a customer has too few reorders of her own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from statistics import median
from zoneinfo import ZoneInfo

from segmentation.domain.models import StoredOrder
from training.transactions import counted_orders

DEFAULT_CATEGORIES = ("essential_oils", "carrier_oils", "refills", "candles", "bath_salts")
MIN_CUSTOMERS = 5  # fewer customers who reordered: no population interval rather than a guess


def customer_intervals(orders: Iterable[StoredOrder], as_of: datetime, tz: ZoneInfo, category: str) -> list[float]:
    """Days between consecutive purchase days (shop calendar) that included ``category``."""
    days: list[date] = []
    for order in counted_orders(orders, as_of):
        if any(line.category == category for line in order.lines):
            day = order.placed_at.astimezone(tz).date()
            if not days or day != days[-1]:
                days.append(day)
    return [float((later - earlier).days) for earlier, later in itertools.pairwise(days)]


def population_intervals(
    histories: Sequence[Sequence[StoredOrder]], as_of: datetime, tz: ZoneInfo, categories: Sequence[str]
) -> tuple[dict[str, float], dict[str, int]]:
    """Median reorder interval per category, and how many customers' reorders it rests on."""
    intervals: dict[str, float] = {}
    sample_sizes: dict[str, int] = {}
    for category in categories:
        medians = [median(gaps) for orders in histories if (gaps := customer_intervals(orders, as_of, tz, category))]
        sample_sizes[category] = len(medians)
        if len(medians) >= MIN_CUSTOMERS:
            intervals[category] = round(float(median(medians)), 1)
    return intervals, sample_sizes
