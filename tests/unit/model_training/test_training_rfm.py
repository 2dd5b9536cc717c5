"""RFM breaks and groups, the fallback's intervals, and agreement with the attribute catalogue."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from local_runtime.shop import generate_histories
from segmentation.features.compute import build_view
from training import fallback, rfm
from training.config import TrainingConfig
from training.document import with_version
from training.pipeline import fit_models

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def test_breaks_are_quintiles_that_occur_in_the_data_and_bands_follow_the_contract():
    values = np.arange(1, 11, dtype=float)  # 1..10
    cuts = rfm.breaks(values)
    assert cuts == [2.0, 4.0, 6.0, 8.0]
    assert [rfm.band(v, cuts) for v in (1, 2, 3, 8, 9)] == [1, 1, 2, 4, 5]
    assert rfm.bands(values, cuts).tolist() == [rfm.band(v, cuts) for v in values]
    # recency: the fewest days score 5
    model = rfm.RfmBreaks(cuts, [1.0, 1.0, 2.0, 4.0], [10.0, 20.0, 30.0, 40.0])
    r, f = rfm.scores(model, np.array([1.0, 9.0]), np.array([1.0, 5.0]))
    assert r.tolist() == [5, 1] and f.tolist() == [1, 5]


def test_the_grid_names_all_eleven_groups():
    assert {name for row in rfm.GRID for name in row} == set(rfm.GROUPS)
    assert rfm.GRID[4][4] == "Champions" and rfm.GRID[0][0] == "Lost" and rfm.GRID[4][0] == "New"


def test_poisson_interval_is_exact():
    low, high = rfm.poisson_interval(0, 1.0)
    assert low == 0 and high == pytest.approx(3.6889, abs=1e-4)
    low, high = rfm.poisson_interval(10, 2.0)
    assert low == pytest.approx(4.7954 / 2, abs=1e-3) and high == pytest.approx(18.3904 / 2, abs=1e-3)


def test_rfm_inputs_agree_with_the_attribute_catalogue():
    histories = list(generate_histories(7, 80, end=END))
    inputs = fallback.rfm_inputs([h.orders for h in histories], END, LONDON)
    for row, i in enumerate(inputs.index):
        attributes = build_view(histories[i], END, LONDON).attributes
        assert inputs.recency_days[row] == attributes["days_since_last_order"]
        assert inputs.frequency[row] == attributes["orders_count"]
        assert inputs.monetary[row] == attributes["total_spent"]


def test_small_data_gets_the_fallback_with_intervals_and_no_fitted_parameters():
    histories = list(generate_histories(7, 120, end=END))
    trained = fit_models(histories, END, TrainingConfig(shop_time_zone="Europe/London"))
    document = trained.document
    assert document["bgnbd"] is None and document["gamma_gamma"] is None
    assert document["fallback"]["reason"].startswith(f"only {document['data']['repeat_buyers']} repeat buyers")
    groups = document["fallback"]["by_rfm_group"]
    assert set(groups) == set(rfm.GROUPS)
    real = [g for g in groups.values() if not g["pooled"]]
    assert real, "some groups have enough customers for their own rate"
    for g in groups.values():
        assert g["orders_per_year_low"] <= g["orders_per_year"] <= g["orders_per_year_high"]
        assert g["order_value_low"] <= g["order_value"] <= g["order_value_high"]
    # the RFM counts cover the whole active base
    assert sum(document["metrics"]["rfm"]["groups"].values()) == document["data"]["buyers"]


def test_a_shop_without_buyers_still_gets_a_valid_document():
    histories = [h for h in generate_histories(7, 40, end=END) if not h.orders]
    assert histories
    trained = fit_models(histories, END, TrainingConfig(shop_time_zone="Europe/London"))
    document = with_version({**trained.document, "trained_at": "2026-11-20T12:00:00Z"}, END)
    assert document["rfm"] is None and document["bgnbd"] is None and document["clusters"] is None
    assert document["fallback"] is None and "threshold" in document["metrics"]["unfitted"]
    assert document["data"] == {"customers": len(histories), "buyers": 0, "repeat_buyers": 0}


def test_affinity_prior_is_the_share_of_orders_holding_each_category():
    histories = list(generate_histories(7, 120, end=END))
    shares = fit_models(histories, END, TrainingConfig(shop_time_zone="Europe/London")).document["affinity"]
    orders = [o for h in histories for o in h.orders if not o.fully_refunded]
    holding = sum(1 for o in orders if any(line.category == "candles" for line in o.lines))
    assert shares["population_order_share"]["candles"] == round(holding / len(orders), 4)
    assert all(0 < s <= 1 for s in shares["population_order_share"].values())
