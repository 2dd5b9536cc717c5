"""The training function, through the real handler on the local runtime: what it stores, and re-runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from local_runtime import LocalAws, Router
from local_runtime.shop import generate_histories
from local_runtime.training import current_model, store_histories
from segmentation.rules import validate_rule
from segmentation.store.dynamo import DynamoStore
from tests.integration.conftest import fresh_stack

FUNCTION = "ModelTrainingFunction"
SHOP_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CUSTOMERS = 150  # 71 repeat buyers: below the default threshold, above the lowered one


def _seed(router: Router) -> None:
    store = DynamoStore(router.env.physical_ids["SegmentationTable"])
    store_histories(store, generate_histories(7, CUSTOMERS, end=SHOP_END))


def _versions(router: Router) -> list[str]:
    out = router.env.client("dynamodb").query(
        TableName=router.env.physical_ids["SegmentationTable"],
        KeyConditionExpression="PK = :pk AND begins_with(SK, :v)",
        ExpressionAttributeValues={":pk": {"S": "MODEL"}, ":v": {"S": "V#"}},
    )
    return sorted(item["version"]["S"] for item in out["Items"])


def _object(router: Router, key: str) -> bytes:
    bucket = router.env.physical_ids["ModelBucket"]
    return router.env.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def small_threshold_stack(moto_server: LocalAws, monkeypatch: pytest.MonkeyPatch):
    from segmentation import wiring

    for name, value in moto_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", "2026-11-20T12:00:00Z")
    yield fresh_stack(moto_server, {"ModelMinRepeatBuyers": "40"})
    wiring.reset()


def test_training_on_a_small_shop_falls_back_to_rfm_group_rates_with_intervals(stack: Router):
    # Given a shop with fewer repeat buyers than the default threshold (200)
    _seed(stack)

    # When the weekly schedule fires
    outcome = stack.fire_schedule(FUNCTION, "Weekly", time=SHOP_END)

    # Then a model is stored, flagged as the fallback, with intervals instead of fitted parameters
    document = current_model(stack)
    assert outcome["status"] == "trained" and outcome["fallback"] is True
    assert document["version"] == outcome["version"] and document["as_of"] == "2026-11-20T12:00:00Z"
    assert document["bgnbd"] is None and document["gamma_gamma"] is None
    assert "threshold is 200" in document["fallback"]["reason"]
    groups = document["fallback"]["by_rfm_group"]
    assert len(groups) == 11
    for estimate in groups.values():
        assert estimate["orders_per_year_low"] <= estimate["orders_per_year"] <= estimate["orders_per_year_high"]
        assert estimate["orders_per_year_high"] > estimate["orders_per_year_low"]
    assert document["metrics"]["bgnbd_holdout"]["model"] == "fallback"
    assert document["data"]["customers"] == CUSTOMERS


def test_training_fits_stores_every_artefact_and_a_rerun_changes_nothing(
    small_threshold_stack: Router, monkeypatch: pytest.MonkeyPatch
):
    router = small_threshold_stack
    _seed(router)

    # When training is requested directly, for four weeks ago
    first = router.invoke(FUNCTION, {"as_of": "2026-10-23T12:00:00Z"})

    # Then the fitted model is CURRENT, in the version history, and in S3 with its holdout report
    document = current_model(router)
    version = first["version"]
    assert first["status"] == "trained" and document["version"] == version
    assert document["bgnbd"] is not None and document["gamma_gamma"] is not None and document["fallback"] is None
    assert _versions(router) == [version]
    assert json.loads(_object(router, f"models/{version}/model.json")) == document
    report = json.loads(_object(router, f"models/{version}/holdout_report.json"))
    assert report["model"] == "bgnbd" and len(report["buckets"]) == 8
    csv_text = _object(router, f"models/{version}/holdout_report.csv").decode()
    assert csv_text.splitlines()[0].startswith("repeat_purchases,customers,actual,predicted")
    assert document["metrics"]["bgnbd_holdout"]["actual"] == report["actual"]
    clusters = document["clusters"]
    assert clusters["k"] == len(clusters["ids"]) == len(clusters["labels"]) == len(clusters["rules"])
    assert all(validate_rule(rule) == [] for rule in clusters["rules"])
    assert sum(clusters["sizes"]) == document["data"]["buyers"]

    # When the same request is delivered again (at-least-once), nothing new is stored
    again = router.invoke(FUNCTION, {"as_of": "2026-10-23T12:00:00Z"})
    assert again["status"] == "unchanged" and again["version"] == version
    assert _versions(router) == [version]

    # When the weekly schedule retrains later, ids carry over and RFM movement is counted against the first
    second = router.fire_schedule(FUNCTION, "Weekly", time=SHOP_END)
    latest = current_model(router)
    assert second["status"] == "trained" and latest["version"] == second["version"] != version
    drift = latest["clusters"]["drift"]
    assert drift["previous_version"] == version
    assert set(drift["matched"]) | set(drift["retired"]) == set(clusters["ids"])
    assert set(latest["clusters"]["ids"]) - set(drift["new"]) == set(drift["matched"])
    movement = latest["metrics"]["rfm_movement"]
    assert movement["from_version"] == version
    assert sum(sum(row.values()) for row in movement["transitions"].values()) >= latest["data"]["buyers"]

    # A run that finishes with an older training time never replaces the newer CURRENT
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", "2026-11-20T11:00:00Z")
    stale = router.invoke(FUNCTION, {"as_of": "2026-11-13T12:00:00Z"})
    assert stale["status"] == "trained" and stale["current"] is False
    assert current_model(router)["version"] == second["version"]
    assert len(_versions(router)) == 3


def test_a_bad_request_is_rejected_with_a_clear_message(stack: Router):
    with pytest.raises(ValueError, match="as_of"):
        stack.invoke(FUNCTION, {"as_of": "yesterday"})
    with pytest.raises(ValueError, match="in the future"):
        stack.invoke(FUNCTION, {"as_of": "2030-01-01T00:00:00Z"})
