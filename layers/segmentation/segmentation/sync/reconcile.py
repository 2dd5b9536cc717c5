"""Drift reconciliation: compare a destination with our membership, repair the differences, report them.

Scheduled (``ChannelReconcileFunction``): one ``reconcile`` task per (segment, destination) goes into the sync
queue, in the channel's message group, so it shares the channel's rate limit and never races a delivery.
Running it compares three sets:

* **wanted**: members who consent to the destination's purpose and have the platform's identity;
* **recorded**: our sync records for the destination (what we added or are adding);
* **at the destination**: its members as the platform lists them, where it can (``spec.can_list``).

Repairs are ordinary delivery tasks for the customers that differ (queued after this one), because a
delivery already knows how to add and remove correctly. A contact recorded as present but missing at the
destination gets its record set back to pending, so the delivery adds it again. Members of the destination
that we never added are counted (``foreign``) and left alone: we only remove what we added.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from segmentation.segments.models import SegmentDefinition
from segmentation.sync.adapters.base import ChannelAdapter, Target
from segmentation.sync.delivery import wanted_at_destination
from segmentation.sync.ratelimit import RateLimiter
from segmentation.sync.state import ContactView, RecordState, SyncRecord, SyncState
from segmentation.sync.tasks import MAX_CUSTOMERS_PER_TASK, SyncTask, task_id


def reconcile(
    task: SyncTask, state: SyncState, adapter: ChannelAdapter, limiter: RateLimiter | None = None
) -> tuple[dict[str, Any], list[SyncTask]]:
    spec = adapter.spec
    members = state.members(task.segment_id)
    views: dict[str, ContactView] = {}
    for start in range(0, len(members), MAX_CUSTOMERS_PER_TASK):
        views.update(state.views(task.segment_id, task.channel, members[start : start + MAX_CUSTOMERS_PER_TASK]))
    wanted = {cid for cid, view in views.items() if wanted_at_destination(view, task, spec)[0]}
    recorded = state.owned(task.segment_id, task.channel)

    at_destination: set[str] | None = None
    if spec.can_list:
        if limiter is not None:
            limiter.current_bucket = spec.bucket("list")
        at_destination = set(adapter.list_members(Target(task.segment_id, task.target_list, task.fields)))

    missing = sorted(
        cid
        for cid in wanted
        if at_destination is not None
        and (record := recorded.get(cid)) is not None
        and record.state == RecordState.PRESENT
        and record.platform_id not in at_destination
    )
    not_yet_added = sorted(wanted - recorded.keys())
    to_remove = sorted(cid for cid in recorded if cid not in wanted)
    pending = sorted(cid for cid, record in recorded.items() if record.state.value.startswith("pending_"))
    ours = {record.platform_id for record in recorded.values() if record.platform_id}
    foreign = None if at_destination is None else len(at_destination - ours)
    unwanted_present = (
        None
        if at_destination is None
        else sum(
            1
            for cid, view in views.items()
            if cid not in wanted and cid not in recorded and view.cached_id in at_destination
        )
    )

    if missing:
        state.set_records(
            task.segment_id,
            task.channel,
            {cid: SyncRecord(RecordState.PENDING_ADD, recorded[cid].platform_id) for cid in missing},
        )
    repair = sorted(set(missing) | set(not_yet_added) | set(to_remove) | set(pending))
    now = datetime.now(UTC)
    tasks = [
        SyncTask(
            segment_id=task.segment_id,
            channel=task.channel,
            list_name=task.list_name,
            purpose=task.purpose,
            fields=task.fields,
            customer_ids=chunk,
            reason="reconcile",
            created_at=now,
            task_id=task_id(task.segment_id, task.channel, task.list_name, ["reconcile", now.isoformat(), *chunk]),
        )
        for chunk in (repair[i : i + MAX_CUSTOMERS_PER_TASK] for i in range(0, len(repair), MAX_CUSTOMERS_PER_TASK))
    ]
    drift: dict[str, Any] = {
        "wanted": len(wanted),
        "recorded": len(recorded),
        "at_destination": None if at_destination is None else len(at_destination),
        "missing_at_destination": len(missing),
        "not_yet_added": len(not_yet_added),
        "to_remove": len(to_remove),
        "pending_retry": len(pending),
        "foreign": foreign,
        "unowned_non_members_present": unwanted_present,
        "repairs_queued": len(repair),
        "listable": spec.can_list,
    }
    return drift, tasks


def reconciliation_tasks(definitions: list[SegmentDefinition], now: datetime) -> list[SyncTask]:
    """One reconcile task per destination of every segment (archived ones too: their members must go)."""
    tasks = []
    for definition in definitions:
        for destination in definition.destinations:
            tasks.append(
                SyncTask(
                    kind="reconcile",
                    segment_id=definition.segment_id,
                    channel=destination.channel,
                    list_name=destination.list_name,
                    purpose=destination.purpose,
                    fields=destination.fields,
                    reason="scheduled",
                    created_at=now,
                    task_id=task_id(
                        definition.segment_id,
                        destination.channel,
                        destination.list_name,
                        ["reconcile", now.isoformat()],
                    ),
                )
            )
    return tasks


def queue_reconciliation(svc: Any) -> int:
    """The scheduled entry point: reconcile tasks for every segment with destinations, into the sync queue."""
    from segmentation.sync.publisher import send_tasks

    definitions = [d for d in svc.store.list_segments() if d.destinations]
    tasks = reconciliation_tasks(definitions, datetime.now(UTC))
    send_tasks(svc.settings.sync_queue_url, tasks)
    return len(tasks)
