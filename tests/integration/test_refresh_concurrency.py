"""A real-time event and a refresh touching the same customer at the same time converge to the right membership.

Each test interleaves the two at a chosen point, deterministically: a hook in the worker's store runs the
real-time event at that point, or a barrier holds the real-time run at its commit while the worker goes through.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from segmentation.domain.models import OrderCompleted, OrderLine, OrderRefunded
from segmentation.refresh.models import RefreshRun, ShardMessage
from segmentation.refresh.worker import ShardWorker
from segmentation.segments.realtime import MembershipEngine
from segmentation.segments.registry import SegmentRegistry
from segmentation.store.dynamo import DynamoStore
from segmentation.store.runs import RunStore

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TZ = ZoneInfo("Europe/London")


class Publisher:
    def __init__(self) -> None:
        self.changes: list[Any] = []

    def publish(self, changes, segments, reason):
        self.changes.extend(changes)


@pytest.fixture
def bulk_evaluator(monkeypatch):
    path = Path(__file__).resolve().parents[2] / "functions" / "segment_refresh" / "bulk_evaluator.py"
    spec = importlib.util.spec_from_file_location("segment_refresh_bulk_evaluator", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module.BulkEvaluator


@pytest.fixture
def world(stack, api):
    """A customer who spent 120, a segment "big" (100+) not yet refreshed, and a one-shard run to refresh it."""
    assert api("PUT", "/customers/c1", {"email": "c1@example.com"})[0] == 200
    spend(api, "o-1", 120)
    api(
        "POST",
        "/segments",
        {"segment_id": "big", "name": "Big", "rule": {"attr": "total_spent", "op": "gte", "value": 100}},
    )
    table = stack.env.physical_ids["SegmentationTable"]
    runs = RunStore(table)
    version = DynamoStore(table).get_segment("big").version
    run = RefreshRun(
        run_id="20261120T120000-00c0ffee",
        trigger="api",
        segment_ids=["big"],
        segment_versions={"big": version},
        shards_total=1,
        started_at=NOW,
    )
    runs.create(run)
    return table, runs, ShardMessage(run_id=run.run_id, shard=0, total_shards=1)


def spend(api, order_id: str, total: float) -> None:
    order = {
        "order_id": order_id,
        "placed_at": "2026-11-19T10:00:00Z",
        "total": total,
        "lines": [{"sku": "G-1", "category": "gift_sets", "quantity": 1, "unit_price": total}],
    }
    assert api("POST", "/customers/c1/orders", order)[0] == 200


def realtime(table: str) -> MembershipEngine:
    store = DynamoStore(table)
    return MembershipEngine(store, SegmentRegistry(store), Publisher(), TZ)


def refund(amount: float) -> OrderRefunded:
    return OrderRefunded(order_id="o-1", customer_id="c1", refunded_at=NOW - timedelta(hours=1), amount=amount)


def order(order_id: str, total: float) -> OrderCompleted:
    line = OrderLine(sku="G-1", category="gift_sets", quantity=1, unit_price=total)
    return OrderCompleted(
        order_id=order_id, customer_id="c1", placed_at=NOW - timedelta(hours=1), total=total, lines=[line]
    )


class HookedStore(DynamoStore):
    """Runs ``hook`` once, just before the worker writes its first membership change."""

    def __init__(self, table: str, hook: Any) -> None:
        super().__init__(table)
        self.hook = hook

    def apply_membership_changes(self, *args: Any, **kwargs: Any) -> None:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        super().apply_membership_changes(*args, **kwargs)


def member(table: str) -> bool:
    record = DynamoStore(table).load_customer("c1").memberships.get("big")
    return bool(record and record.member)


def test_a_refund_between_the_scan_and_the_write_wins(world, bulk_evaluator):
    table, runs, message = world
    # Given the worker has read her at 120 (she qualifies), when a refund to 20 is processed in real time
    # before the worker writes (the real-time run sees no membership to change, and commits)
    hooked = HookedStore(table, lambda: realtime(table).record_refund(refund(100), NOW))
    worker = ShardWorker(hooked, runs, Publisher(), TZ, bulk_evaluator)
    worker.process(message, NOW)
    # Then the worker's stale "entered" did not stick: its profile touch found a newer version, so it decided again
    assert member(table) is False
    run = runs.get(message.run_id)
    assert run is not None and (run.entered, run.left) == (0, 0)
    history = DynamoStore(table).load_customer("c1").memberships["big"].history
    assert [t.entered for t in history] == [True, False]  # written, announced, and taken back: both recorded


def test_a_real_time_run_that_read_before_the_refresh_wrote_commits_after_it(world, bulk_evaluator):
    table, runs, message = world
    reached_commit, release = threading.Event(), threading.Event()

    class PausingStore(DynamoStore):
        """Holds the real-time run at its commit (the first time) until the test releases it."""

        paused = False

        def save_profile(self, *args: Any, **kwargs: Any) -> int:
            if not self.paused:
                self.paused = True
                reached_commit.set()
                assert release.wait(30)
            return super().save_profile(*args, **kwargs)

    store = PausingStore(table)
    engine = MembershipEngine(store, SegmentRegistry(store), Publisher(), TZ)
    errors: list[BaseException] = []

    def run_refund() -> None:
        try:
            engine.record_refund(refund(100), NOW)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run_refund)

    def refund_reads_her_and_waits_at_commit() -> None:
        thread.start()
        assert reached_commit.wait(30)

    # Given the worker has read her at 120, and a refund to 20 has read her too (no membership yet, none to
    # write) and waits at its commit
    hooked = HookedStore(table, refund_reads_her_and_waits_at_commit)
    # When the refresh writes "entered" and touches her profile
    ShardWorker(hooked, runs, Publisher(), TZ, bulk_evaluator).process(message, NOW)
    assert member(table) is True
    # and the real-time run then commits
    release.set()
    thread.join(30)
    assert not errors
    # Then its commit failed on the touched version; it read again, the refresh's membership included, and took
    # her out: the refund is what is true now
    assert member(table) is False


def test_an_order_between_the_scan_and_an_exit_wins(api, world, bulk_evaluator):
    table, runs, message = world
    # Given she is a member, then the segment is raised to 200: a refresh reading her at 120 will take her out
    realtime(table).reevaluate("c1", NOW)
    assert member(table) is True
    assert api("PUT", "/segments/big", {"name": "Big", "rule": {"attr": "total_spent", "op": "gte", "value": 200}})[0]
    edited = RefreshRun(
        run_id="20261120T120000-00beef00",
        trigger="updated",
        segment_ids=["big"],
        segment_versions={"big": 2},
        shards_total=1,
        started_at=NOW,
    )
    runs.create(edited)
    # When an order of 100 is processed in real time after the worker read her, before it writes the exit
    hooked = HookedStore(table, lambda: realtime(table).record_order(order("o-2", 100), NOW))
    ShardWorker(hooked, runs, Publisher(), TZ, bulk_evaluator).process(
        ShardMessage(run_id=edited.run_id, shard=0, total_shards=1), NOW
    )
    # Then she is in: 220 qualifies, and the worker's stale exit was decided again from a fresh read
    assert DynamoStore(table).load_customer("c1").snapshot["total_spent"] == 220
    assert member(table) is True
    run = runs.get(edited.run_id)
    assert run is not None and (run.entered, run.left) == (0, 0)
