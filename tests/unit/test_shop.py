"""The synthetic shop: deterministic, realistic enough to segment, and the same through both generators."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from local_runtime.shop import (
    CATALOGUE,
    CATEGORIES,
    DEFAULT_END,
    DEFAULT_START,
    SCENTS,
    Shop,
    generate_histories,
    generate_shop,
)
from segmentation.domain.models import (
    ConsentChannel,
    ConsentStatus,
    CustomerUpsert,
    EngagementRecorded,
    OrderCompleted,
    OrderRefunded,
)
from segmentation.domain.types import CustomerId
from segmentation.features.compute import CustomerView, build_view

TZ = ZoneInfo("Europe/London")
SMALL = 500
CONSENT_MAP = TypeAdapter(dict[ConsentChannel, ConsentStatus])
CUSTOMER_ID = TypeAdapter(CustomerId)


@pytest.fixture(scope="module")
def small_shop() -> Shop:
    return generate_shop(seed=11, customers=SMALL)


@pytest.fixture(scope="module")
def default_shop() -> Shop:
    return generate_shop()


@pytest.fixture(scope="module")
def default_views(default_shop: Shop) -> list[CustomerView]:
    return [build_view(history, DEFAULT_END, TZ) for history in default_shop.histories(DEFAULT_END)]


def test_generate_shop_same_seed_same_events() -> None:
    # Given two shops from the same seed, and one from another
    first, second, other = (generate_shop(seed=s, customers=200) for s in (3, 3, 4))

    # Then the same seed gives the same facts, event for event, and another seed does not
    assert list(first.events()) == list(second.events())
    assert list(first.events()) != list(other.events())


def test_generate_shop_default_size_has_enough_volume(default_shop: Shop) -> None:
    assert len(default_shop.customers) >= 5000
    assert len(default_shop.orders) >= 20_000
    assert len({order.order_id for order in default_shop.orders}) == len(default_shop.orders)
    assert len({event.event_id for event in default_shop.engagements}) == len(default_shop.engagements)


def test_events_every_detail_validates_against_the_models(small_shop: Shop) -> None:
    kinds: Counter[str] = Counter()
    for event in small_shop.events():
        assert event["source"] == "shop"
        detail = dict(event["detail"])
        kind = event["detail-type"]
        kinds[kind] += 1
        if kind in ("CustomerRegistered", "CustomerUpdated"):
            CUSTOMER_ID.validate_python(detail.pop("customer_id"))
            if kind == "CustomerRegistered":
                assert CONSENT_MAP.validate_python(detail.pop("consent"))
            upsert = CustomerUpsert.model_validate(detail)
            at = upsert.registered_at if kind == "CustomerRegistered" else upsert.occurred_at
        elif kind == "OrderCompleted":
            at = OrderCompleted.model_validate(detail).placed_at
        elif kind == "OrderRefunded":
            at = OrderRefunded.model_validate(detail).refunded_at
        else:
            assert kind == "EngagementRecorded"
            at = EngagementRecorded.model_validate(detail).occurred_at
        assert at == datetime.fromisoformat(event["time"])

    assert kinds["CustomerRegistered"] == SMALL
    assert {"CustomerUpdated", "OrderCompleted", "OrderRefunded", "EngagementRecorded"} <= set(kinds)


def test_events_come_in_chronological_order_registration_first(small_shop: Shop) -> None:
    events = list(small_shop.events())
    times = [datetime.fromisoformat(event["time"]) for event in events]
    assert times == sorted(times)

    registered: set[str] = set()
    for event in events:
        customer_id = event["detail"]["customer_id"]
        if event["detail-type"] == "CustomerRegistered":
            registered.add(customer_id)
        else:
            assert customer_id in registered


def test_generate_shop_every_fact_within_start_and_end(small_shop: Shop) -> None:
    start = datetime(DEFAULT_START.year, DEFAULT_START.month, DEFAULT_START.day, tzinfo=UTC)
    times = [datetime.fromisoformat(event["time"]) for event in small_shop.events()]
    assert start <= min(times)
    assert max(times) <= DEFAULT_END


def test_generate_shop_profiles_look_real(small_shop: Shop) -> None:
    for customer_id, registration in small_shop.customers:
        assert re.fullmatch(r"c\d{6}", customer_id)
        assert registration.email is not None
        assert re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.(com|org|net)", registration.email)
        assert registration.phone is None or re.fullmatch(r"\+[1-9]\d{7,14}", registration.phone)
        assert registration.country and registration.city and registration.postal_code
        assert set(small_shop.consents[customer_id]) == {ConsentChannel.EMAIL, ConsentChannel.SMS, ConsentChannel.ADS}


def test_generate_shop_orders_use_the_catalogue(small_shop: Shop) -> None:
    skus = {product.sku: product for product in CATALOGUE}
    assert 35 <= len(skus) <= 45
    assert {product.category for product in CATALOGUE} == set(CATEGORIES)
    assert {product.scent for product in CATALOGUE if product.scent} == set(SCENTS)
    for order in small_shop.orders:
        assert order.total == pytest.approx(sum(line.quantity * line.unit_price for line in order.lines))
        for line in order.lines:
            product = skus[line.sku]
            assert (line.category, line.scent) == (product.category, product.scent)
            assert line.unit_price <= product.price


def test_generate_shop_refunds_are_rare_and_within_the_order(default_shop: Shop) -> None:
    orders = {order.order_id: order for order in default_shop.orders}
    assert 0.01 <= len(default_shop.refunds) / len(orders) <= 0.03
    amounts = []
    for refund in default_shop.refunds:
        order = orders[refund.order_id]
        assert refund.customer_id == order.customer_id
        assert order.placed_at < refund.refunded_at <= DEFAULT_END
        assert 0 < refund.amount <= order.total
        amounts.append(refund.amount == order.total)
    assert any(amounts)  # full refunds
    assert not all(amounts)  # and partial ones


def test_shop_histories_cover_every_archetype(default_views: list[CustomerView]) -> None:
    def count(predicate: Callable[[CustomerView], bool]) -> int:
        return sum(1 for view in default_views if predicate(view))

    # VIPs, regulars, one-time buyers, lapsed buyers, recent registrants and browsers
    assert count(lambda v: v.get("orders_count") >= 15) >= 50
    assert count(lambda v: 3 <= v.get("orders_count") < 15) >= 500
    assert count(lambda v: v.get("orders_count") == 1) >= 300
    assert count(lambda v: v.get("orders_count") >= 4 and v.get("days_since_last_order") > 90) >= 100
    recent = DEFAULT_END - timedelta(days=45)
    assert count(lambda v: v.get("registered_at") >= recent and v.get("orders_count") <= 1) >= 100
    assert count(lambda v: v.get("registered_at") < recent and v.get("orders_count") == 0) >= 100
    # Highly engaged subscribers
    assert count(lambda v: v.get("email_opens_30d") >= 3) >= 100
    assert count(lambda v: v.get("email_opens_30d") > 0 and v.get("consent.email") != "subscribed") == 0


def test_shop_histories_mix_countries_consent_and_demographics(default_views: list[CustomerView]) -> None:
    countries = Counter(view.get("country") for view in default_views)
    assert countries.most_common(1)[0][0] == "GB"
    assert {"GB", "DE", "FR", "NL", "IE", "US", "ES", "IT"} <= set(countries)

    email = Counter(view.get("consent.email") for view in default_views)
    sms = Counter(view.get("consent.sms") for view in default_views)
    ads = Counter(view.get("consent.ads") for view in default_views)
    assert set(email) == {status.value for status in ConsentStatus}
    assert email.most_common(1)[0][0] == "subscribed"
    assert email["subscribed"] > sms["subscribed"] > ads["subscribed"] > 0

    ages = [view.get("age") for view in default_views if view.get("age") is not None]
    assert min(ages) >= 18
    assert max(ages) <= 80
    assert len({view.get("gender") for view in default_views}) >= 4
    tags = Counter(tag for view in default_views for tag in view.get("tags"))
    assert {"wholesale", "newsletter", "vip-event"} <= set(tags)
    assert {view.get("custom.loyalty_tier") for view in default_views} == {None, "bronze", "silver", "gold"}


def test_generate_shop_orders_peak_in_december_and_favour_lavender(default_shop: Shop) -> None:
    by_month = Counter((order.placed_at.year, order.placed_at.month) for order in default_shop.orders)
    assert by_month[(2025, 12)] > 1.5 * by_month[(2025, 7)]
    assert by_month[(2025, 12)] == max(by_month.values())

    def gift_share(orders: list[OrderCompleted]) -> float:
        lines = [line for order in orders for line in order.lines]
        return sum(line.category == "gift_sets" for line in lines) / len(lines)

    december = [order for order in default_shop.orders if order.placed_at.month == 12]
    assert gift_share(december) > 2 * gift_share(default_shop.orders) / 1.5

    scents = Counter(line.scent for order in default_shop.orders for line in order.lines if line.scent)
    assert scents.most_common(1)[0][0] == "lavender"


def test_generate_shop_purchases_follow_declared_scents(default_views: list[CustomerView]) -> None:
    declared = [view for view in default_views if view.get("preferred_scents") and view.get("orders_count") >= 5]
    matching = sum(1 for view in declared if set(view.get("preferred_scents")) & set(view.get("purchased_scents")))
    assert matching / len(declared) > 0.9


def test_shop_histories_apply_profile_updates(small_shop: Shop) -> None:
    histories = {history.profile.customer_id: history for history in small_shop.histories(DEFAULT_END)}
    assert small_shop.updates
    for customer_id, change in small_shop.updates:
        profile = histories[customer_id].profile
        for name in change.model_fields_set - {"occurred_at", "custom"}:
            assert getattr(profile, name) == getattr(change, name)
        assert profile.updated_at is not None
        assert change.occurred_at is not None
        assert profile.updated_at >= change.occurred_at


def test_shop_histories_show_only_facts_up_to_now(small_shop: Shop) -> None:
    # Given a moment halfway through the shop's history
    now = datetime(2025, 11, 1, tzinfo=UTC)

    # When the histories are taken as of then
    histories = small_shop.histories(now)

    # Then nobody registered later appears, and no later order, refund or engagement does either
    registered = [reg.registered_at for _, reg in small_shop.customers if reg.registered_at]
    assert len(histories) == sum(1 for at in registered if at <= now)
    for history in histories:
        assert history.profile.registered_at is not None
        assert history.profile.registered_at <= now
        assert all(order.placed_at <= now for order in history.orders)
        assert all(order.refunded_at is None or order.refunded_at <= now for order in history.orders)
        assert all(event.occurred_at <= now for event in history.engagements)
    assert sum(len(h.orders) for h in histories) == sum(1 for o in small_shop.orders if o.placed_at <= now)


@pytest.mark.parametrize("now", [DEFAULT_END, datetime(2025, 12, 24, 18, 30, tzinfo=UTC)])
def test_generate_histories_matches_shop_histories(small_shop: Shop, now: datetime) -> None:
    streamed = list(generate_histories(11, SMALL, DEFAULT_END, now=now))

    assert streamed == small_shop.histories(now)
    assert any(order.refunded for history in streamed for order in history.orders)


def test_generate_shop_custom_window_keeps_facts_inside() -> None:
    end = datetime(2025, 6, 30, 12, tzinfo=UTC)
    shop = generate_shop(seed=5, customers=100, start=date(2025, 1, 1), end=end)

    times = [datetime.fromisoformat(event["time"]) for event in shop.events()]

    assert len(shop.customers) == 100
    assert datetime(2025, 1, 1, tzinfo=UTC) <= min(times) <= max(times) <= end
    assert list(generate_histories(5, 100, end, start=date(2025, 1, 1))) == shop.histories(end)


def test_generate_shop_end_before_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="start must be before end"):
        generate_shop(start=date(2027, 1, 1))
