"""Score one customer from the stored model parameters, in closed form: the model attributes of the catalogue.

Inputs are the customer's history and the plain features already derived at ``now``; nothing here reads the
clock or the network. What each attribute means, and how it is computed, is in ``docs/models.md`` ("Scoring").

Purchase occasions: orders on the same calendar day (shop time zone) count as one purchase for BG/NBD and for
reorder intervals, as is usual for these models (a second order minutes after the first is not a repeat
purchase). Fully refunded orders do not count, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from segmentation.features.compute import calendar_days_between
from segmentation.models import formulas, rfm
from segmentation.observability import logger

if TYPE_CHECKING:
    from segmentation.features.compute import CustomerHistory
    from segmentation.models.document import FallbackGroup, ModelDocument

DAYS_PER_YEAR = 365.0
NEXT_ORDER_LIMIT_DAYS = 5 * 365.0  # further than this, "expected next order" says nothing useful
NEXT_ORDER_TOLERANCE_DAYS = 0.01
HORIZONS_DAYS = (30, 90, 365)
SERIES_CACHE_SIZE = 512


class _Occasion:
    """One purchase occasion: a calendar day with at least one counted order."""

    __slots__ = ("at", "categories", "value")

    def __init__(self, at: datetime) -> None:
        self.at = at  # the first order of the day
        self.value = 0.0
        self.categories: set[str] = set()


def _occasions(orders: Iterable[Any], tz: ZoneInfo) -> list[_Occasion]:
    days: dict[date, _Occasion] = {}
    for order in orders:
        day = order.placed_at.astimezone(tz).date()
        occasion = days.get(day)
        if occasion is None:
            occasion = days[day] = _Occasion(order.placed_at)
        occasion.value += order.net_total
        occasion.categories.update(line.category for line in order.lines)
    return [days[d] for d in sorted(days)]


class _Purchases:
    """Expected purchases by horizon (days -> count), with bounds when they come from the fallback."""

    __slots__ = ("alive", "cumulative", "estimated", "high", "low", "next_order_days")

    def __init__(
        self,
        alive: float,
        cumulative: dict[float, float],
        next_order_days: float | None,
        *,
        estimated: bool = False,  # from the RFM-group fallback: rounded, with bounds where training gave them
    ) -> None:
        self.alive = alive
        self.cumulative = cumulative
        self.next_order_days = next_order_days
        self.estimated = estimated
        self.low: dict[float, float] | None = None
        self.high: dict[float, float] | None = None


def _median(values: list[float]) -> float:
    # Not statistics.median: that module costs milliseconds of every cold start for one line of arithmetic.
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _significant(value: float, digits: int = 2) -> float:
    """``value`` to ``digits`` significant figures: fallback estimates are not precise, and do not pretend."""
    return float(f"{value:.{digits}g}")


class ScoringModel:
    """A validated model document with the constants of scoring computed once per container."""

    def __init__(self, document: ModelDocument) -> None:
        self.document = document
        self.version = document.version
        self.fallback = document.uses_fallback
        self._unit = document.time_unit_days
        months = max(1, round(document.clv.horizon_days * 12 / DAYS_PER_YEAR))
        horizon = document.clv.horizon_days
        self._month_ends = [horizon * i / months for i in range(1, months + 1)]
        self._discounts = formulas.monthly_discount_factors(months, document.clv.annual_discount_rate)
        self._horizons = sorted({*HORIZONS_DAYS, *self._month_ends})
        # The BG/NBD series depends on a customer only through the number of repeat purchases: one per count,
        # shared by every customer this container scores with this model.
        self._series: dict[int, formulas.PowerSeries] = {}

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        """Parse and validate a stored document (raises pydantic's ``ValidationError`` naming the bad field)."""
        # Deferred: the document's pydantic models are built once per container, when there is a model to load.
        from segmentation.models.document import ModelDocument

        return cls(ModelDocument.model_validate_json(text))

    # -- scoring -------------------------------------------------------------------------------------

    def score(self, history: CustomerHistory, attrs: dict[str, Any], now: datetime, tz: ZoneInfo) -> dict[str, Any]:
        """The model attributes of one customer at ``now``, given the plain features ``attrs`` at ``now``.

        Attributes that do not apply (no orders yet, no part of the model for them) are simply absent.
        """
        out: dict[str, Any] = {"model.version": self.version, "model.fallback": self.fallback}
        counted = sorted(
            (o for o in history.orders if o.placed_at <= now and not o.fully_refunded), key=lambda o: o.placed_at
        )
        if not counted:
            return out
        occasions = _occasions(counted, tz)
        doc = self.document
        if doc.rfm is not None:
            out.update(self._rfm(attrs))
        try:
            self._predict(out, occasions, now)
        except (ArithmeticError, ValueError):
            # Parameters at the edge of what the formulas support (a series that would need millions of terms):
            # the predictions are missing for this customer, and the real-time path carries on.
            for name in [n for n in out if n.startswith("predicted.")]:
                del out[name]
            logger.warning("prediction failed", extra={"customer_id": history.profile.customer_id}, exc_info=True)
        if doc.affinity is not None:
            out.update(self._affinity(counted))
        if doc.replenishment is not None:
            out.update(self._replenishment(occasions, now, tz))
        if doc.clusters is not None:
            out.update(self._cluster({**attrs, **out}))
        return out

    def _rfm(self, attrs: dict[str, Any]) -> dict[str, Any]:
        breaks = self.document.rfm
        assert breaks is not None
        recency = rfm.recency_score(attrs["days_since_last_order"], breaks.recency_days_breaks)
        frequency = rfm.band(attrs["orders_count"], breaks.frequency_breaks)
        monetary = rfm.band(attrs["total_spent"], breaks.monetary_breaks)
        return {
            "rfm.recency_score": recency,
            "rfm.frequency_score": frequency,
            "rfm.monetary_score": monetary,
            "rfm.group": rfm.group(recency, frequency),
        }

    def _predict(self, out: dict[str, Any], occasions: list[_Occasion], now: datetime) -> None:
        group = self._fallback_group(out.get("rfm.group"))
        if self.document.bgnbd is not None:
            purchases = self._bgnbd(occasions, now)
        elif group is not None:
            purchases = self._group_purchases(group)
        else:
            return
        alive = purchases.alive
        precise = not purchases.estimated
        out["predicted.p_alive"] = round(alive, 4) if precise else round(alive, 2)
        for days in HORIZONS_DAYS:
            expected = purchases.cumulative[days]
            out[f"predicted.orders_next_{days}d"] = round(expected, 4) if precise else _significant(expected)
        if purchases.low is not None and purchases.high is not None:
            out["predicted.orders_next_90d_low"] = _significant(purchases.low[90])
            out["predicted.orders_next_90d_high"] = _significant(purchases.high[90])
        out["predicted.churn_risk"] = self.churn_band(alive)
        if purchases.next_order_days is not None:
            out["predicted.next_order_at"] = (now + timedelta(days=purchases.next_order_days)).replace(microsecond=0)

        # Expected order value: Gamma-Gamma on the customer's repeat purchases, else the RFM group's mean value.
        gg = self.document.gamma_gamma
        if gg is not None:
            x = len(occasions) - 1
            mean_value = sum(o.value for o in occasions[1:]) / x if x else 0.0
            order_value = formulas.gamma_gamma_order_value(gg.p, gg.q, gg.v, x, mean_value)
            out["predicted.order_value"] = round(order_value, 2)
        elif group is not None:
            order_value = group.order_value
            out["predicted.order_value"] = _significant(order_value)
        else:
            return
        clv = self._clv(purchases.cumulative, order_value)
        if not self.fallback:
            out["predicted.clv"] = round(clv, 2)
            return
        out["predicted.clv"] = _significant(clv)
        if purchases.low is not None and purchases.high is not None:
            out["predicted.clv_low"] = _significant(self._clv(purchases.low, order_value))
            out["predicted.clv_high"] = _significant(self._clv(purchases.high, order_value))

    def _bgnbd(self, occasions: list[_Occasion], now: datetime) -> _Purchases:
        m = self.document.bgnbd
        assert m is not None
        unit = self._unit
        first = occasions[0].at
        x = len(occasions) - 1
        t_x = (occasions[-1].at - first).total_seconds() / 86400 / unit
        big_t = max((now - first).total_seconds() / 86400 / unit, t_x)
        alive = formulas.p_alive(m.r, m.alpha, m.a, m.b, x, t_x, big_t)
        series = self._repeat_series(x)
        if_alive = {
            days / unit: formulas.expected_purchases_if_alive(m.r, m.alpha, m.a, m.b, x, big_t, days / unit, series)
            for days in self._horizons
        }
        cumulative = {days: alive * if_alive[days / unit] for days in self._horizons}
        next_order_days = None
        if alive >= self.document.churn_bands.medium:
            found = formulas.time_to_one_purchase(
                m.r,
                m.alpha,
                m.a,
                m.b,
                x,
                big_t,
                limit=NEXT_ORDER_LIMIT_DAYS / unit,
                tolerance=NEXT_ORDER_TOLERANCE_DAYS / unit,
                series=series,
                known=if_alive,  # brackets the root between two horizons already computed
            )
            next_order_days = found * unit if found is not None else None
        return _Purchases(alive, cumulative, next_order_days)

    def _repeat_series(self, x: int) -> formulas.PowerSeries:
        series = self._series.get(x)
        if series is None:
            m = self.document.bgnbd
            assert m is not None
            if len(self._series) >= SERIES_CACHE_SIZE:
                self._series.clear()
            series = self._series[x] = formulas.repeat_series(m.r, m.a, m.b, x)
        return series

    def _group_purchases(self, group: FallbackGroup) -> _Purchases:
        """The RFM group's rate, read as expected orders per customer per year whether still buying or not."""
        horizons = self._horizons
        rate, alive = group.orders_per_year / DAYS_PER_YEAR, group.p_alive
        next_order_days = None
        if alive >= self.document.churn_bands.medium and rate > 0:
            gap = alive / rate  # mean gap between orders of the group's customers who are still buying
            next_order_days = gap if gap <= NEXT_ORDER_LIMIT_DAYS else None
        purchases = _Purchases(alive, {d: rate * d for d in horizons}, next_order_days, estimated=True)
        low, high = group.orders_per_year_low, group.orders_per_year_high
        if low is not None and high is not None:  # no bounds rather than a made-up range
            purchases.low = {d: low / DAYS_PER_YEAR * d for d in horizons}
            purchases.high = {d: high / DAYS_PER_YEAR * d for d in horizons}
        return purchases

    def _clv(self, cumulative: dict[float, float], order_value: float) -> float:
        """Sum over months of expected purchases in the month x order value, discounted monthly."""
        total, before = 0.0, 0.0
        for end, discount in zip(self._month_ends, self._discounts, strict=True):
            total += (cumulative[end] - before) * order_value * discount
            before = cumulative[end]
        return total

    def _fallback_group(self, name: str | None) -> FallbackGroup | None:
        fallback = self.document.fallback
        if fallback is None or name is None:
            return None
        return fallback.by_rfm_group.get(name)

    def churn_band(self, alive: float) -> str:
        bands = self.document.churn_bands
        if alive >= bands.low:
            return "low"
        return "medium" if alive >= bands.medium else "high"

    def _affinity(self, counted: list[Any]) -> dict[str, Any]:
        """Per category: the customer's share of orders holding it, shrunk towards the population's share by
        ``prior_orders`` pseudo-orders, as ``s / (s + population share)``: 0.5 is "like the average customer",
        towards 1 "much more", towards 0 "much less"."""
        affinity = self.document.affinity
        assert affinity is not None
        n = len(counted)
        k = affinity.prior_orders
        holding: dict[str, int] = {}
        for order in counted:
            for category in {line.category for line in order.lines}:
                holding[category] = holding.get(category, 0) + 1
        out: dict[str, Any] = {}
        for category, share in affinity.population_order_share.items():
            smoothed = (holding.get(category, 0) + k * share) / (n + k)
            out[f"affinity.{category}"] = round(smoothed / (smoothed + share), 4)
        return out

    def _replenishment(self, occasions: list[_Occasion], now: datetime, tz: ZoneInfo) -> dict[str, Any]:
        """Per consumable category: the customer's median reorder interval (2+ purchases in it), else the
        population's, added to the last purchase in the category."""
        replenishment = self.document.replenishment
        assert replenishment is not None
        out: dict[str, Any] = {}
        upcoming: list[tuple[int, str]] = []
        for category in replenishment.categories:
            times = [o.at for o in occasions if category in o.categories]
            if not times:
                continue
            if len(times) >= 2:
                interval = _median([(b - a).total_seconds() / 86400 for a, b in pairwise(times)])
            elif category in replenishment.population_interval_days:
                interval = replenishment.population_interval_days[category]
            else:
                continue
            due = (times[-1] + timedelta(days=interval)).astimezone(UTC).replace(microsecond=0)
            in_days = calendar_days_between(now, due, tz)
            out[f"replenish_interval_days.{category}"] = round(interval, 1)
            out[f"replenish_at.{category}"] = due
            out[f"replenish_in_days.{category}"] = in_days
            if in_days >= 0:
                upcoming.append((in_days, category))
        if upcoming:
            in_days, category = min(upcoming)
            out["replenish_next_in_days"] = in_days
            out["replenish_next_category"] = category
        return out

    def _cluster(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The nearest centroid after standardisation. A missing family member (``category_share.x``) is 0;
        any other missing feature leaves the customer unclustered rather than guessing."""
        clusters = self.document.clusters
        assert clusters is not None
        point: list[float] = []
        for name, mean, std in zip(clusters.features, clusters.means, clusters.stds, strict=True):
            value = attrs.get(name)
            if value is None:
                if "." not in name or name.startswith(("model.", "predicted.", "rfm.", "cluster.")):
                    return {}
                value = 0.0
            if isinstance(value, bool) or not isinstance(value, int | float):
                return {}
            point.append((value - mean) / std if std > 0 else 0.0)
        best, best_distance = 0, float("inf")
        for index, centroid in enumerate(clusters.centroids):
            distance = sum((p - c) * (p - c) for p, c in zip(point, centroid, strict=True))
            if distance < best_distance:
                best, best_distance = index, distance
        return {"cluster.id": clusters.ids[best], "cluster.label": clusters.labels[best]}
