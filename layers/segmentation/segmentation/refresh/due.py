"""The boundary schedule: re-evaluate the customers whose next time boundary has passed, and only them.

Every profile commit stores the customer's ``next_boundary_at`` in the sparse GSI2, keyed by the boundary's UTC
hour and a shard (``store.items``). A run reads the hours from a stored cursor up to now, ``BOUNDARY_SHARDS``
Queries per hour, each bounded by ``GSI2SK <= now``: the requests grow with the number of due customers, not
with the size of the base. Each due customer goes through the real-time path (``MembershipEngine.reevaluate``),
which evaluates her segments at now, writes what changed and commits her next boundary (always later than now,
so she leaves the due set).

A customer whose re-evaluation fails, or who could not be reached before the function's deadline, keeps her
passed boundary, and the cursor stays at her hour, so the next run picks her up.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from segmentation.observability import logger, metrics
from segmentation.segments.realtime import MembershipEngine
from segmentation.store import items as it
from segmentation.store.dynamo import DynamoStore
from segmentation.store.runs import RunStore

# With no cursor stored (the first run after deployment), start this far back.
FIRST_LOOKBACK = timedelta(hours=24)
# The cursor stays this far behind now: a writer whose clock lags ours may still store a boundary in that hour.
CLOCK_SKEW_MARGIN = timedelta(hours=1)
WORKERS = 8  # concurrent re-evaluations: each is a few round trips to DynamoDB, so threads overlap them
DEADLINE_RESERVE_MS = 20_000  # stop starting new customers when less than this is left of the invocation


@dataclass
class BoundaryRun:
    """What one run of the boundary schedule did."""

    now: datetime
    hours: list[str] = field(default_factory=list)
    queries: int = 0
    due: int = 0
    reevaluated: int = 0
    changes: int = 0
    failed: int = 0
    deferred: int = 0
    cursor: str = ""

    def summary(self) -> dict[str, object]:
        return {
            "now": self.now.isoformat(),
            "hours": len(self.hours),
            "queries": self.queries,
            "due": self.due,
            "reevaluated": self.reevaluated,
            "changes": self.changes,
            "failed": self.failed,
            "deferred": self.deferred,
            "cursor": self.cursor,
        }


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _parse_bucket(bucket: str) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%dT%H").replace(tzinfo=UTC)


def reevaluate_due(
    store: DynamoStore,
    runs: RunStore,
    engine: MembershipEngine,
    now: datetime,
    *,
    remaining_ms: Callable[[], int] | None = None,
    workers: int = WORKERS,
) -> BoundaryRun:
    result = BoundaryRun(now=now)
    cursor = runs.boundary_cursor()
    hour = _parse_bucket(cursor) if cursor else _hour(now - FIRST_LOOKBACK)
    due: dict[str, str] = {}  # customer -> the hour bucket she was found in
    while hour <= now:
        bucket = it.boundary_bucket(hour)
        result.hours.append(bucket)
        for shard in range(it.BOUNDARY_SHARDS):
            for customer_id in store.due_customers(bucket, shard, now):
                due.setdefault(customer_id, bucket)
            result.queries += 1
        hour += timedelta(hours=1)
    result.due = len(due)

    def one(customer_id: str) -> tuple[str, int | None]:
        if remaining_ms is not None and remaining_ms() < DEADLINE_RESERVE_MS:
            return customer_id, None
        try:
            outcome = engine.reevaluate(customer_id, now)
        except Exception:
            logger.exception("boundary re-evaluation failed", extra={"customer_id": customer_id})
            return customer_id, -1
        return customer_id, len(outcome.changes)

    unfinished: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for customer_id, changes in pool.map(one, sorted(due)):
            if changes is None:
                result.deferred += 1
                unfinished.append(due[customer_id])
            elif changes < 0:
                result.failed += 1
                unfinished.append(due[customer_id])
            else:
                result.reevaluated += 1
                result.changes += changes
    result.cursor = min([it.boundary_bucket(now - CLOCK_SKEW_MARGIN), *unfinished])
    if result.cursor != cursor:
        runs.set_boundary_cursor(result.cursor, now)
    metrics.add_metric(name="BoundaryDue", unit="Count", value=result.due)
    metrics.add_metric(name="BoundaryChanges", unit="Count", value=result.changes)
    metrics.add_metric(name="BoundaryDeferred", unit="Count", value=result.deferred + result.failed)
    logger.info("boundary run done", extra=result.summary())
    return result
