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
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from segmentation.domain.models import (
    ConsentChannel,
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
from segmentation.domain.models import apply_consent as domain_apply_consent
from segmentation.features.compute import CustomerHistory, CustomerView, build_view
from segmentation.models.explain import model_context
from segmentation.models.movement import track_rfm_group
from segmentation.observability import logger
from segmentation.rules import Rule
from segmentation.segments.boundaries import next_boundary
from segmentation.segments.models import MembershipChange, MembershipRecord, SegmentDefinition
from segmentation.segments.registry import ActiveSegment, SegmentRegistry
from segmentation.store import items
from segmentation.store.dynamo import (
    DynamoStore,
    Fact,
    LoadedCustomer,
    engagement_fact,
    membership_item,
    order_fact,
    profile_item,
    refund_fact,
)
from segmentation.store.errors import ConcurrentUpdate, NotFound

if TYPE_CHECKING:
    from segmentation.models.scoring import ScoringModel

ProfileChange = Callable[[CustomerProfile], CustomerProfile]
ModelProvider = Callable[[], "ScoringModel | None"]


def no_model() -> ScoringModel | None:
    return None


class ChangePublisher(Protocol):
    """Announces membership changes; ``segments`` gives each changed segment's destinations."""

    def publish(
        self, changes: list[MembershipChange], segments: Mapping[str, SegmentDefinition], reason: str
    ) -> None: ...

    def resync(
        self, customer_id: str, segment_ids: list[str], segments: Mapping[str, SegmentDefinition], reason: str
    ) -> None:
        """Re-check a member at their segments' destinations (consent or address changed, membership did not)."""
        ...


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
    profile: CustomerProfile,
    channels: dict[ConsentChannel, ConsentStatus],
    source: str,
    at: datetime,
    *,
    consent_source: bool = True,
) -> CustomerProfile:
    """Set consent per channel under the domain's rules (newer wins; only a consent source upgrades)."""
    consent = domain_apply_consent(profile.consent, channels, source, at, consent_source=consent_source)
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
        models: ModelProvider = no_model,
    ) -> None:
        self.store = store
        self.registry = registry
        self.publisher = publisher
        self.tz = tz
        self.max_attempts = max_attempts
        self.models = models  # the current scoring model (cached per container), or None before training

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
    def _profile_change(
        change: CustomerUpsert, now: datetime, *, source: str | None = None, consent_source: bool = True
    ) -> ProfileChange:
        at = change.occurred_at or now

        def mutate(profile: CustomerProfile) -> CustomerProfile:
            updated = profile.apply(change, at, source)
            if change.consent:
                updated = apply_consent(
                    updated, change.consent, source or "registration", at, consent_source=consent_source
                )
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
        appended, changes, events, claim = self._split(facts, now)
        if appended:
            self.store.put_facts(customer_id, appended)

        def mutate(profile: CustomerProfile) -> CustomerProfile:
            for change in changes:
                profile = change(profile)
            return profile

        return self._reconcile(customer_id, now, events, mutate=mutate if changes else None, claim_email=claim)

    def _split(self, facts: list[object], now: datetime) -> tuple[list[Fact], list[ProfileChange], set[str], bool]:
        """Appended facts, profile changes (in order), the events they are, and whether an email may change."""
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
                case ProfileFact():
                    changes.append(
                        self._profile_change(fact.change, now, source=fact.source, consent_source=fact.consent_source)
                    )
                    claim = True
                case TagChange():
                    changes.append(_tag_change(fact.add, fact.remove, fact.occurred_at or now))
                case ConsentFact():
                    changes.append(_consent_change(fact))
                case _:
                    raise TypeError(f"not a customer fact: {type(fact).__name__}")
        return appended, changes, events, claim

    def create_customers(self, customers: list[tuple[str, list[object]]], now: datetime) -> set[str]:
        """Create many new customers at batch cost: the bulk form of ``record_facts`` for people no one has
        stored yet (an import's new contacts). Returns the ids that turned out to exist already, which the
        caller sends through ``record_facts`` instead.

        Same derivation and evaluation as the real-time path, and the same order of writes for crash safety:
        facts, then memberships (carrying the profile version the commit will write), then the profile as the
        commit. Memberships and profiles are conditional inserts, so a concurrent writer is never overwritten:
        whoever finds an item already there falls back to the per-customer path, which reconciles.
        The caller has already claimed each customer's email.
        """
        active = self.registry.active()
        facts_by_customer: dict[str, list[Fact]] = {}
        memberships: list[tuple[str, dict[str, Any]]] = []
        profiles: list[tuple[str, dict[str, Any]]] = []
        changes_by_customer: dict[str, list[MembershipChange]] = {}
        fallback: set[str] = set()
        for customer_id, facts in customers:
            appended, mutations, _, _ = self._split(facts, now)
            if any(sort_key.startswith("R#") for sort_key, _, _ in appended):
                fallback.add(customer_id)  # refunds fold into stored orders: the full path handles them
                continue
            profile = CustomerProfile(customer_id=customer_id)
            for mutate in mutations:
                profile = mutate(profile)
            orders = [_stored_order(f) for f in facts if isinstance(f, OrderCompleted)]
            engagements = [_stored_engagement(f) for f in facts if isinstance(f, EngagementRecorded)]
            history = CustomerHistory(
                profile=profile,
                orders=sorted({o.order_id: o for o in orders}.values(), key=lambda o: o.placed_at),
                engagements=sorted({e.event_id: e for e in engagements}.values(), key=lambda e: e.occurred_at),
            )
            view = build_view(history, now, self.tz)
            changes = []
            for segment in active.values():
                if segment.rule.evaluate(view, now, self.tz):
                    changes.append(
                        MembershipChange(
                            segment_id=segment.segment_id,
                            customer_id=customer_id,
                            entered=True,
                            at=now,
                            segment_version=segment.definition.version,
                            trace=segment.rule.explain(view, now, self.tz),
                        )
                    )
            facts_by_customer[customer_id] = appended
            changes_by_customer[customer_id] = changes
            memberships.extend((customer_id, membership_item(change, None, 1)) for change in changes)
            boundary = next_boundary(self.registry.boundary_plan(), view, history, now, self.tz)
            profiles.append((customer_id, profile_item(profile, snapshot_of(view), 1, next_boundary_at=boundary)))
        self.store.put_facts_of([(cid, fact) for cid, appended in facts_by_customer.items() for fact in appended])
        inserted = self.store.insert_items([item for _, item in memberships])
        fallback |= {customer_id for (customer_id, _), ok in zip(memberships, inserted, strict=True) if not ok}
        pending = [(customer_id, item) for customer_id, item in profiles if customer_id not in fallback]
        inserted = self.store.insert_items([item for _, item in pending])
        fallback |= {customer_id for (customer_id, _), ok in zip(pending, inserted, strict=True) if not ok}
        created = [c for customer_id, cs in changes_by_customer.items() if customer_id not in fallback for c in cs]
        if created:
            definitions = {segment_id: segment.definition for segment_id, segment in active.items()}
            self.publisher.publish(created, definitions, reason="import")
        return fallback

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
        before = history.profile
        if work.mutate is not None:
            previous_email = history.profile.email if loaded.exists else None
            history.profile = work.mutate(history.profile)
            if work.claim_email and history.profile.email and history.profile.email != previous_email:
                self.store.claim_email(history.profile.email, customer_id, previous_email)
        model = self.models()
        view = build_view(history, now, self.tz, model)
        history.profile = track_rfm_group(history.profile, view.attributes, now)
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
        changes = self._evaluate(candidates, loaded, view, now, commit_version, model)
        unannounced = [
            change for change in unannounced_changes(loaded) if change.segment_id not in {c.segment_id for c in changes}
        ]
        definitions = {segment_id: segment.definition for segment_id, segment in active.items()}
        if changes or unannounced:
            self.publisher.publish(changes + unannounced, definitions, reason="realtime")
        if loaded.exists and _reach_changed(before, history.profile):
            # Withdrawn consent must take the contact out of every destination now, not at the next change.
            changed_ids = {c.segment_id for c in changes}
            kept = [sid for sid, m in loaded.memberships.items() if m.member and sid not in changed_ids]
            if kept:
                self.publisher.resync(customer_id, sorted(kept), definitions, reason="consent")
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
        model: ScoringModel | None = None,
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
                trace=explain_with_model(segment.rule, view, now, self.tz, model) if verdict else None,
            )
            writes.append((change, current))
        if writes:
            self.store.apply_membership_changes(writes, profile_version=commit_version)
        return [change for change, _ in writes]


def _reach_changed(before: CustomerProfile, after: CustomerProfile) -> bool:
    """Whether what a destination may hold changed: consent per channel, or the address it is keyed on."""
    if before.email != after.email or before.phone != after.phone:
        return True
    statuses = {channel: state.status for channel, state in before.consent.items()}
    return statuses != {channel: state.status for channel, state in after.consent.items()}


def explain_with_model(
    rule: Rule, view: CustomerView, now: datetime, tz: ZoneInfo, model: ScoringModel | None
) -> dict[str, Any]:
    """The rule's explanation; for a rule on model attributes, also the scores and the model behind them."""
    trace = rule.explain(view, now, tz)
    context = model_context(rule.attributes, view.attributes, model) if rule.uses_model else None
    if context is not None:
        trace["model"] = context
    return trace


@dataclass(frozen=True)
class ConsentFact:
    channels: dict[ConsentChannel, ConsentStatus]
    source: str
    at: datetime
    # The shop's own consent events and the API are consent records; an import is one only if declared so.
    consent_source: bool = True


@dataclass(frozen=True)
class ProfileFact:
    """A profile change with its provenance: who made it (recorded per field) and whether its consent
    columns are a consent record (otherwise they can only downgrade)."""

    change: CustomerUpsert
    source: str
    consent_source: bool = False


def _consent_change(fact: ConsentFact) -> ProfileChange:
    def mutate(profile: CustomerProfile) -> CustomerProfile:
        return apply_consent(profile, fact.channels, fact.source, fact.at, consent_source=fact.consent_source)

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
