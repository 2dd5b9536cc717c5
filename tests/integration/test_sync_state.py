"""The DynamoDB sync state keeps the same contract as the in-memory one the property tests use."""

from __future__ import annotations

import pytest

from local_runtime.memory_state import MemoryState
from segmentation.store.sync_state import DynamoSyncState
from segmentation.sync.state import RecordState, StatusUpdate, SyncRecord

KEY = {"x-api-key": "test-key"}


@pytest.fixture(params=["memory", "dynamodb"])
def states(request, stack):
    """A state with customer c1 (member, subscribed) and c2 (not a member) in segment buyers."""
    if request.param == "memory":
        state = MemoryState()
        from segmentation.domain.models import ConsentChannel, ConsentStatus

        state.put_customer("c1", "c1@example.com", consent={ConsentChannel.EMAIL: ConsentStatus.SUBSCRIBED})
        state.put_customer("c2", "c2@example.com")
        state.set_member("buyers", "c1", True)
        return state
    status, _, body = stack.api(
        "POST",
        "/segments",
        body={"segment_id": "buyers", "name": "Buyers", "rule": {"attr": "orders_count", "op": "gte", "value": 1}},
        headers=KEY,
    )
    assert status == 201, body
    stack.api("PUT", "/customers/c1", body={"email": "c1@example.com", "consent": {"email": "subscribed"}}, headers=KEY)
    stack.api("PUT", "/customers/c2", body={"email": "c2@example.com"}, headers=KEY)
    order = {
        "order_id": "o-1",
        "placed_at": "2026-11-19T10:00:00Z",
        "total": 5.0,
        "lines": [{"sku": "A", "category": "candles", "quantity": 1, "unit_price": 5.0}],
    }
    stack.api("POST", "/customers/c1/orders", body=order, headers=KEY)
    return DynamoSyncState(stack.env.physical_ids["SegmentationTable"])


def test_views_read_membership_profile_record_and_cached_id(states):
    states.set_records("buyers", "hubspot", {"c1": SyncRecord(RecordState.PENDING_ADD)})
    states.cache_ids("hubspot", {"c1": ("101", "h1")})
    views = states.views("buyers", "hubspot", ["c1", "c2", "c3"])
    assert views["c1"].member and views["c1"].profile.email == "c1@example.com"
    assert views["c1"].record == SyncRecord(RecordState.PENDING_ADD) and views["c1"].cached_id == "101"
    assert views["c1"].cached_identity == "h1"
    assert not views["c2"].member and views["c2"].record is None and views["c2"].cached_id is None
    assert views["c3"].profile is None and not views["c3"].member


def test_records_are_written_replaced_deleted_and_listed_per_destination(states):
    states.set_records(
        "buyers",
        "hubspot",
        {"c1": SyncRecord(RecordState.PRESENT, "101"), "c2": SyncRecord(RecordState.PENDING_REMOVE, "102", "busy")},
    )
    states.set_records("buyers", "klaviyo", {"c1": SyncRecord(RecordState.PRESENT, "P1")})
    assert states.owned("buyers", "hubspot") == {
        "c1": SyncRecord(RecordState.PRESENT, "101"),
        "c2": SyncRecord(RecordState.PENDING_REMOVE, "102", "busy"),
    }
    states.set_records("buyers", "hubspot", {"c2": None})
    assert set(states.owned("buyers", "hubspot")) == {"c1"} and set(states.owned("buyers", "klaviyo")) == {"c1"}
    states.forget_ids("hubspot", ["c1"])
    assert states.views("buyers", "hubspot", ["c1"])["c1"].cached_id is None


def test_members_and_status_with_pending_count(states):
    assert states.members("buyers") == ["c1"]
    states.set_records(
        "buyers", "hubspot", {"c1": SyncRecord(RecordState.PENDING_ADD), "c2": SyncRecord(RecordState.PRESENT, "9")}
    )
    states.record_status("buyers", "hubspot", StatusUpdate(added=2, skipped=1, success=True))
    states.record_status("buyers", "hubspot", StatusUpdate(removed=1, failures=1, error="hubspot update list: 400"))
    states.record_status("buyers", "hubspot", StatusUpdate(success=True, drift={"missing_at_destination": 1}))
    (row,) = states.status("buyers")
    assert row["channel"] == "hubspot" and row["added"] == 2 and row["removed"] == 1 and row["delivered"] == 3
    assert row["skipped"] == 1 and row["failures"] == 1 and row["pending"] == 1
    assert row["last_error"] == "hubspot update list: 400" and row["last_success_at"] and row["last_reconcile_at"]
    assert row["drift"] == {"missing_at_destination": 1}


def test_limiter_snapshot_round_trips(states):
    assert states.load_limiter("hubspot") == {}
    states.save_limiter("hubspot", {"default": [1.5, 2.5]})
    assert states.load_limiter("hubspot") == {"default": [1.5, 2.5]}
