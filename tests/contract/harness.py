"""The contract every channel adapter must keep, run against its local fake.

A platform's test module subclasses :class:`ChannelContract`, sets ``channel`` (and, where the fake cannot
produce a fault kind, the matching ``supports_*`` flag), and adds tests for its own quirks. The shared tests
drive the real adapter through the real delivery code (consent gate, engine, records) with an in-memory state
and a simulated clock shared with the fake, so throttles and rate limits cost no wall time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from local_runtime import fakes
from local_runtime.fakes.base import FakePlatform
from local_runtime.memory_state import MemoryState
from segmentation.domain.models import ConsentChannel, ConsentStatus
from segmentation.sync import adapters
from segmentation.sync.adapters.base import ChannelAdapter, NotConfigured
from segmentation.sync.delivery import DeliveryReport, deliver
from segmentation.sync.engine import DeliveryEngine, EngineStats
from segmentation.sync.http import JsonHttp
from segmentation.sync.ratelimit import PacedHttp, RateLimiter, SimulatedClock
from segmentation.sync.reconcile import reconcile
from segmentation.sync.tasks import SyncTask

SEGMENT = "vip"
LIST = "seg-vip"
SUBSCRIBED = {ConsentChannel.EMAIL: ConsentStatus.SUBSCRIBED}
UNSUBSCRIBED = {ConsentChannel.EMAIL: ConsentStatus.UNSUBSCRIBED}


class Harness:
    def __init__(self, channel: str, fake: FakePlatform, config: dict[str, Any], clock: SimulatedClock) -> None:
        self.channel = channel
        self.fake = fake
        self.config = config
        self.clock = clock
        self.state = MemoryState()
        self.spec = adapters.spec(channel)
        self.limiter = RateLimiter(self.spec.rates, clock)
        self.adapter: ChannelAdapter = adapters.load(channel).create(
            config, PacedHttp(JsonHttp(timeout=5), self.limiter)
        )
        self.stats = EngineStats()
        self.fields: dict[str, str] = {}

    def customer(
        self,
        cid: str,
        *,
        consent: dict[ConsentChannel, ConsentStatus] | None = None,
        member: bool = True,
        **fields: Any,
    ) -> None:
        fields.setdefault("email", f"{cid}@example.com")
        self.state.put_customer(cid, consent=SUBSCRIBED if consent is None else consent, **fields)
        self.state.set_member(SEGMENT, cid, member)

    def task(self, cids: list[str]) -> SyncTask:
        return SyncTask(
            segment_id=SEGMENT,
            channel=self.channel,
            list_name=LIST,
            fields=self.fields,
            customer_ids=cids,
            created_at=datetime.now(UTC),
        )

    def sync(self, cids: list[str]) -> DeliveryReport:
        """One delivery, as one SQS receive of a task would run it."""
        engine = DeliveryEngine(self.adapter, self.limiter, self.clock, deadline=self.clock.time() + 300)
        report = deliver(self.task(cids), self.state, self.adapter, engine)
        for name in ("requests", "throttled", "retried", "split"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(engine.stats, name))
        return report

    def settle(self, cids: list[str], rounds: int = 10) -> DeliveryReport:
        """Deliver until nothing is retryable, as SQS redelivery would (bounded, like maxReceiveCount)."""
        report = self.sync(cids)
        for _ in range(rounds):
            if not report.retrying:
                return report
            self.clock.advance(report.retry_after or 1.0)
            report = self.sync(sorted(report.retrying))
        return report

    def reconcile(self) -> dict[str, Any]:
        task = self.task(["x"]).model_copy(update={"kind": "reconcile", "customer_ids": []})
        drift, repairs = reconcile(task, self.state, self.adapter, self.limiter)
        for task in repairs:
            self.settle(task.customer_ids)
        return drift

    def at_destination(self) -> set[str]:
        return self.fake.members(LIST)

    def ours(self) -> set[str]:
        return {pid for pid in self.state.present(SEGMENT, self.channel).values() if pid}


class ChannelContract:
    channel: ClassVar[str]
    supports_partial: ClassVar[bool] = True

    @pytest.fixture
    def h(self) -> Iterator[Harness]:
        clock = SimulatedClock()
        fake, config = fakes.start(self.channel, clock=clock)
        try:
            yield Harness(self.channel, fake, config, clock)
        finally:
            fake.stop()

    # ---------------------------------------------------------------------------------------- consent gate

    def test_consented_members_are_added(self, h: Harness) -> None:
        for cid in ("c1", "c2", "c3"):
            h.customer(cid)
        report = h.settle(["c1", "c2", "c3"])
        assert sorted(report.added) == ["c1", "c2", "c3"] and not report.terminal
        assert h.at_destination() == h.ours() and len(h.ours()) == 3

    def test_contact_without_consent_is_never_added(self, h: Harness) -> None:
        h.customer("yes")
        h.customer("no", consent=UNSUBSCRIBED)
        h.customer("never", consent={})
        report = h.settle(["yes", "no", "never"])
        assert report.added == ["yes"] and set(report.skipped) == {"no", "never"}
        assert len(h.at_destination()) == 1
        assert h.fake.member_emails(LIST) == {"yes@example.com"}

    def test_withdrawn_consent_removes_the_contact(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        assert len(h.at_destination()) == 1
        h.state.set_consent("c1", ConsentChannel.EMAIL, ConsentStatus.UNSUBSCRIBED)
        report = h.settle(["c1"])
        assert report.removed == ["c1"] and h.at_destination() == set()

    def test_leaving_the_segment_removes_the_contact(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"] and h.at_destination() == set()

    # ---------------------------------------------------------------------------------------- ownership

    def test_only_what_we_added_is_removed(self, h: Harness) -> None:
        # Someone else put a contact in the list; it is never ours to take away, even after a reconciliation.
        h.customer("mine")
        h.customer("theirs", member=False)
        foreign = SyncTask(
            segment_id="other", channel=h.channel, list_name=LIST, customer_ids=["theirs"], created_at=datetime.now(UTC)
        )
        h.state.set_member("other", "theirs", True)
        engine = DeliveryEngine(h.adapter, h.limiter, h.clock, deadline=h.clock.time() + 300)
        assert deliver(foreign, h.state, h.adapter, engine).added == ["theirs"]
        h.settle(["mine", "theirs"])
        h.state.set_member(SEGMENT, "mine", False)
        h.settle(["mine", "theirs"])
        assert h.fake.member_emails(LIST) == {"theirs@example.com"}
        if h.spec.can_list:
            drift = h.reconcile()
            assert drift["foreign"] == 1 and h.fake.member_emails(LIST) == {"theirs@example.com"}

    # ---------------------------------------------------------------------------------------- idempotency

    def test_redelivery_sends_nothing_and_changes_nothing(self, h: Harness) -> None:
        for cid in ("c1", "c2"):
            h.customer(cid)
        h.settle(["c1", "c2"])
        before, requests = h.at_destination(), h.stats.requests
        report = h.settle(["c1", "c2"])
        assert report.added == [] and h.stats.requests == requests and h.at_destination() == before

    # ---------------------------------------------------------------------------------------- faults

    def test_throttles_are_waited_out(self, h: Harness) -> None:
        h.customer("c1")
        h.fake.inject("throttle", 2)
        report = h.settle(["c1"])
        assert report.added == ["c1"] and h.stats.throttled == 2 and len(h.at_destination()) == 1

    def test_server_errors_and_timeouts_are_retried_without_duplicates(self, h: Harness) -> None:
        for cid in ("c1", "c2"):
            h.customer(cid)
        for kind in ("error", "timeout", "timeout_applied", "error"):
            h.fake.inject(kind)
        report = h.settle(["c1", "c2"])
        assert sorted(report.added) == ["c1", "c2"] and not report.terminal
        assert h.at_destination() == h.ours() and len(h.at_destination()) == 2
        assert len(h.fake.contacts) == 2  # upserts repeated after a lost answer did not duplicate anyone

    def test_partial_failures_are_retried_per_record(self, h: Harness) -> None:
        if not self.supports_partial:
            pytest.skip(f"{self.channel}'s membership endpoints have no per-record failures")
        cids = [f"c{i}" for i in range(9)]
        for cid in cids:
            h.customer(cid)
        h.fake.faults.partial = 0.5
        report = h.settle(cids, rounds=30)
        assert not report.retrying and not report.terminal
        assert h.fake.faults_injected["partial"] >= 1
        assert h.at_destination() == h.ours() and len(h.ours()) == 9

    def test_bad_credentials_are_a_configuration_error(self, h: Harness) -> None:
        h.customer("c1")
        bad = adapters.load(h.channel).create(self.bad_config(h.config), JsonHttp(timeout=5))
        engine = DeliveryEngine(bad, h.limiter, h.clock, deadline=h.clock.time() + 300)
        with pytest.raises(NotConfigured):
            deliver(h.task(["c1"]), h.state, bad, engine)

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- limits

    def test_batches_are_cut_to_the_platform_limits(self, h: Harness) -> None:
        size = max(h.spec.add_batch, h.spec.upsert_batch) + 1
        cids = [f"c{i:04d}" for i in range(size)]
        for cid in cids:
            h.customer(cid)
        for start in range(0, size, 100):  # tasks carry at most 100 customers
            h.settle(cids[start : start + 100])
        assert len(h.at_destination()) == size and h.fake.over_limit == 0

    def test_rate_limit_is_never_exceeded(self, h: Harness) -> None:
        if not h.spec.rates:
            pytest.skip(f"{self.channel} documents no request rate")
        cids = [f"c{i:03d}" for i in range(300)]
        for cid in cids:
            h.customer(cid)
        for start in range(0, len(cids), 100):
            h.settle(cids[start : start + 100])
        assert h.fake.over_limit == 0 and h.stats.throttled == 0
        for key, peak in h.fake.peak.items():
            limit = int(key.split(":")[1].split("/")[0])
            assert peak <= limit, key

    # ---------------------------------------------------------------------------------------- drift

    def test_drift_is_found_and_repaired(self, h: Harness) -> None:
        if not h.spec.can_list:
            pytest.skip(f"{self.channel} cannot list members")
        for cid in ("c1", "c2", "c3"):
            h.customer(cid)
        h.settle(["c1", "c2", "c3"])
        victim = sorted(h.at_destination())[0]
        h.fake.lists[h.fake.list_key(LIST)].discard(victim)  # removed by hand in the platform's UI
        h.customer("c4")  # a member whose task was lost
        drift = h.reconcile()
        assert drift["missing_at_destination"] == 1 and drift["not_yet_added"] == 1
        assert len(h.at_destination()) == 4 and h.at_destination() == h.ours()
        assert h.reconcile()["repairs_queued"] == 0
