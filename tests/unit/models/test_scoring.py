"""Scoring one customer from a model document: each attribute against a value computed independently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import scipy.special
from pydantic import ValidationError

from segmentation.domain.models import CustomerProfile, OrderLine, StoredOrder
from segmentation.features.compute import CustomerHistory, build_view
from segmentation.models.scoring import ScoringModel
from tests.model_documents import CDNOW_BGNBD, document, fallback_document

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WEEK = 7.0


def order(order_id: str, days_ago: float, total: float, *categories: str, refunded: float = 0.0) -> StoredOrder:
    placed = NOW - timedelta(days=days_ago)
    return StoredOrder(
        order_id=order_id,
        placed_at=placed,
        total=total,
        refunded=refunded,
        refunded_at=placed if refunded else None,
        lines=[OrderLine(sku=f"{c}-1", category=c, quantity=1, unit_price=total) for c in categories or ("candles",)],
    )


def customer(*orders: StoredOrder) -> CustomerHistory:
    return CustomerHistory(profile=CustomerProfile(customer_id="c1"), orders=list(orders))


def score(history: CustomerHistory, doc: dict | None = None) -> dict:
    model = ScoringModel.from_json(json.dumps(doc or document()))
    return build_view(history, NOW, LONDON, model).attributes


def scipy_expected(x: int, t_x: float, big_t: float, t: float) -> float:
    r, alpha, a, b = CDNOW_BGNBD["r"], CDNOW_BGNBD["alpha"], CDNOW_BGNBD["a"], CDNOW_BGNBD["b"]
    z = t / (alpha + big_t + t)
    hyp = scipy.special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp)
    alive = 1.0 if x == 0 else 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    return head * alive


def cdnow_example() -> CustomerHistory:
    """The published example customer: first purchase 38.86 weeks ago, 2 repeats, the last at week 30.43."""
    first = 38.86 * WEEK
    return customer(
        order("o1", first, 30.0),
        order("o2", first - 10 * WEEK, 40.0),
        order("o3", first - 30.43 * WEEK, 50.0),
    )


# -- without a model ------------------------------------------------------------------------------------


def test_without_a_model_the_model_attributes_are_missing():
    attrs = build_view(cdnow_example(), NOW, LONDON).attributes
    assert not [name for name in attrs if name.startswith(("rfm.", "predicted.", "model.", "cluster.", "affinity."))]


def test_a_customer_without_orders_gets_only_the_model_version():
    attrs = score(customer())
    assert {k: v for k, v in attrs.items() if k.startswith(("model.", "rfm.", "predicted."))} == {
        "model.version": "20261115T101500Z-1a2b3c4d",
        "model.fallback": False,
    }


# -- BG/NBD, Gamma-Gamma, CLV --------------------------------------------------------------------------


def test_bgnbd_scores_of_the_published_example_customer():
    attrs = score(cdnow_example())
    assert attrs["predicted.p_alive"] == 0.7266  # the published example's P(alive) is about 0.73
    r, alpha, a, b = CDNOW_BGNBD.values()
    expected_alive = 1 / (1 + a / (b + 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert attrs["predicted.p_alive"] == round(expected_alive, 4)
    assert attrs["predicted.orders_next_90d"] == pytest.approx(scipy_expected(2, 30.43, 38.86, 90 / WEEK), abs=1e-4)
    assert attrs["predicted.orders_next_365d"] == pytest.approx(scipy_expected(2, 30.43, 38.86, 365 / WEEK), abs=1e-4)
    assert attrs["predicted.churn_risk"] == "low"  # 0.7266 >= 0.7
    assert attrs["model.fallback"] is False


def test_gamma_gamma_uses_the_repeat_purchases_and_clv_discounts_monthly():
    attrs = score(cdnow_example())
    # x = 2 repeat purchases of 40 and 50: mean 45
    p, q, v = 6.25, 3.74, 15.44
    order_value = p * (v + 2 * 45.0) / (p * 2 + q - 1)
    assert attrs["predicted.order_value"] == round(order_value, 2)
    month = 365 / 12
    cumulative = [scipy_expected(2, 30.43, 38.86, i * month / WEEK) for i in range(13)]
    clv = sum((cumulative[i] - cumulative[i - 1]) * order_value / (1.10 ** (1 / 12)) ** i for i in range(1, 13))
    assert attrs["predicted.clv"] == pytest.approx(clv, abs=0.01)


def test_orders_on_the_same_day_are_one_purchase():
    # Two orders an hour apart on one day: still 2 repeat purchases, as in the example, and their values add up.
    first = 38.86 * WEEK
    history = customer(
        order("o1", first, 30.0),
        order("o2", first - 10 * WEEK, 25.0),
        order("o2b", first - 10 * WEEK - 1 / 24, 15.0),
        order("o3", first - 30.43 * WEEK, 50.0),
    )
    assert score(history)["predicted.p_alive"] == score(cdnow_example())["predicted.p_alive"]
    assert score(history)["predicted.order_value"] == score(cdnow_example())["predicted.order_value"]


def test_fully_refunded_orders_do_not_count():
    refunded = customer(*cdnow_example().orders, order("o4", 1, 80.0, refunded=80.0))
    assert score(refunded)["predicted.p_alive"] == score(cdnow_example())["predicted.p_alive"]


def test_next_order_date_solves_expected_purchases_given_alive_equal_one():
    attrs = score(cdnow_example())
    days = (attrs["predicted.next_order_at"] - NOW).total_seconds() / 86400
    alive = attrs["predicted.p_alive"]
    # E[Y(t)] / P(alive) = 1 at the date (within the day rounding of the scores)
    assert scipy_expected(2, 30.43, 38.86, days / WEEK) / alive == pytest.approx(1.0, abs=2e-3)


def test_churn_band_is_high_and_no_next_order_when_p_alive_is_low():
    # Frequent buyer, silent for a year: P(alive) collapses
    history = customer(*(order(f"o{i}", 365 + 10 * i, 30.0) for i in range(8)))
    attrs = score(history)
    assert attrs["predicted.p_alive"] < 0.4
    assert attrs["predicted.churn_risk"] == "high"
    assert "predicted.next_order_at" not in attrs


@pytest.mark.parametrize(("alive", "band"), [(0.7, "low"), (0.69, "medium"), (0.4, "medium"), (0.39, "high")])
def test_churn_bands_follow_the_document(alive, band):
    assert ScoringModel.from_json(json.dumps(document())).churn_band(alive) == band


# -- RFM ---------------------------------------------------------------------------------------------------


def test_rfm_scores_and_group():
    # 4 orders (F: 2 < 4 <= 5 -> band 4), 200 spent (M: 150 < 200 <= 300 -> 4), last 10 days ago (R 5)
    history = customer(*(order(f"o{i}", 10 + 40 * i, 50.0) for i in range(4)))
    attrs = score(history)
    assert (attrs["rfm.recency_score"], attrs["rfm.frequency_score"], attrs["rfm.monetary_score"]) == (5, 4, 4)
    assert attrs["rfm.group"] == "Champions"


def test_one_old_small_order_is_lost():
    attrs = score(customer(order("o1", 500, 20.0)))
    assert (attrs["rfm.recency_score"], attrs["rfm.frequency_score"], attrs["rfm.monetary_score"]) == (1, 1, 1)
    assert attrs["rfm.group"] == "Lost"


# -- small data: the fallback ------------------------------------------------------------------------------


def test_fallback_predicts_from_the_rfm_group_with_bounds_and_two_significant_figures():
    # 4 orders, the last 10 days ago: Champions -> 4.1 orders a year (3.2 to 5.0), 38.2 per order, P(alive) 0.9
    history = customer(*(order(f"o{i}", 10 + 40 * i, 50.0) for i in range(4)))
    attrs = score(history, fallback_document())
    assert attrs["model.fallback"] is True
    assert attrs["predicted.p_alive"] == 0.9 and attrs["predicted.churn_risk"] == "low"
    assert attrs["predicted.orders_next_90d"] == float(f"{4.1 * 90 / 365:.2g}")  # 1.0
    assert attrs["predicted.orders_next_90d_low"] == float(f"{3.2 * 90 / 365:.2g}")
    assert attrs["predicted.orders_next_90d_high"] == float(f"{5.0 * 90 / 365:.2g}")
    assert attrs["predicted.order_value"] == 38.0
    discount = [1.1 ** (-i / 12) for i in range(1, 13)]
    for suffix, rate in (("", 4.1), ("_low", 3.2), ("_high", 5.0)):
        clv = sum(rate / 12 * 38.2 * d for d in discount)
        assert attrs[f"predicted.clv{suffix}"] == float(f"{clv:.2g}")
    assert attrs["predicted.clv_low"] < attrs["predicted.clv"] < attrs["predicted.clv_high"]
    # expected gap between orders of a customer still buying: p_alive / rate
    assert (attrs["predicted.next_order_at"] - NOW).days == int(0.9 / (4.1 / 365))


def test_fallback_without_the_customers_group_predicts_nothing():
    attrs = score(customer(order("o1", 220, 60.0), order("o2", 200, 60.0)), fallback_document())  # Hibernating
    assert attrs["rfm.group"] == "Hibernating"
    assert attrs["model.fallback"] is True
    assert not [name for name in attrs if name.startswith("predicted.")]


def test_bgnbd_with_group_order_values_is_flagged_as_fallback():
    doc = fallback_document(bgnbd={**CDNOW_BGNBD})
    attrs = score(cdnow_example(), doc)
    assert attrs["model.fallback"] is True
    assert attrs["rfm.group"] == "Potential Loyalist"  # R 4 (59 days), F 3 (3 orders)
    assert attrs["predicted.order_value"] == 31.0
    assert attrs["predicted.p_alive"] == score(cdnow_example())["predicted.p_alive"]


# -- clusters, affinity, replenishment ----------------------------------------------------------------------


def test_cluster_is_the_nearest_centroid_after_standardisation():
    # orders_count 6, avg value 60, candle share 0: z = (1.5, 1.0, -1.0) -> nearest c1 (1.5, 0.5, -0.5)
    history = customer(*(order(f"o{i}", 5 + 20 * i, 60.0, "essential_oils") for i in range(6)))
    attrs = score(history)
    assert (attrs["cluster.id"], attrs["cluster.label"]) == ("c1", "frequent buyers, large baskets")
    # one candle order: z = (-1, -1, 4) -> c3
    attrs = score(customer(order("o1", 5, 20.0, "candles")))
    assert attrs["cluster.id"] == "c3"


def test_a_missing_feature_leaves_the_customer_unclustered():
    doc = document()
    doc["clusters"]["features"][0] = "mean_days_between_orders"  # needs 2+ orders
    attrs = score(customer(order("o1", 5, 20.0)), doc)
    assert "cluster.id" not in attrs


def test_affinity_is_the_smoothed_share_relative_to_the_population():
    # 3 orders, 2 with candles; population 0.3; prior 2 pseudo-orders: s = (2 + 0.6) / 5 = 0.52
    history = customer(
        order("o1", 5, 20.0, "candles", "essential_oils"),
        order("o2", 50, 20.0, "candles"),
        order("o3", 90, 20.0, "essential_oils"),
    )
    attrs = score(history)
    assert attrs["affinity.candles"] == round(0.52 / (0.52 + 0.3), 4)
    s = (0 + 2 * 0.1) / 5
    assert attrs["affinity.diffusers"] == round(s / (s + 0.1), 4)  # never bought: below 0.5
    assert attrs["affinity.diffusers"] < 0.5 < attrs["affinity.candles"]
    assert "affinity.refills" not in attrs  # not in the population shares


def test_replenishment_uses_the_customers_own_interval_then_the_population():
    history = customer(
        order("o1", 100, 20.0, "essential_oils"),
        order("o2", 70, 20.0, "essential_oils", "candles"),
        order("o3", 30, 20.0, "essential_oils"),
    )
    attrs = score(history)
    # oils: gaps 30 and 40 days, median 35, last 30 days ago -> due in 5 days
    assert attrs["replenish_interval_days.essential_oils"] == 35.0
    assert attrs["replenish_at.essential_oils"] == NOW + timedelta(days=5)
    assert attrs["replenish_in_days.essential_oils"] == 5
    # candles: one purchase 70 days ago, population interval 90 -> due in 20 days
    assert attrs["replenish_interval_days.candles"] == 90.0
    assert attrs["replenish_in_days.candles"] == 20
    assert "replenish_at.refills" not in attrs  # never bought
    assert (attrs["replenish_next_in_days"], attrs["replenish_next_category"]) == (5, "essential_oils")


def test_overdue_replenishment_is_negative_and_not_next():
    attrs = score(customer(order("o1", 200, 20.0, "candles")))
    assert attrs["replenish_in_days.candles"] == -110
    assert "replenish_next_in_days" not in attrs


# -- the document ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "rfm": {
                    "recency_days_breaks": [90, 30, 180, 365],
                    "frequency_breaks": [1, 2, 3, 5],
                    "monetary_breaks": [1, 2, 3, 4],
                }
            },
            "ascending",
        ),
        ({"gamma_gamma": {"p": 6.25, "q": 0.9, "v": 15.44}}, "greater than 1"),
        ({"bgnbd": {"r": -1, "alpha": 4.4, "a": 0.8, "b": 2.4}}, "greater than 0"),
        ({"churn_bands": {"low": 0.3, "medium": 0.6}}, "must not exceed"),
    ],
)
def test_an_invalid_document_is_rejected_naming_the_problem(change, message):
    with pytest.raises(ValidationError, match=message):
        ScoringModel.from_json(json.dumps(document(**change)))


def test_cluster_shapes_are_checked():
    doc = document()
    doc["clusters"]["centroids"][1] = [0.0, 0.0]
    with pytest.raises(ValidationError, match="one coordinate per feature"):
        ScoringModel.from_json(json.dumps(doc))


def test_unknown_keys_are_ignored_so_the_document_can_grow():
    model = ScoringModel.from_json(json.dumps(document(something_new={"x": 1})))
    assert model.version == "20261115T101500Z-1a2b3c4d"


def test_scoring_never_fails_the_feature_path(caplog):
    # alpha tiny against a one-year horizon: z is within 1e-7 of 1 and the series would need millions of terms
    doc = document(bgnbd={"r": 0.243, "alpha": 1e-6, "a": 0.793, "b": 2.426})
    attrs = score(customer(order("o1", 0.001, 20.0)), doc)
    assert "rfm.group" in attrs and "model.version" in attrs
    assert not [name for name in attrs if name.startswith("predicted.")]
