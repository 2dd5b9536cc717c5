"""The consent invariant, as a hypothesis state machine over three fake platforms.

Random interleavings of membership events, consent changes, address changes, task deliveries (in any order,
duplicated, stale) and injected faults (throttles, 5xx, timeouts before and after the platform applied the
request, partial failures). After every step:

* no opted-out contact is added anywhere: a contact present at a destination while opted out must have been
  there since before the opt-out (its removal is queued), never added after it;
* no platform holds two records for one address (retries after lost answers did not duplicate anyone).

When everything settles (faults off, queue drained, a reconciliation run), every destination holds exactly
the consented members, and nothing else of ours.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from local_runtime import fakes
from local_runtime.fakes.base import FAULT_KINDS
from local_runtime.memory_state import MemoryState
from segmentation.domain.models import ConsentChannel, ConsentStatus
from segmentation.sync import adapters
from segmentation.sync.delivery import deliver
from segmentation.sync.engine import DeliveryEngine
from segmentation.sync.http import JsonHttp
from segmentation.sync.ratelimit import PacedHttp, RateLimiter, SimulatedClock
from segmentation.sync.reconcile import reconcile
from segmentation.sync.tasks import SyncTask

CHANNELS = ("mailchimp", "hubspot", "klaviyo")
CUSTOMERS = ("c1", "c2", "c3", "c4")
SEGMENT = "vip"
LIST = "seg-vip"


class ConsentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = SimulatedClock()
        self.state = MemoryState()
        self.fakes = {}
        self.adapters = {}
        self.limiters = {}
        for channel in CHANNELS:
            fake, config = fakes.start(channel, clock=self.clock)
            spec = adapters.spec(channel)
            limiter = RateLimiter(spec.rates, self.clock)
            self.fakes[channel] = fake
            self.limiters[channel] = limiter
            self.adapters[channel] = adapters.load(channel).create(config, PacedHttp(JsonHttp(timeout=5), limiter))
        self.queue: list[SyncTask] = []
        self.step = 0
        self.opted_out_at: dict[str, int] = {}
        self.present_since: dict[tuple[str, str], int] = {}
        for cid in CUSTOMERS:
            self.state.put_customer(cid, f"{cid}@example.com", consent={ConsentChannel.EMAIL: ConsentStatus.SUBSCRIBED})

    def teardown(self) -> None:
        try:
            self._settle()
        finally:
            for fake in self.fakes.values():
                fake.stop()

    # ------------------------------------------------------------------------------------------ helpers

    def _publish(self, cid: str) -> None:
        for channel in CHANNELS:
            self.queue.append(
                SyncTask(
                    segment_id=SEGMENT,
                    channel=channel,
                    list_name=LIST,
                    customer_ids=[cid],
                    created_at=datetime.now(UTC),
                )
            )

    def _run(self, task: SyncTask) -> bool:
        """Deliver like one SQS receive; True when nothing is left to retry."""
        channel = task.channel
        engine = DeliveryEngine(
            self.adapters[channel], self.limiters[channel], self.clock, deadline=self.clock.time() + 120
        )
        report = deliver(task, self.state, self.adapters[channel], engine)
        return not report.retrying

    def _subscribed(self, cid: str) -> bool:
        state = self.state.profiles[cid].consent.get(ConsentChannel.EMAIL)
        return state is not None and state.status == ConsentStatus.SUBSCRIBED

    def _owner(self, email: str) -> str | None:
        return next((cid for cid, p in self.state.profiles.items() if p.email == email), None)

    # ------------------------------------------------------------------------------------------ rules

    @rule(cid=st.sampled_from(CUSTOMERS), member=st.booleans())
    def membership_event(self, cid: str, member: bool) -> None:
        self.state.set_member(SEGMENT, cid, member)
        self._publish(cid)

    @rule(cid=st.sampled_from(CUSTOMERS), subscribed=st.booleans())
    def consent_change(self, cid: str, subscribed: bool) -> None:
        status = ConsentStatus.SUBSCRIBED if subscribed else ConsentStatus.UNSUBSCRIBED
        if not subscribed and self._subscribed(cid):
            self.opted_out_at[cid] = self.step
        self.state.set_consent(cid, ConsentChannel.EMAIL, status)
        if cid in self.state.segment_members[SEGMENT]:  # as the membership engine re-checks a member
            self._publish(cid)

    @rule(cid=st.sampled_from(CUSTOMERS), suffix=st.integers(0, 2))
    def address_change(self, cid: str, suffix: int) -> None:
        profile = self.state.profiles[cid]
        self.state.profiles[cid] = profile.model_copy(update={"email": f"{cid}.{suffix}@example.com"})
        if cid in self.state.segment_members[SEGMENT]:
            self._publish(cid)

    @rule(channel=st.sampled_from(CHANNELS), kind=st.sampled_from(FAULT_KINDS), times=st.integers(1, 3))
    def fault(self, channel: str, kind: str, times: int) -> None:
        self.fakes[channel].inject(kind, times)

    @rule(pick=st.integers(0, 1000), keep=st.booleans())
    def deliver_a_task(self, pick: int, keep: bool) -> None:
        """Any queued task, in any order; ``keep`` leaves it queued (a duplicate delivery comes later)."""
        if not self.queue:
            return
        task = self.queue.pop(pick % len(self.queue))
        if not self._run(task) or keep:
            self.queue.append(task)

    @rule(pick=st.integers(0, 1000))
    def replay_a_stale_task(self, pick: int) -> None:
        """An old task for someone, delivered long after the facts it was published for changed."""
        cid = CUSTOMERS[pick % len(CUSTOMERS)]
        channel = CHANNELS[pick % len(CHANNELS)]
        old = SyncTask(
            segment_id=SEGMENT,
            channel=channel,
            list_name=LIST,
            customer_ids=[cid],
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        if not self._run(old):
            self.queue.append(old)

    # ------------------------------------------------------------------------------------------ invariants

    @invariant()
    def opted_out_contacts_are_never_added(self) -> None:
        self.step += 1
        current: set[tuple[str, str]] = set()
        for channel, fake in self.fakes.items():
            for email in fake.member_emails(LIST):
                key = (channel, email)
                current.add(key)
                self.present_since.setdefault(key, self.step)
                owner = self._owner(email)
                if owner is not None and not self._subscribed(owner):
                    assert self.present_since[key] <= self.opted_out_at[owner], (
                        f"{email} was added to {channel} after opting out"
                    )
        for key in list(self.present_since):
            if key not in current:
                del self.present_since[key]

    @invariant()
    def no_duplicate_records(self) -> None:
        for channel, fake in self.fakes.items():
            addresses = [str(c.get("email") or c.get("email_address")) for c in fake.contacts.values()]
            assert len(addresses) == len(set(addresses)), channel

    # ------------------------------------------------------------------------------------------ settling

    def _settle(self) -> None:
        for fake in self.fakes.values():
            fake.scripted.clear()
        for _ in range(20):
            if not self.queue:
                break
            self.queue = [task for task in self.queue if not self._run(task)]
        assert not self.queue, "tasks still retryable after the faults stopped"
        for channel in CHANNELS:
            task = SyncTask(
                kind="reconcile", segment_id=SEGMENT, channel=channel, list_name=LIST, created_at=datetime.now(UTC)
            )
            _, repairs = reconcile(task, self.state, self.adapters[channel], self.limiters[channel])
            for repair in repairs:
                assert self._run(repair)
        wanted = {
            self.state.profiles[cid].email for cid in self.state.segment_members[SEGMENT] if self._subscribed(cid)
        }
        for channel, fake in self.fakes.items():
            assert fake.member_emails(LIST) == wanted, channel
            _, repairs = reconcile(
                SyncTask(
                    kind="reconcile", segment_id=SEGMENT, channel=channel, list_name=LIST, created_at=datetime.now(UTC)
                ),
                self.state,
                self.adapters[channel],
                self.limiters[channel],
            )
            assert not repairs, f"{channel} still drifts after settling"


TestConsentInvariant = ConsentMachine.TestCase
TestConsentInvariant.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
