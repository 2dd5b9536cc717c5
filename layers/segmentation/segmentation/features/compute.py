"""Derive a customer's features from their profile and history, as of an explicit ``now``.

Nothing here reads the clock: time-relative features (windows, recency, age) are computed against the
``now`` the caller passes, in the shop's time zone, so a stored snapshot can never go stale unnoticed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from segmentation.domain.models import CustomerProfile, StoredEngagement, StoredOrder

if TYPE_CHECKING:
    from segmentation.models.scoring import ScoringModel


@dataclass(frozen=True)
class EventFact:
    """One event as behaviour conditions see it: when, and its properties."""

    at: datetime
    props: dict[str, Any]


@dataclass
class CustomerHistory:
    """Everything we keep about one customer: the input to feature derivation."""

    profile: CustomerProfile
    orders: list[StoredOrder] = field(default_factory=list)
    engagements: list[StoredEngagement] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerView:
    """What a rule is evaluated against: attributes by catalogue name, and events by name."""

    customer_id: str
    attributes: dict[str, Any]
    events: dict[str, list[EventFact]]

    def get(self, name: str) -> Any:
        return self.attributes.get(name)


def window_start(now: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``now`` minus ``days`` calendar days on the shop's wall clock (DST-safe)."""
    local = now.astimezone(tz)
    return (local - timedelta(days=days)).astimezone(UTC)


def in_window(t: datetime, now: datetime, days: int, tz: ZoneInfo) -> bool:
    return window_start(now, days, tz) <= t <= now


def calendar_days_between(earlier: datetime, later: datetime, tz: ZoneInfo) -> int:
    return (later.astimezone(tz).date() - earlier.astimezone(tz).date()).days


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def order_props(order: StoredOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "total": order.total,
        "net_total": order.net_total,
        "item_count": order.item_count,
        "categories": sorted({line.category for line in order.lines}),
        "scents": sorted({line.scent for line in order.lines if line.scent}),
        "skus": sorted({line.sku for line in order.lines}),
        "currency": order.currency,
        "refunded": order.refunded > 0,
    }


def build_view(
    history: CustomerHistory, now: datetime, tz: ZoneInfo, model: ScoringModel | None = None
) -> CustomerView:
    """The customer's attributes and events as of ``now``. Pure: same inputs, same view.

    With a ``model`` (the published model document, parsed), the model attributes (RFM, predictions, cluster,
    affinity, replenishment) are scored from the plain features; without one they are missing.
    """
    profile = history.profile
    attrs: dict[str, Any] = {}
    attrs.update(_profile_attributes(profile, now, tz))
    attrs.update(_purchase_attributes(history.orders, now, tz))
    attrs.update(_engagement_attributes(history.engagements, now, tz))
    if model is not None:
        attrs.update(model.score(history, attrs, now, tz))
    return CustomerView(profile.customer_id, attrs, _events(history, now))


def _profile_attributes(profile: CustomerProfile, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "customer_id": profile.customer_id,
        "email_domain": profile.email.rsplit("@", 1)[-1] if profile.email else None,
        "has_email": bool(profile.email),
        "has_phone": bool(profile.phone),
        "birth_date": profile.birth_date,
        "age": age_on(profile.birth_date, now.astimezone(tz).date()) if profile.birth_date else None,
        "gender": profile.gender,
        "country": profile.country,
        "region": profile.region,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "registered_at": profile.registered_at,
        "preferred_scents": list(profile.preferred_scents),
        "preferred_categories": list(profile.preferred_categories),
        "tags": list(profile.tags),
    }
    for channel in ("email", "sms", "push", "ads"):
        state = profile.consent.get(channel)  # type: ignore[call-overload]
        attrs[f"consent.{channel}"] = state.status.value if state else "never_asked"
    for key, value in profile.custom.items():
        attrs[f"custom.{key}"] = value
    return attrs


def _purchase_attributes(orders: list[StoredOrder], now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    # Facts recorded after ``now`` (a replay of history, a skewed clock) are not visible yet.
    seen = [o for o in orders if o.placed_at <= now]
    counted = sorted((o for o in seen if not o.fully_refunded), key=lambda o: o.placed_at)
    attrs: dict[str, Any] = {
        "orders_count": len(counted),
        "total_spent": round(sum(o.net_total for o in counted), 2),
        "refunds_count": sum(1 for o in seen if o.refunded > 0),
        "refunded_total": round(sum(o.refunded for o in seen), 2),
    }
    for days in (30, 90, 365):
        windowed = [o for o in counted if in_window(o.placed_at, now, days, tz)]
        attrs[f"orders_{days}d"] = len(windowed)
        attrs[f"spent_{days}d"] = round(sum(o.net_total for o in windowed), 2)
    bought_scents: set[str] = set()
    category_items: Counter[str] = Counter()
    for order in counted:
        for line in order.lines:
            category_items[line.category] += line.quantity
            if line.scent:
                bought_scents.add(line.scent)
    attrs["purchased_scents"] = sorted(bought_scents)
    attrs["purchased_categories"] = sorted(category_items)
    if not counted:
        return attrs
    first, last = counted[0].placed_at, counted[-1].placed_at
    items = sum(category_items.values())
    attrs.update(
        first_order_at=first,
        last_order_at=last,
        days_since_last_order=calendar_days_between(last, now, tz),
        avg_order_value=round(attrs["total_spent"] / len(counted), 2),
        avg_items_per_order=round(items / len(counted), 2),
    )
    if items:
        # Ties break alphabetically so every evaluator names the same favourite.
        attrs["favourite_category"] = min(category_items, key=lambda c: (-category_items[c], c))
        for category, count in category_items.items():
            attrs[f"category_share.{category}"] = round(count / items, 4)
    if len(counted) >= 2:
        span_days = (last - first).total_seconds() / 86400
        attrs["mean_days_between_orders"] = round(span_days / (len(counted) - 1), 1)
    return attrs


def _engagement_attributes(events: list[StoredEngagement], now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    seen = [e for e in events if e.occurred_at <= now]
    recent = Counter(e.kind.value for e in seen if in_window(e.occurred_at, now, 30, tz))
    return {
        "last_engaged_at": max((e.occurred_at for e in seen), default=None),
        "email_opens_30d": recent["email_opened"],
        "email_clicks_30d": recent["email_clicked"],
        "site_visits_30d": recent["site_visited"],
    }


def _events(history: CustomerHistory, now: datetime) -> dict[str, list[EventFact]]:
    events: dict[str, list[EventFact]] = {}
    for order in history.orders:
        if order.placed_at <= now:
            events.setdefault("order_completed", []).append(EventFact(order.placed_at, order_props(order)))
        if order.refunded > 0 and order.refunded_at and order.refunded_at <= now:
            fact = EventFact(order.refunded_at, {"order_id": order.order_id, "amount": order.refunded})
            events.setdefault("order_refunded", []).append(fact)
    for event in history.engagements:
        if event.occurred_at <= now:
            props = {"campaign": event.campaign, "url": event.url}
            events.setdefault(event.kind.value, []).append(EventFact(event.occurred_at, props))
    return events
