"""One shard of a refresh run: scan it, evaluate in bulk, write what changed, record the shard once.

For each chunk of customers of the shard:

1. build their views at ``now`` and evaluate the run's segments with the bulk evaluator;
2. diff against their stored memberships; compute each one's next time boundary over every active segment;
3. write the membership changes (conditional on each membership's version, as the real-time path does), tagged
   with the run id and with the profile version step 5 will write;
4. publish the changes: sync tasks (batched per segment and destination) and ``SegmentMembershipChanged``;
5. touch each changed customer's profile (next version, new boundary, fresh features), conditional on the version
   the scan read. A real-time run that read her before the touch fails its commit and starts again from a fresh
   read; if the touch fails, a real-time run committed since the scan, so she is re-read and decided again.

Retries are safe. A redelivered shard finds its own earlier writes by their run id: they count as this run's
changes (once) and are published again (delivery is level-triggered, events at-least-once). Counts reach the
run item in one conditional update when the shard is done, so a shard is never counted twice.

An impact preview (``RunKind.IMPACT``) runs steps 1 and 2 with the proposed rule and only counts and samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from segmentation.features.compute import CustomerView, build_view
from segmentation.observability import logger
from segmentation.refresh.models import RefreshRun, RunKind, ShardCounts, ShardMessage
from segmentation.rules import Rule, parse_rule
from segmentation.segments.boundaries import BoundaryPlan, next_boundary
from segmentation.segments.models import MembershipChange, MembershipRecord, SegmentDefinition
from segmentation.segments.realtime import (
    ChangePublisher,
    ModelProvider,
    explain_with_model,
    no_model,
    snapshot_of,
    unannounced_changes,
)
from segmentation.segments.registry import compile_definitions
from segmentation.store.dynamo import DynamoStore, LoadedCustomer
from segmentation.store.errors import ConcurrentUpdate
from segmentation.store.runs import SAMPLE_SIZE, RunStore

if TYPE_CHECKING:
    from segmentation.models.scoring import ScoringModel

CHUNK_SIZE = 2000  # customers evaluated together: large enough for a vectorised evaluator, small in memory
CUSTOMER_ATTEMPTS = 5
# Features that change every day by definition; rewriting them daily for the whole base would cost a write per
# customer per day, and they are derived from stored dates whenever anything reads or evaluates them.
DAY_COUNTERS = frozenset({"days_since_last_order"})
# Must match maxReceiveCount of RefreshQueue's redrive policy in template.yaml: the last attempt marks the run.
MAX_RECEIVES = 5


class Evaluator(Protocol):
    def evaluate(
        self, views: Sequence[CustomerView], *, memberships: Mapping[str, set[str]] | None = None
    ) -> dict[str, set[str]]: ...


EvaluatorFactory = Callable[[Mapping[str, Rule], datetime, ZoneInfo], Evaluator]


@dataclass
class _Plan:
    """What a shard evaluates: target segments (rule ``None``: nobody qualifies, e.g. archived) and the rules the
    bulk evaluator needs (targets plus the segments they reference), and the boundary plan of every active one."""

    targets: dict[str, Rule | None]
    definitions: dict[str, SegmentDefinition]
    rules: dict[str, Rule]
    boundaries: BoundaryPlan
    evaluator: Evaluator | None
    model: ScoringModel | None = None  # the published scoring model, as the real-time path sees it


@dataclass
class _Decision:
    customer: LoadedCustomer
    changes: list[MembershipChange] = field(default_factory=list)  # to write now
    announce: list[MembershipChange] = field(default_factory=list)  # written earlier, possibly never published
    counted: list[tuple[str, bool]] = field(default_factory=list)  # this run's changes: (segment, entered)
    boundary: datetime | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    touch: bool = False

    @property
    def customer_id(self) -> str:
        return self.customer.history.profile.customer_id


class ShardWorker:
    def __init__(
        self,
        store: DynamoStore,
        runs: RunStore,
        publisher: ChangePublisher,
        tz: ZoneInfo,
        evaluator_factory: EvaluatorFactory,
        *,
        chunk_size: int = CHUNK_SIZE,
        models: ModelProvider = no_model,
    ) -> None:
        self.store = store
        self.runs = runs
        self.publisher = publisher
        self.tz = tz
        self.evaluator_factory = evaluator_factory
        self.chunk_size = chunk_size
        self.models = models

    def process(self, message: ShardMessage, now: datetime) -> ShardCounts | None:
        """Process one shard; ``None`` when there was nothing to do (shard already recorded, run gone)."""
        run = self.runs.get(message.run_id)
        if run is None:
            logger.warning("refresh shard for an unknown run dropped", extra={"run_id": message.run_id})
            return None
        if message.shard in run.done_shards:
            logger.info("refresh shard already recorded", extra={"run_id": run.run_id, "shard": message.shard})
            return None
        plan = self._plan(run, now)
        counts = ShardCounts()
        for chunk in _chunks(self.store.scan_shard(message.shard, message.total_shards), self.chunk_size):
            self._chunk(run, plan, chunk, now, counts)
        recorded = self.runs.complete_shard(run.run_id, message.shard, counts, now)
        if recorded is not None and recorded.shards_done >= recorded.shards_total:
            self.runs.finish(run.run_id, now)
        logger.info(
            "refresh shard done",
            extra={
                "run_id": run.run_id,
                "shard": message.shard,
                "evaluated": counts.evaluated,
                "entered": sum(c.entered for c in counts.segments.values()),
                "left": sum(c.left for c in counts.segments.values()),
                "recorded": recorded is not None,
            },
        )
        return counts

    # -- planning ------------------------------------------------------------------------------------

    def _plan(self, run: RefreshRun, now: datetime) -> _Plan:
        definitions = {d.segment_id: d for d in self.store.list_segments(consistent=True)}
        active = compile_definitions(list(definitions.values()))
        targets: dict[str, Rule | None] = {}
        if run.kind is RunKind.IMPACT:
            segment_id = run.segment_ids[0]
            trees = {sid: s.definition.rule for sid, s in active.items()}
            trees[segment_id] = run.rule or {}
            targets[segment_id] = parse_rule(run.rule, segment_lookup=trees.get, self_id=segment_id)
        else:
            for segment_id in run.segment_ids:
                definition = definitions.get(segment_id)
                if definition is None:
                    continue
                if definition.version > run.segment_versions.get(segment_id, definition.version):
                    # Edited (or archived) since the run started: that change started its own run.
                    logger.info("refresh skips a superseded segment", extra={"segment_id": segment_id})
                    continue
                active_segment = active.get(segment_id)
                targets[segment_id] = active_segment.rule if active_segment is not None else None
        rules: dict[str, Rule] = {sid: rule for sid, rule in targets.items() if rule is not None}
        for rule in list(rules.values()):
            for referenced in rule.segments:
                if referenced not in rules and referenced in active:
                    rules[referenced] = active[referenced].rule
        return _Plan(
            targets=targets,
            definitions=definitions,
            rules=rules,
            boundaries=BoundaryPlan.of(s.rule for s in active.values()),
            evaluator=self.evaluator_factory(rules, now, self.tz) if rules else None,
            model=self.models(),
        )

    # -- one chunk -----------------------------------------------------------------------------------

    def _chunk(
        self, run: RefreshRun, plan: _Plan, chunk: list[LoadedCustomer], now: datetime, counts: ShardCounts
    ) -> None:
        views = [build_view(c.history, now, self.tz, plan.model) for c in chunk]
        matched = plan.evaluator.evaluate(views) if plan.evaluator is not None else {}
        counts.evaluated += len(chunk)
        decisions = [self._decide(run, plan, c, v, matched, now) for c, v in zip(chunk, views, strict=True)]
        if run.kind is RunKind.IMPACT:
            for decision in decisions:
                for segment_id, entered in decision.counted:
                    counts.add(segment_id, entered)
                    sample = counts.sample_enter if entered else counts.sample_leave
                    if len(sample) < SAMPLE_SIZE:
                        sample.append(decision.customer_id)
            return
        retry: list[str] = []
        written: list[_Decision] = []
        for decision in decisions:
            if not decision.touch:
                for segment_id, entered in decision.counted:  # earlier attempts' changes, already touched
                    counts.add(segment_id, entered)
                continue
            try:
                self._write(decision)
            except ConcurrentUpdate:
                retry.append(decision.customer_id)
                continue
            written.append(decision)
        self._publish([c for d in written for c in d.changes + d.announce], plan)
        for decision in written:
            try:
                self.store.touch_profile(
                    decision.customer_id,
                    decision.customer.version,
                    next_boundary_at=decision.boundary,
                    snapshot=decision.snapshot,
                )
            except ConcurrentUpdate:
                retry.append(decision.customer_id)
                continue
            for segment_id, entered in decision.counted:
                counts.add(segment_id, entered)
        for customer_id in retry:
            self._retry(run, plan, customer_id, now, counts)

    def _decide(
        self,
        run: RefreshRun,
        plan: _Plan,
        customer: LoadedCustomer,
        view: CustomerView,
        matched: Mapping[str, set[str]],
        now: datetime,
    ) -> _Decision:
        decision = _Decision(customer)
        customer_id = decision.customer_id
        for segment_id, rule in plan.targets.items():
            verdict = rule is not None and customer_id in matched.get(segment_id, ())
            current = customer.memberships.get(segment_id)
            member = current.member if current is not None else False
            if verdict != member:
                if current is None or not _decided_by(current, run.run_id):
                    # (Undoing this run's own earlier write, after a real-time change in between, nets to nothing.)
                    decision.counted.append((segment_id, verdict))
                if run.kind is RunKind.REFRESH:
                    decision.changes.append(self._change(run, plan, segment_id, rule, view, verdict, now))
            elif current is not None and _decided_by(current, run.run_id):
                decision.counted.append((segment_id, member))
                decision.announce.append(_as_change(current, run.run_id))
        if run.kind is RunKind.IMPACT:
            return decision
        decision.snapshot = snapshot_of(view)
        decision.boundary = next_boundary(plan.boundaries, view, customer.history, now, self.tz)
        announced = {(c.segment_id, c.customer_id) for c in decision.announce}
        decision.announce += [
            c for c in unannounced_changes(customer) if (c.segment_id, c.customer_id) not in announced
        ]
        decision.touch = bool(
            decision.changes
            or decision.announce
            or decision.boundary != customer.next_boundary_at
            or (run.features and _drifted(customer.snapshot, decision.snapshot))
        )
        return decision

    def _change(
        self,
        run: RefreshRun,
        plan: _Plan,
        segment_id: str,
        rule: Rule | None,
        view: CustomerView,
        entered: bool,
        now: datetime,
    ) -> MembershipChange:
        return MembershipChange(
            segment_id=segment_id,
            customer_id=view.customer_id,
            entered=entered,
            at=now,
            segment_version=plan.definitions[segment_id].version,
            trace=explain_with_model(rule, view, now, self.tz, plan.model) if entered and rule is not None else None,
            run_id=run.run_id,
        )

    def _write(self, decision: _Decision) -> None:
        memberships = decision.customer.memberships
        writes: list[tuple[MembershipChange, MembershipRecord | None]] = [
            (change, memberships.get(change.segment_id)) for change in decision.changes
        ]
        if writes:
            self.store.apply_membership_changes(writes, profile_version=decision.customer.version + 1)

    def _publish(self, changes: list[MembershipChange], plan: _Plan) -> None:
        if changes:
            # Destinations come from the definition even when it is archived, so channels drop its members.
            self.publisher.publish(changes, plan.definitions, reason="refresh")

    def _retry(self, run: RefreshRun, plan: _Plan, customer_id: str, now: datetime, counts: ShardCounts) -> None:
        """Decide one customer again from a fresh read, after a real-time run wrote her in the meantime."""
        for _attempt in range(CUSTOMER_ATTEMPTS):
            customer = self.store.load_customer(customer_id)
            if not customer.exists:
                return
            view = build_view(customer.history, now, self.tz, plan.model)
            matched = plan.evaluator.evaluate([view]) if plan.evaluator is not None else {}
            decision = self._decide(run, plan, customer, view, matched, now)
            try:
                if decision.touch:
                    self._write(decision)
                    self._publish(decision.changes + decision.announce, plan)
                    self.store.touch_profile(
                        customer_id, customer.version, next_boundary_at=decision.boundary, snapshot=decision.snapshot
                    )
            except ConcurrentUpdate:
                logger.info("refresh race lost, retrying", extra={"customer_id": customer_id, "run_id": run.run_id})
                continue
            for segment_id, entered in decision.counted:
                counts.add(segment_id, entered)
            return
        raise ConcurrentUpdate(f"customer {customer_id}: too many concurrent updates during refresh")


def _drifted(stored: Mapping[str, Any], fresh: Mapping[str, Any]) -> bool:
    """Whether a stored feature snapshot is worth rewriting: anything differs but the plain day counters, which
    move every day for every customer who ever ordered and follow from a stored date (see docs/freshness.md)."""
    names = (stored.keys() | fresh.keys()) - DAY_COUNTERS
    return any(stored.get(name) != fresh.get(name) for name in names)


def _decided_by(record: MembershipRecord, run_id: str) -> bool:
    return bool(record.history) and record.history[-1].run == run_id


def _as_change(record: MembershipRecord, run_id: str) -> MembershipChange:
    at = record.entered_at if record.member else record.exited_at
    return MembershipChange(
        segment_id=record.segment_id,
        customer_id=record.customer_id,
        entered=record.member,
        at=at or record.history[-1].at,
        segment_version=record.segment_version,
        run_id=run_id,
    )


def _chunks(items: Iterable[LoadedCustomer], size: int) -> Iterator[list[LoadedCustomer]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def shard_failed(runs: RunStore, message: ShardMessage, receive_count: int, now: datetime) -> None:
    """Called when processing raised: on the last delivery the run is marked failed (the DLQ keeps the message)."""
    if receive_count >= MAX_RECEIVES:
        logger.error("refresh shard gave up", extra={"run_id": message.run_id, "shard": message.shard})
        runs.fail_shard(message.run_id, message.shard, now)
