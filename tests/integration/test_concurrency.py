"""Racing writes are conditional: two facts for one customer processed at the same time converge."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from segmentation.domain.models import OrderCompleted, OrderLine
from segmentation.segments.realtime import MembershipEngine
from segmentation.segments.registry import SegmentRegistry
from segmentation.store.dynamo import DynamoStore

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TZ = ZoneInfo("Europe/London")


class RecordingPublisher:
    def __init__(self) -> None:
        self.changes = []

    def publish(self, changes, segments, reason):
        self.changes.extend(changes)

    def resync(self, customer_id, segment_ids, segments, reason):
        pass


def order(order_id: str, total: float) -> OrderCompleted:
    line = OrderLine(sku="EO-1", category="essential_oils", quantity=1, unit_price=total)
    return OrderCompleted(order_id=order_id, customer_id="c1", placed_at=NOW, total=total, lines=[line])


class InterleavingStore(DynamoStore):
    """Lets another writer commit between our read and our commit, once: the classic lost-update race."""

    def __init__(self, table: str, other: MembershipEngine, fact: OrderCompleted) -> None:
        super().__init__(table)
        self.other, self.fact, self.commits = other, fact, 0

    def save_profile(self, *args, **kwargs):
        self.commits += 1
        if self.other is not None:
            other, self.other = self.other, None
            other.record_order(self.fact, NOW)
        return super().save_profile(*args, **kwargs)


def test_an_order_racing_another_converges_to_both(stack, api):
    api("PUT", "/customers/c1", {"email": "c1@example.com"})
    api(
        "POST",
        "/segments",
        {"segment_id": "big", "name": "Big", "rule": {"attr": "total_spent", "op": "gte", "value": 100}},
    )
    table = stack.env.physical_ids["SegmentationTable"]
    plain = DynamoStore(table)
    publisher = RecordingPublisher()
    other = MembershipEngine(plain, SegmentRegistry(plain), publisher, TZ)
    racing_store = InterleavingStore(table, other, order("o-b", 60.0))
    engine = MembershipEngine(racing_store, SegmentRegistry(racing_store), publisher, TZ)

    # When order A (60) is processed while order B (60) commits in between A's read and A's commit
    engine.record_order(order("o-a", 60.0), NOW)

    # Then A's first commit lost the race and was retried from a fresh read: both orders count, she is in
    assert racing_store.commits == 2
    loaded = plain.load_customer("c1")
    assert loaded.snapshot["total_spent"] == 120.0
    assert loaded.memberships["big"].member is True
    assert [(c.segment_id, c.entered) for c in publisher.changes] == [("big", True)]
