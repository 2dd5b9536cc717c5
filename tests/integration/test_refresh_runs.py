"""Full refreshes fanned out over parallel-scan shards: progress, retries, dead letters, schedules, impact, tags."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from segmentation.refresh.models import RefreshRun, ShardMessage
from segmentation.refresh.tasks import process_shard
from segmentation.refresh.worker import MAX_RECEIVES, ShardWorker
from segmentation.segments.models import MembershipChange
from segmentation.store.dynamo import DynamoStore
from segmentation.store.runs import RunStore
from segmentation.wiring import services
from tests.integration.conftest import put_shop_events, queue_messages, refreshed, run_refreshes

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BIG = {"segment_id": "big", "name": "Big", "rule": {"attr": "total_spent", "op": "gte", "value": 100}}


def customer(api: Any, customer_id: str, spent: float = 0, **profile: Any) -> None:
    body = {"email": f"{customer_id}@example.com", "first_name": "Ada", "last_name": customer_id.upper(), **profile}
    assert api("PUT", f"/customers/{customer_id}", body)[0] == 200
    if spent:
        order = {
            "order_id": f"o-{customer_id}",
            "placed_at": (START - timedelta(days=2)).isoformat(),
            "total": spent,
            "lines": [{"sku": "G-1", "category": "gift_sets", "quantity": 1, "unit_price": spent}],
        }
        assert api("POST", f"/customers/{customer_id}/orders", order)[0] == 200


def members(api: Any, segment_id: str) -> list[str]:
    status, page = api("GET", f"/segments/{segment_id}/members", query={"limit": "1000"})
    assert status == 200, page
    return sorted(page["members"])


# ---------------------------------------------------------------- runs and their progress


def test_a_requested_refresh_reports_its_progress_shard_by_shard(stack, api):
    # Given customers who existed before the segment, and the segment's first refresh done
    for i, spent in enumerate([50, 150, 250, 10]):
        customer(api, f"c{i}", spent)
    status, created = api("POST", "/segments", BIG)
    assert status == 201 and created["refresh"]["trigger"] == "created"
    assert refreshed(stack, created)["entered"] == 2

    # When a refresh is requested
    status, _, run = stack.api("POST", "/segments/big/refresh", headers={"x-api-key": "test-key"})
    location = f"/segments/big/refreshes/{run['run_id']}"
    assert status == 202 and run["trigger"] == "api"

    # Then it is visible at once as running, with its shards still to do
    status, progress = api("GET", location)
    assert status == 200
    assert (progress["state"], progress["shards"]["done"], progress["shards"]["total"]) == ("running", 0, 2)
    # And when the workers are done, it says what it found: everyone evaluated, nothing left to change
    run_refreshes(stack)
    status, done = api("GET", location)
    assert (done["state"], done["shards"]["done"], done["evaluated"], done["entered"], done["left"]) == (
        "succeeded",
        2,
        4,
        0,
        0,
    )
    assert done["finished_at"] is not None
    # And a run is only found under a segment it covers
    api("POST", "/segment-templates/uk_customers/segments")
    assert api("GET", f"/segments/uk_customers/refreshes/{run['run_id']}")[0] == 404
    assert api("GET", "/segments/big/refreshes/20261120T120000-00000000")[0] == 404
    assert api("POST", "/segments/nope/refresh")[0] == 404


def test_an_edit_refreshes_the_segment_and_those_that_reference_it(stack, api):
    for i, spent in enumerate([50, 150]):
        customer(api, f"c{i}", spent)
    api("POST", "/segments", BIG)
    api("POST", "/segments", {"segment_id": "not_big", "name": "Not big", "rule": {"not": {"in_segment": "big"}}})
    run_refreshes(stack)
    assert (members(api, "big"), members(api, "not_big")) == (["c1"], ["c0"])

    # When "big" now means 20 or more
    status, updated = api("PUT", "/segments/big", {**BIG, "rule": {"attr": "total_spent", "op": "gte", "value": 20}})

    # Then one run covers both, and both memberships follow
    run = refreshed(stack, updated)
    assert sorted(run["segment_ids"]) == ["big", "not_big"]
    assert run["segments"] == {"big": {"entered": 1, "left": 0}, "not_big": {"entered": 0, "left": 1}}
    assert (members(api, "big"), members(api, "not_big")) == (["c0", "c1"], [])


def test_refresh_changes_reach_sync_and_events_in_batches(stack, api):
    # Given a synced segment saved before its customers existed
    for i in range(6):
        customer(api, f"c{i:02}", 200)
    destination = [{"channel": "webhook", "list_name": "big", "purpose": "email"}]
    status, created = api("POST", "/segments", {**BIG, "destinations": destination})
    # When its first refresh finds six members
    assert refreshed(stack, created)["entered"] == 6
    # Then their sync went out as tasks of many customers each (per shard chunk), not one per customer
    tasks = []
    while batch := queue_messages(stack.env, "SyncQueue"):
        tasks += [json.loads(m["Body"]) for m in batch]
        stack.env.client("sqs").delete_message_batch(
            QueueUrl=stack.env.physical_ids["SyncQueue"],
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    assert sum(len(t["customer_ids"]) for t in tasks) == 6
    assert len(tasks) <= 2 and {t["reason"] for t in tasks} == {"refresh"}
    # And each membership recorded which run decided it
    why = api("GET", "/customers/c00/segments/big/why")[1]
    assert why["member"] is True and why["recorded_trace"]["verdict"] is True


# ---------------------------------------------------------------- retries: nothing lost, nothing counted twice


class Crash(Exception):
    pass


class CrashingStore(DynamoStore):
    """Dies after ``after`` membership writes, as a worker killed mid-shard would."""

    def __init__(self, table: str, after: int) -> None:
        super().__init__(table)
        self.after = after

    def _put_membership(self, *args: Any, **kwargs: Any) -> None:
        if self.after == 0:
            raise Crash("worker died")
        self.after -= 1
        super()._put_membership(*args, **kwargs)


class RecordingPublisher:
    def __init__(self) -> None:
        self.changes: list[MembershipChange] = []

    def publish(self, changes, segments, reason):
        self.changes.extend(changes)


@pytest.fixture
def bulk_evaluator(monkeypatch):
    """The refresh function's own evaluator, loaded from its folder as Lambda would."""
    path = Path(__file__).resolve().parents[2] / "functions" / "segment_refresh" / "bulk_evaluator.py"
    spec = importlib.util.spec_from_file_location("segment_refresh_bulk_evaluator", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module.BulkEvaluator


def one_shard_run(svc, segment_ids: list[str]) -> RefreshRun:
    definitions = {d.segment_id: d for d in svc.store.list_segments(consistent=True)}
    run = RefreshRun(
        run_id="20261120T120000-0000c0de",
        trigger="api",
        segment_ids=segment_ids,
        segment_versions={s: definitions[s].version for s in segment_ids},
        shards_total=1,
        started_at=START,
    )
    svc.runs.create(run)
    return run


def test_a_worker_that_dies_mid_shard_is_retried_and_nothing_is_lost_or_counted_twice(stack, api, bulk_evaluator):
    # Given five customers who qualify for a segment saved before they existed (its first run not done yet)
    for i in range(5):
        customer(api, f"c{i}", 200)
    api("POST", "/segments", BIG)
    svc = services()
    run = one_shard_run(svc, ["big"])
    message = ShardMessage(run_id=run.run_id, shard=0, total_shards=1)
    publisher = RecordingPublisher()

    # When the worker dies after writing two of the five memberships
    crashing = ShardWorker(
        CrashingStore(svc.store.table, after=2), svc.runs, publisher, svc.settings.tz, bulk_evaluator
    )
    with pytest.raises(Crash):
        crashing.process(message, START)
    assert svc.runs.get(run.run_id).shards_done == 0  # type: ignore[union-attr]
    assert publisher.changes == []  # it died before announcing anything

    # And SQS delivers the shard again, to a healthy worker
    worker = ShardWorker(svc.store, svc.runs, publisher, svc.settings.tz, bulk_evaluator)
    assert worker.process(message, START) is not None

    # Then all five are members, each entered once, and the run counts five: the two written before the crash
    # were recognised as this run's own changes, counted once and announced
    assert members(api, "big") == [f"c{i}" for i in range(5)]
    for i in range(5):
        record = svc.store.load_customer(f"c{i}").memberships["big"]
        assert [(t.entered, t.run) for t in record.history] == [(True, run.run_id)]
    done = svc.runs.get(run.run_id)
    assert done is not None
    assert (done.state.value, done.shards_done, done.evaluated, done.entered) == ("succeeded", 1, 5, 5)
    assert sorted({c.customer_id for c in publisher.changes}) == [f"c{i}" for i in range(5)]

    # And a third delivery of the finished shard changes and counts nothing
    assert worker.process(message, START) is None
    assert svc.runs.get(run.run_id).entered == 5  # type: ignore[union-attr]


def test_a_shard_that_keeps_failing_is_dead_lettered_and_fails_its_run(stack, api):
    customer(api, "c1", 200)
    api("POST", "/segments", BIG)
    svc = services()
    run = one_shard_run(svc, ["big"])
    body = ShardMessage(run_id=run.run_id, shard=0, total_shards=1).model_dump_json()

    def broken(rules, now, tz):
        raise RuntimeError("evaluator unavailable")

    # When every delivery fails, up to the last one the queue allows
    for receive in range(1, MAX_RECEIVES + 1):
        with pytest.raises(RuntimeError):
            process_shard(body, receive, svc, broken)
        state = svc.runs.get(run.run_id)
        assert state is not None
        assert state.state.value == ("failed" if receive == MAX_RECEIVES else "running")
    assert state.failed_shards == [0]

    # And through the queue: a message that can never be read ends in the refresh DLQ after its last receive
    sqs = stack.env.client("sqs")
    sqs.send_message(QueueUrl=stack.env.physical_ids["RefreshQueue"], MessageBody='{"run_id": 7}')
    stats = stack.drain(only={"SegmentRefreshFunction"})
    assert stats.retried == MAX_RECEIVES
    assert len(queue_messages(stack.env, "RefreshDLQ")) == 1


# ---------------------------------------------------------------- schedules


def test_schedules_refresh_segments_by_cadence_and_daily_recomputes_features(stack, api, monkeypatch):
    # Given one segment of each cadence, and one time-relative segment with the default (weekly) cadence
    customer(api, "c1", 200, country="GB")
    for segment_id, cadence, rule in (
        ("hourly_big", "hourly", BIG["rule"]),
        ("daily_gb", "daily", {"attr": "country", "op": "eq", "value": "GB"}),
        ("weekly_big", "weekly", BIG["rule"]),
        ("recent", "weekly", {"attr": "last_order_at", "op": "within_last_days", "value": 30}),
    ):
        body = {"segment_id": segment_id, "name": segment_id, "rule": rule, "refresh": cadence}
        assert api("POST", "/segments", body)[0] == 201
    run_refreshes(stack)

    def fired(schedule: str) -> dict[str, Any]:
        started = stack.fire_schedule(schedule)
        run_refreshes(stack)
        return api("GET", f"/segments/{_first_segment(stack, started)}/refreshes/{started['run_id']}")[1]

    # Then each schedule refreshes its cadence; daily adds the time-relative ones, weekly is everything
    assert fired("HourlyRefreshSchedule")["segment_ids"] == ["hourly_big"]
    daily = fired("DailyRefreshSchedule")
    assert sorted(daily["segment_ids"]) == ["daily_gb", "recent"] and daily["features"] is True
    assert sorted(fired("WeeklyRefreshSchedule")["segment_ids"]) == ["daily_gb", "hourly_big", "recent", "weekly_big"]

    # And the daily run stores time-dependent features that moved, but not the day counter alone
    def stored() -> dict[str, Any]:
        return json.loads(_profile(stack, "c1")["features"]["S"])

    assert (stored()["days_since_last_order"], stored()["orders_30d"]) == (2, 1)
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", (START + timedelta(days=10)).isoformat())
    fired("DailyRefreshSchedule")
    assert (stored()["days_since_last_order"], stored()["orders_30d"]) == (2, 1)  # only the day count moved
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", (START + timedelta(days=40)).isoformat())
    fired("DailyRefreshSchedule")
    assert (stored()["days_since_last_order"], stored()["orders_30d"]) == (42, 0)


def test_the_daily_refresh_repairs_a_missed_boundary(stack, api, monkeypatch):
    # Given a customer who should become dormant in a week, whose boundary entry is lost
    api("POST", "/segment-templates/dormant_90/segments")
    run_refreshes(stack)
    customer(api, "c1", 20)
    _lose_boundary(stack, "c1")
    # When the boundary schedule runs after day 90, it cannot know about her
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", (START + timedelta(days=89)).isoformat())
    assert stack.fire_schedule("BoundarySchedule")["due"] == 0
    assert members(api, "dormant_90") == []
    # Then the next daily refresh re-evaluates the time-relative segments, and restores her boundary
    stack.fire_schedule("DailyRefreshSchedule")
    run_refreshes(stack)
    assert members(api, "dormant_90") == ["c1"]
    assert "GSI2PK" not in _profile(stack, "c1")  # dormant for good: time can change nothing more for her


def _first_segment(stack, started: dict[str, Any]) -> str:
    runs = RunStore(stack.env.physical_ids["SegmentationTable"])
    run = runs.get(started["run_id"])
    assert run is not None
    return run.segment_ids[0]


def _profile(stack, customer_id: str) -> dict[str, Any]:
    return stack.env.client("dynamodb").get_item(
        TableName=stack.env.physical_ids["SegmentationTable"], Key={"PK": {"S": f"C#{customer_id}"}, "SK": {"S": "#P"}}
    )["Item"]


def _lose_boundary(stack, customer_id: str) -> None:
    stack.env.client("dynamodb").update_item(
        TableName=stack.env.physical_ids["SegmentationTable"],
        Key={"PK": {"S": f"C#{customer_id}"}, "SK": {"S": "#P"}},
        UpdateExpression="REMOVE next_boundary_at, GSI2PK, GSI2SK",
    )


# ---------------------------------------------------------------- impact preview


def test_impact_preview_counts_and_samples_who_would_enter_and_leave_without_saving(stack, api):
    # Given "big" (100+) with two members
    for i, spent in enumerate([50, 150, 250, 700, 0]):
        customer(api, f"c{i}", spent)
    refreshed(stack, api("POST", "/segments", BIG)[1])
    assert members(api, "big") == ["c1", "c2", "c3"]

    # When the marketer previews "between 40 and 200"
    rule = {"attr": "total_spent", "op": "between", "value": [40, 200]}
    status, started = api("POST", "/segments/big/impact", {"rule": rule})
    assert status == 202 and started["kind"] == "impact"
    impact = refreshed(stack, started)["impact"]

    # Then c0 would enter, c2 and c3 would leave, with names to recognise them by
    assert (impact["would_enter"], impact["would_leave"]) == (1, 2)
    assert impact["sample_enter"] == [{"customer_id": "c0", "name": "Ada C0"}]
    assert sorted(s["customer_id"] for s in impact["sample_leave"]) == ["c2", "c3"]
    assert impact["rule"]["op"] == "between"
    # And nothing changed: the segment, its version and its members are as they were
    assert members(api, "big") == ["c1", "c2", "c3"]
    assert api("GET", "/segments/big")[1]["version"] == 1
    # And an invalid rule is refused before any run starts
    status, error = api("POST", "/segments/big/impact", {"rule": {"attr": "total_spend", "op": "gte", "value": 1}})
    assert status == 400 and error["issues"][0]["path"] == "$.attr"


# ---------------------------------------------------------------- tags


VIP = {"segment_id": "vip", "name": "VIP", "rule": {"attr": "tags", "op": "contains", "value": "vip"}}


def test_bulk_tagging_by_id_and_email_updates_tag_segments_in_real_time(stack, api):
    for i in range(4):
        customer(api, f"c{i}")
    api("POST", "/segments", VIP)
    run_refreshes(stack)

    # When two customers are tagged by id, one by email, and two unknown ones are named
    body = {"customer_ids": ["c0", "c1", "ghost"], "emails": ["C2@Example.com", "nobody@example.com"]}
    status, tagged = api("POST", "/tags/VIP/customers", body)

    # Then the known ones entered the VIP segment in the same call, and the unknown ones are listed
    assert status == 200 and tagged["tag"] == "vip" and tagged["action"] == "added"
    assert {c["customer_id"]: c["changes"] for c in tagged["customers"]} == {
        cid: [{"segment_id": "vip", "change": "entered"}] for cid in ("c0", "c1", "c2")
    }
    assert tagged["not_found"] == {"customer_ids": ["ghost"], "emails": ["nobody@example.com"]}
    assert members(api, "vip") == ["c0", "c1", "c2"]

    # And untagging in bulk takes them out again
    status, untagged = api("POST", "/tags/vip/customers", {"customer_ids": ["c0"], "remove": True})
    assert untagged["customers"] == [{"customer_id": "c0", "changes": [{"segment_id": "vip", "change": "exited"}]}]
    assert api("POST", "/tags/vip/customers", {})[0] == 422
    # And the shop's CustomerTagged events do the same through the bus
    put_shop_events(stack.env, [("CustomerTagged", {"customer_id": "c3", "add": ["VIP"], "remove": []})])
    stack.drain()
    assert members(api, "vip") == ["c1", "c2", "c3"]


def test_refreshing_a_tag_refreshes_every_segment_that_uses_it(stack, api):
    customer(api, "c1")
    api("POST", "/segments", VIP)
    api(
        "POST",
        "/segments",
        {
            "segment_id": "vip_uk",
            "name": "VIP UK",
            "rule": {"all": [{"in_segment": "vip"}, {"attr": "country", "op": "eq", "value": "GB"}]},
        },
    )
    api(
        "POST",
        "/segments",
        {
            "segment_id": "wholesale",
            "name": "Wholesale",
            "rule": {"attr": "tags", "op": "in", "value": ["wholesale", "trade"]},
        },
    )
    run_refreshes(stack)

    status, _, run = stack.api("POST", "/tags/vip/refresh", headers={"x-api-key": "test-key"})
    assert status == 202 and run["trigger"] == "tag:vip"
    assert sorted(run["segment_ids"]) == ["vip", "vip_uk"]
    assert refreshed(stack, run)["state"] == "succeeded"
    status, nothing = api("POST", "/tags/unused/refresh")
    assert status == 200 and nothing == {"tag": "unused", "segment_ids": [], "run_id": None}
