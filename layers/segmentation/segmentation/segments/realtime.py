"""Real-time membership: store a fact, recompute that customer's features, re-evaluate what it affects.

One invocation per fact does everything, in an order chosen so that a crash at any point is repaired by the
redelivery of the same fact (every trigger is at-least-once):

1. append the fact (conditional put: a redelivery finds it already there), or compute the profile change;
2. load the customer's partition in one Query;
3. diff the freshly derived features against the snapshot stored at the last commit; only segments whose
   rules depend on a changed attribute or event are evaluated (the dependency index);
4. write each membership change with its history row, guarded by the membership's version;
5. publish sync tasks and ``SegmentMembershipChanged`` events;
6. commit: write profile, snapshot and the customer's next time boundary (when the mere passage of time can next
   change a verdict: see ``segments.boundaries``), guarded by the profile version. A lost race starts again from 2.

A membership written in step 4 carries the profile version of step 6. If the run died before 6, the next
run sees a membership "ahead" of the profile and publishes it again, so no change is ever unannounced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from segmentation.domain.models import (
    ConsentChannel,
    ConsentState,
    ConsentStatus,
    CustomerProfile,
    CustomerUpsert,
    EngagementRecorded,
    OrderCompleted,
    OrderRefunded,
    StoredEngagement,
    StoredOrder,
    TagChange,
)
from segmentation.features.compute import CustomerView, build_view
from segmentation.observability import logger
from segmentation.segments.boundaries import next_boundary
from segmentation.segments.models import MembershipChange, MembershipRecord, SegmentDefinition
from segmentation.segments.registry import ActiveSegment, SegmentRegistry
from segmentation.store import items
from segmentation.store.dynamo import (
    DynamoStore,
    Fact,
    LoadedCustomer,
    engagement_fact,
    order_fact,
    refund_fact,
)
from segmentation.store.errors import ConcurrentUpdate, NotFound

ProfileChange = Callable[[CustomerProfile], CustomerProfile]


class ChangePublisher(Protocol):
    """Announces membership changes; ``segments`` gives each changed segment's destinations."""

    def publish(
        self, changes: list[MembershipChange], segments: Mapping[str, SegmentDefinition], reason: str
    ) -> None: ...


@dataclass(frozen=True)
class _Work:
    """What one reconciliation must do besides re-evaluating: the fact's events and how the profile changes."""

    events: frozenset[str] = frozenset()
    mutate: ProfileChange | None = None
    claim_email: bool = False
    duplicate: bool = False
    only: set[str] | None = None  # evaluate only these segments
    force: bool = False  # evaluate even if no dependency changed
    must_exist: bool = False


@dataclass
class Outcome:
    """What one fact did: the membership changes it caused and which segments were evaluated."""

    customer_id: str
    changes: list[MembershipChange] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)
    duplicate: bool = False


def snapshot_of(view: CustomerView) -> dict[str, Any]:
    """JSON-normalised attributes, comparable with what was stored at the last commit."""
    return items.loads(items.dumps(view.attributes))


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def apply_consent(
    profile: CustomerProfile, channels: dict[ConsentChannel, ConsentStatus], source: str, at: datetime
) -> CustomerProfile:
    """Set consent per channel unless the stored state is newer (late, reordered deliveries lose)."""
    consent = dict(profile.consent)
    for channel, status in channels.items():
        current = consent.get(channel)
        if current is not None and current.updated_at > at:
            continue
        consent[channel] = ConsentState(status=status, source=source, updated_at=at)
    return profile.model_copy(update={"consent": consent})


class MembershipEngine:
    """Keeps one customer's memberships right as facts arrive."""

    def __init__(
        self,
        store: DynamoStore,
        registry: SegmentRegistry,
        publisher: ChangePublisher,
        tz: ZoneInfo,
        *,
        max_attempts: int = 5,
    ) -> None:
        self.store = store
        self.registry = registry
        self.publisher = publisher
        self.tz = tz
        self.max_attempts = max_attempts

    # -- facts -------------------------------------------------------------------------------------

    def record_order(self, order: OrderCompleted, now: datetime) -> Outcome:
        fresh = self.store.put_order(order.customer_id, _stored_order(order))
        return self._reconcile(order.customer_id, now, {"order_completed"}, duplicate=not fresh)

    def record_refund(self, refund: OrderRefunded, now: datetime) -> Outcome:
        fresh = self.store.put_refund(refund.customer_id, refund.order_id, refund.amount, refund.refunded_at)
        return self._reconcile(refund.customer_id, now, {"order_refunded", "order_completed"}, duplicate=not fresh)

    def record_engagement(self, event: EngagementRecorded, now: datetime) -> Outcome:
        fresh = self.store.put_engagement(event.customer_id, _stored_engagement(event))
        return self._reconcile(event.customer_id, now, {event.kind.value}, duplicate=not fresh)

    def upsert_profile(self, customer_id: str, change: CustomerUpsert, now: datetime) -> Outcome:
        return self._reconcile(customer_id, now, set(), mutate=self._profile_change(change, now), claim_email=True)

    @staticmethod
    def _profile_change(change: CustomerUpsert, now: datetime) -> ProfileChange:
        at = change.occurred_at or now

        def mutate(profile: CustomerProfile) -> CustomerProfile:
            updated = profile.apply(change, at)
            if change.consent:
                updated = apply_consent(updated, change.consent, "registration", at)
            if updated.registered_at is None:
                updated = updated.model_copy(update={"registered_at": at})
            return updated.model_copy(update={"updated_at": max(at, profile.updated_at or at)})

        return mutate

    def tag(
        self,
        customer_id: str,
        add: Iterable[str],
        remove: Iterable[str],
        now: datetime,
        *,
        at: datetime | None = None,
        must_exist: bool = False,
    ) -> Outcome:
        return self._reconcile(
            customer_id, now, set(), mutate=_tag_change(add, remove, at or now), must_exist=must_exist
        )

    def set_consent(
        self,
        customer_id: str,
        channels: dict[ConsentChannel, ConsentStatus],
        source: str,
        at: datetime,
        now: datetime,
        *,
        must_exist: bool = False,
    ) -> Outcome:
        """Consent changes apply even before registration arrives (events can be reordered)."""
        mutate = _consent_change(ConsentFact(channels, source, at))
        return self._reconcile(customer_id, now, set(), mutate=mutate, must_exist=must_exist)

    def record_facts(self, customer_id: str, facts: list[object], now: datetime) -> Outcome:
        """Several facts of one customer at once: one load, one evaluation, one commit.

        Appended facts go in with ``BatchWriteItem``; profile changes are applied in the order given.
        This is how a queue batch is processed, and how history is backfilled.
        """
        appended: list[Fact] = []
        changes: list[ProfileChange] = []
        events: set[str] = set()
        claim = False
        for fact in facts:
            match fact:
                case OrderCompleted():
                    appended.append(order_fact(_stored_order(fact)))
                    events.add("order_completed")
                case OrderRefunded():
                    appended.append(refund_fact(fact.order_id, fact.amount, fact.refunded_at))
                    events |= {"order_refunded", "order_completed"}
                case EngagementRecorded():
                    appended.append(engagement_fact(_stored_engagement(fact)))
                    events.add(fact.kind.value)
                case CustomerUpsert():
                    changes.append(self._profile_change(fact, now))
                    claim = True
                case TagChange():
                    changes.append(_tag_change(fact.add, fact.remove, fact.occurred_at or now))
                case ConsentFact():
                    changes.append(_consent_change(fact))
                case _:
                    raise TypeError(f"not a customer fact: {type(fact).__name__}")
        if appended:
            self.store.put_facts(customer_id, appended)

        def mutate(profile: CustomerProfile) -> CustomerProfile:
            for change in changes:
                profile = change(profile)
            return profile

        return self._reconcile(customer_id, now, events, mutate=mutate if changes else None, claim_email=claim)

    def reevaluate(self, customer_id: str, now: datetime, segment_ids: set[str] | None = None) -> Outcome:
        """Re-evaluate a customer without a new fact (segment created or edited, time passed)."""
        return self._reconcile(customer_id, now, set(), only=segment_ids, force=True)

    # -- the loop ------------------------------------------------------------------------------------

    def _reconcile(self, customer_id: str, now: datetime, events: set[str], **how: Any) -> Outcome:
        """Run one reconciliation (see the module docstring), starting again from a fresh read on a lost race."""
        work = _Work(events=frozenset(events), **how)
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(customer_id, now, work)
            except ConcurrentUpdate:
                logger.info("membership race lost, retrying", extra={"customer_id": customer_id, "attempt": attempt})
        raise ConcurrentUpdate(f"customer {customer_id}: too many concurrent updates")

    def _attempt(self, customer_id: str, now: datetime, work: _Work) -> Outcome:
        loaded = self.store.load_customer(customer_id)
        if work.must_exist and not loaded.exists:
            raise NotFound(f"customer {customer_id} not found")
        history = loaded.history
        if work.mutate is not None:
            previous_email = history.profile.email if loaded.exists else None
            history.profile = work.mutate(history.profile)
            if work.claim_email and history.profile.email and history.profile.email != previous_email:
                self.store.claim_email(history.profile.email, customer_id, previous_email)
        view = build_view(history, now, self.tz)
        snapshot = snapshot_of(view)
        active = self.registry.active()
        changed = changed_attributes(loaded.snapshot, snapshot)
        candidates = [
            segment
            for segment in active.values()
            if (work.only is None or segment.segment_id in work.only)
            and (work.force or not loaded.exists or segment.rule.depends_on(changed, work.events))
        ]
        commit_version = loaded.version + 1
        changes = self._evaluate(candidates, loaded, view, now, commit_version)
        unannounced = [
            change for change in unannounced_changes(loaded) if change.segment_id not in {c.segment_id for c in changes}
        ]
        if changes or unannounced:
            definitions = {segment_id: segment.definition for segment_id, segment in active.items()}
            self.publisher.publish(changes + unannounced, definitions, reason="realtime")
        if loaded.exists or work.mutate is not None or history.orders or history.engagements:
            boundary = next_boundary(self.registry.boundary_plan(), view, history, now, self.tz)
            self.store.save_profile(history.profile, snapshot, loaded.version, next_boundary_at=boundary)
        logger.debug(
            "customer reconciled",
            extra={"customer_id": customer_id, "evaluated": len(candidates), "changes": len(changes)},
        )
        return Outcome(customer_id, changes, [s.segment_id for s in candidates], work.duplicate)

    def _evaluate(
        self,
        candidates: list[ActiveSegment],
        loaded: LoadedCustomer,
        view: CustomerView,
        now: datetime,
        commit_version: int,
    ) -> list[MembershipChange]:
        writes: list[tuple[MembershipChange, MembershipRecord | None]] = []
        for segment in candidates:
            verdict = segment.rule.evaluate(view, now, self.tz)
            current = loaded.memberships.get(segment.segment_id)
            if verdict == (current.member if current else False):
                continue
            change = MembershipChange(
                segment_id=segment.segment_id,
                customer_id=view.customer_id,
                entered=verdict,
                at=now,
                segment_version=segment.definition.version,
                trace=segment.rule.explain(view, now, self.tz) if verdict else None,
            )
            writes.append((change, current))
        if writes:
            self.store.apply_membership_changes(writes, profile_version=commit_version)
        return [change for change, _ in writes]


@dataclass(frozen=True)
class ConsentFact:
    channels: dict[ConsentChannel, ConsentStatus]
    source: str
    at: datetime


def _consent_change(fact: ConsentFact) -> ProfileChange:
    def mutate(profile: CustomerProfile) -> CustomerProfile:
        return apply_consent(profile, fact.channels, fact.source, fact.at)

    return mutate


def _tag_change(add: Iterable[str], remove: Iterable[str], at: datetime) -> ProfileChange:
    """Add and remove tags; each tag remembers when it was last changed, so a late or redelivered change to
    it never undoes a newer one (an old "add vip" arriving after "remove vip")."""
    wanted = {tag: True for tag in add} | {tag: False for tag in remove}

    def mutate(profile: CustomerProfile) -> CustomerProfile:
        tags, times = set(profile.tags), dict(profile.field_times)
        for tag, present in wanted.items():
            key = f"tags.{tag}"
            if key in times and times[key] > at:
                continue
            times[key] = at
            if present:
                tags.add(tag)
            else:
                tags.discard(tag)
        return profile.model_copy(update={"tags": sorted(tags), "field_times": times})

    return mutate


def _stored_order(order: OrderCompleted) -> StoredOrder:
    return StoredOrder(
        order_id=order.order_id,
        placed_at=order.placed_at,
        currency=order.currency,
        total=order.total,
        lines=order.lines,
    )


def _stored_engagement(event: EngagementRecorded) -> StoredEngagement:
    return StoredEngagement.model_validate(event.model_dump(exclude={"customer_id"}))


def unannounced_changes(loaded: LoadedCustomer) -> list[MembershipChange]:
    """Changes written by a run that died before its commit: they may not have been published."""
    out = []
    for record in loaded.memberships.values():
        if record.profile_version > loaded.version:
            at = record.entered_at if record.member else record.exited_at
            if at is not None:
                out.append(
                    MembershipChange(
                        segment_id=record.segment_id,
                        customer_id=record.customer_id,
                        entered=record.member,
                        at=at,
                        segment_version=record.segment_version,
                    )
                )
    return out
