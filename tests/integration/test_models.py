"""AI segments end to end on the local stack: a published model document scores customers in the real-time path,
AI segments fill as orders arrive, and the API shows the models, the clusters and the scores behind a segment."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local_runtime import Router
from tests.integration.conftest import refreshed, run_refreshes
from tests.model_documents import document, fallback_document, publish


def publish_to(stack: Router, doc: dict[str, Any], *, current: bool = True) -> None:
    publish(stack.env.client("dynamodb"), stack.env.physical_ids["SegmentationTable"], doc, current=current)


def order(order_id: str, placed_at: str, total: float = 60.0, category: str = "essential_oils") -> dict[str, Any]:
    line = {"sku": f"{category}-1", "category": category, "scent": "lavender", "quantity": 1, "unit_price": total}
    return {"order_id": order_id, "placed_at": placed_at, "total": total, "lines": [line]}


def register(api, customer_id: str) -> None:
    status, payload = api("PUT", f"/customers/{customer_id}", {"email": f"{customer_id}@example.com"})
    assert status == 200, payload


def test_without_a_model_the_scores_are_missing_and_the_api_says_so(api):
    register(api, "c1")
    api("POST", "/customers/c1/orders", order("o1", "2026-11-01T10:00:00Z"))
    status, customer = api("GET", "/customers/c1")
    assert status == 200
    assert not [name for name in customer["features"] if name.startswith(("predicted.", "rfm.", "model."))]
    assert customer["rfm_history"] == []
    status, models = api("GET", "/models")
    assert status == 200 and models["current"] is None and models["previous"] == []
    status, clusters = api("GET", "/clusters")
    assert status == 200 and clusters["clusters"] == []
    status, error = api("POST", "/clusters/c1/adopt", {"mode": "membership"})
    assert status == 404 and "no model" in error["message"]


def test_ai_segment_follows_orders_in_real_time_with_the_scores_behind_it(api, stack):
    # Given a published model (and an older version) and the built-in Champions segment
    publish_to(stack, document(version="20261101T101500Z-00000000", trained_at="2026-11-01T10:15:00Z"), current=False)
    publish_to(stack, document())
    register(api, "c1")
    status, created = api("POST", "/segment-templates/champions/segments")
    assert status == 201 and refreshed(stack, created)["entered"] == 0

    # When orders arrive: 172 days ago (About to Sleep), 50 and 19 days ago (Potential Loyalist), yesterday
    changes = []
    for number, placed in enumerate(("2026-06-01", "2026-10-01", "2026-11-01", "2026-11-19"), start=1):
        status, outcome = api("POST", "/customers/c1/orders", order(f"o{number}", f"{placed}T10:00:00Z"))
        assert status == 200
        changes.append([(c["segment_id"], c["change"]) for c in outcome["changes"]])

    # Then she enters Champions with the fourth order, in the same call
    assert changes == [[], [], [], [("champions", "entered")]]
    status, customer = api("GET", "/customers/c1")
    features = customer["features"]
    assert features["rfm.group"] == "Champions" and features["model.version"] == "20261115T101500Z-1a2b3c4d"
    assert 0 < features["predicted.p_alive"] <= 1 and features["predicted.clv"] > 0
    assert features["predicted.churn_risk"] == "low" and features["cluster.id"] == "c1"
    assert features["replenish_next_category"] == "essential_oils"
    # her movement between groups is recorded
    moves = [(m["from_group"], m["to_group"]) for m in customer["rfm_history"]]
    assert moves == [
        (None, "About to Sleep"),
        ("About to Sleep", "Potential Loyalist"),
        ("Potential Loyalist", "Champions"),
    ]
    # and the explanation names the model and the scores behind the verdict
    (segment,) = customer["segments"]
    context = segment["why"]["model"]
    assert context["version"] == "20261115T101500Z-1a2b3c4d" and context["fallback"] is False
    assert context["scores"]["rfm.group"] == "Champions"
    assert context["scores"]["rfm.recency_score"] == 5 and context["scores"]["rfm.frequency_score"] == 4
    status, why = api("GET", "/customers/c1/segments/champions/why")
    assert why["member"] is True and why["model"]["scores"]["rfm.group"] == "Champions"
    assert why["recorded_trace"]["model"]["version"] == "20261115T101500Z-1a2b3c4d"

    # GET /models: the current version with its data and metrics, and the previous one
    status, models = api("GET", "/models")
    assert models["current"]["version"] == "20261115T101500Z-1a2b3c4d" and models["current"]["valid"] is True
    assert models["current"]["fallback"] is False
    assert models["current"]["data"]["repeat_buyers"] == 2500
    assert models["current"]["metrics"]["bgnbd_holdout"]["actual"] == 1190
    assert [v["version"] for v in models["previous"]] == ["20261101T101500Z-00000000"]

    # GET /clusters: the suggested segments, adoptable by membership or as the editable rule
    status, clusters = api("GET", "/clusters")
    assert [c["cluster_id"] for c in clusters["clusters"]] == ["c1", "c2", "c3"]
    first = clusters["clusters"][0]
    assert first["membership_rule"] == {"attr": "cluster.id", "op": "eq", "value": "c1"}
    assert first["rule"] == {"attr": "orders_count", "op": "gte", "value": 5}
    status, adopted = api("POST", "/clusters/c1/adopt", {"mode": "membership"})
    assert status == 201 and adopted["segment"]["segment_id"] == "cluster_c1"
    assert refreshed(stack, adopted)["entered"] == 1
    status, adopted = api("POST", "/clusters/c2/adopt", {"mode": "rule", "name": "Occasional buyers"})
    assert status == 201 and adopted["segment"]["rule"] == {"attr": "orders_count", "op": "lt", "value": 3}
    assert refreshed(stack, adopted)["entered"] == 0
    status, clusters = api("GET", "/clusters")
    assert [c["adopted_by"] for c in clusters["clusters"]] == [["cluster_c1"], ["cluster_c2_rule"], []]
    status, error = api("POST", "/clusters/c9/adopt")
    assert status == 404


def test_small_shop_fallback_is_flagged_with_bounds(api, stack):
    publish_to(stack, fallback_document())
    register(api, "c1")
    status, _ = api(
        "POST",
        "/segments",
        {"name": "Valuable", "rule": {"attr": "predicted.clv", "op": "gte", "value": 10}},
    )
    assert status == 201
    status, outcome = api("POST", "/customers/c1/orders", order("o1", "2026-11-19T10:00:00Z"))
    assert [c["segment_id"] for c in outcome["changes"]] == ["valuable"]  # New: 0.8 orders a year at 28.0
    status, why = api("GET", "/customers/c1/segments/valuable/why")
    context = why["model"]
    assert context["fallback"] is True and "threshold" in context["fallback_reason"]
    assert context["bounds"] == {}  # the New group has no bounds in this document
    status, customer = api("GET", "/customers/c1")
    assert customer["features"]["model.fallback"] is True
    assert customer["features"]["rfm.group"] == "New"


def test_a_new_model_is_picked_up_and_ai_segments_recomputed(api, stack, monkeypatch: pytest.MonkeyPatch):
    from segmentation import clock
    from segmentation.wiring import services

    monkeypatch.setenv("MODEL_CACHE_SECONDS", "0")
    register(api, "c1")
    for number, placed in enumerate(("2026-10-01", "2026-11-01", "2026-11-10", "2026-11-19"), start=1):
        api("POST", "/customers/c1/orders", order(f"o{number}", f"{placed}T10:00:00Z"))
    status, created = api("POST", "/segment-templates/champions/segments")
    assert refreshed(stack, created)["entered"] == 0  # no model yet

    publish_to(stack, document())
    run = services().segments.recompute_model_segments(clock.now())
    assert run is not None and run.segment_ids == ["champions"]
    run_refreshes(stack)
    assert services().runs.get(run.run_id).segments["champions"].entered == 1  # type: ignore[union-attr]
    status, segment = api("GET", "/segments/champions")
    assert segment["member_count"] == 1


def test_an_invalid_model_document_turns_scoring_off_but_never_breaks_events(api, stack):
    publish_to(stack, document(bgnbd={"r": -1, "alpha": 4.4, "a": 0.8, "b": 2.4}))
    register(api, "c1")
    status, outcome = api("POST", "/customers/c1/orders", order("o1", "2026-11-19T10:00:00Z"))
    assert status == 200
    status, customer = api("GET", "/customers/c1")
    assert "model.version" not in customer["features"]
    status, models = api("GET", "/models")
    assert models["current"]["valid"] is False and "bgnbd.r" in models["current"]["error"]


def test_demo_shows_ai_segments_and_top_customers_by_clv(api, stack, capsys):
    from local_runtime.demo import show_ai_segments

    headers = {"x-api-key": "test-key"}
    assert show_ai_segments(stack, headers, stack.env) is False
    assert "no model has been published yet" in capsys.readouterr().out

    publish_to(stack, document())
    for number in range(3):
        customer = f"c{number}"
        register(api, customer)
        for i in range(number + 1):
            api("POST", f"/customers/{customer}/orders", order(f"{customer}-o{i}", f"2026-11-{10 + 3 * i}T10:00:00Z"))
    assert show_ai_segments(stack, headers, stack.env, top=2) is True
    out = capsys.readouterr().out
    assert "AI segments from model 20261115T101500Z-1a2b3c4d" in out
    assert re.search(r"Champions\s+0\s+champions", out)
    top = out.split("top 2 customers by predicted CLV")[1].strip().splitlines()[2:]
    assert [line.split()[0] for line in top] == ["c2", "c1"]  # three orders beat two, which beat one
