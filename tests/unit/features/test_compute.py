"""Feature derivation: every time-relative feature follows the explicit ``now`` and the shop time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from segmentation.domain.models import (
    ConsentChannel,
    ConsentState,
    ConsentStatus,
    CustomerProfile,
    EngagementKind,
    OrderLine,
    StoredEngagement,
    StoredOrder,
)
from segmentation.features.catalogue import ATTRIBUTES, lookup
from segmentation.features.compute import CustomerHistory, build_view, window_start

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def order(order_id: str, days_ago: float, total: float, *lines: tuple[str, str | None, int], refunded: float = 0):
    placed = NOW - timedelta(days=days_ago)
    return StoredOrder(
        order_id=order_id,
        placed_at=placed,
        total=total,
        refunded=refunded,
        refunded_at=placed + timedelta(days=1) if refunded else None,
        lines=[OrderLine(sku=f"{c}-{s}", category=c, scent=s, quantity=q, unit_price=1.0) for c, s, q in lines],
    )


def history(**profile_fields) -> CustomerHistory:
    profile = CustomerProfile(customer_id="c1", **profile_fields)
    return CustomerHistory(
        profile=profile,
        orders=[
            order("o1", 200, 40.0, ("essential_oils", "lavender", 2)),
            order("o2", 60, 60.0, ("candles", "rose", 1), ("essential_oils", "lavender", 1)),
            order("o3", 10, 100.0, ("diffusers", None, 1), refunded=30.0),
            order("o4", 5, 20.0, ("candles", "citrus", 1), refunded=20.0),  # fully refunded: not counted
        ],
        engagements=[
            StoredEngagement(event_id=f"e{i}", kind=EngagementKind.EMAIL_OPENED, occurred_at=NOW - timedelta(days=d))
            for i, d in enumerate((1, 2, 29, 31))
        ]
        + [StoredEngagement(event_id="k1", kind=EngagementKind.EMAIL_CLICKED, occurred_at=NOW - timedelta(days=3))],
    )


def test_purchase_features_count_net_of_refunds_and_windows():
    view = build_view(history(), NOW, LONDON)
    a = view.attributes
    assert a["orders_count"] == 3
    assert a["total_spent"] == 40 + 60 + 70
    assert (a["orders_30d"], a["orders_90d"], a["orders_365d"]) == (1, 2, 3)
    assert (a["spent_30d"], a["spent_90d"]) == (70, 130)
    assert a["avg_order_value"] == pytest.approx(170 / 3, abs=0.01)
    assert a["avg_items_per_order"] == pytest.approx(5 / 3, abs=0.01)
    assert a["favourite_category"] == "essential_oils"
    assert a["category_share.essential_oils"] == pytest.approx(0.6)
    assert a["refunds_count"] == 2 and a["refunded_total"] == 50
    assert a["mean_days_between_orders"] == pytest.approx(95.0)
    assert a["last_order_at"] == NOW - timedelta(days=10)
    assert a["days_since_last_order"] == 10
    assert a["purchased_scents"] == ["lavender", "rose"]


def test_engagement_windows_follow_now():
    view = build_view(history(), NOW, LONDON)
    assert view.attributes["email_opens_30d"] == 3
    assert view.attributes["email_clicks_30d"] == 1
    later = build_view(history(), NOW + timedelta(days=5), LONDON)
    assert later.attributes["email_opens_30d"] == 2  # the opens 29 and 31 days back drop out


def test_time_relative_features_are_recomputed_not_stored():
    # Given the same history, When evaluated 100 days later, Then recency and windows move with now.
    h = history()
    later = build_view(h, NOW + timedelta(days=100), LONDON).attributes
    assert later["days_since_last_order"] == 110
    assert later["orders_30d"] == 0 and later["orders_90d"] == 0


def test_facts_after_now_are_invisible():
    view = build_view(history(), NOW - timedelta(days=100), LONDON)
    assert view.attributes["orders_count"] == 1
    assert [e.props["order_id"] for e in view.events["order_completed"]] == ["o1"]


def test_no_orders_leaves_averages_missing():
    view = build_view(CustomerHistory(CustomerProfile(customer_id="c2")), NOW, LONDON)
    assert view.attributes["orders_count"] == 0
    assert "avg_order_value" not in view.attributes or view.attributes["avg_order_value"] is None
    assert view.get("last_order_at") is None


def test_age_on_birthday_and_day_before():
    h = history(birth_date=date(1990, 11, 21))
    assert build_view(h, NOW, LONDON).attributes["age"] == 35
    assert build_view(h, NOW + timedelta(days=1), LONDON).attributes["age"] == 36


def test_consent_defaults_to_never_asked():
    consent = {ConsentChannel.EMAIL: ConsentState(status=ConsentStatus.SUBSCRIBED, updated_at=NOW)}
    a = build_view(history(consent=consent), NOW, LONDON).attributes
    assert a["consent.email"] == "subscribed" and a["consent.sms"] == "never_asked"


def test_window_start_uses_shop_wall_clock_across_dst():
    # 2026-10-25 is the end of British Summer Time: 30 calendar days back keeps local noon.
    now = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    start = window_start(now, 30, LONDON)
    assert start.astimezone(LONDON).hour == 12
    assert start == datetime(2026, 10, 11, 11, 0, tzinfo=UTC)


def test_every_feature_is_in_the_catalogue():
    view = build_view(history(custom={"tier": "gold"}), NOW, LONDON)
    unknown = [name for name in view.attributes if lookup(name) is None]
    assert unknown == []
    assert len({a.name for a in ATTRIBUTES}) == len(ATTRIBUTES)
