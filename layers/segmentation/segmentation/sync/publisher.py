"""Publishes membership changes: sync tasks to SQS and ``SegmentMembershipChanged`` to EventBridge."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from segmentation.domain.types import iso
from segmentation.observability import logger
from segmentation.segments.models import MembershipChange, SegmentDefinition
from segmentation.store.clients import client
from segmentation.sync.tasks import MAX_CUSTOMERS_PER_TASK, SyncTask, task_id

EVENT_SOURCE = "segmentation"
MEMBERSHIP_CHANGED = "SegmentMembershipChanged"


def build_tasks(
    changes: list[MembershipChange], segments: Mapping[str, SegmentDefinition], reason: str, now: datetime
) -> list[SyncTask]:
    """One task per (segment, destination), at most ``MAX_CUSTOMERS_PER_TASK`` customers each."""
    by_segment: dict[str, dict[str, str]] = defaultdict(dict)
    for change in changes:
        # The change's own time goes into the task id: publishing the same changes again deduplicates.
        by_segment[change.segment_id][change.customer_id] = f"{change.customer_id}@{iso(change.at)}:{change.entered}"
    tasks: list[SyncTask] = []
    for segment_id, marks in by_segment.items():
        definition = segments.get(segment_id)
        if definition is None:
            continue
        unique = sorted(marks)
        for destination in definition.destinations:
            for start in range(0, len(unique), MAX_CUSTOMERS_PER_TASK):
                chunk = unique[start : start + MAX_CUSTOMERS_PER_TASK]
                tasks.append(
                    SyncTask(
                        segment_id=segment_id,
                        channel=destination.channel,
                        list_name=destination.list_name,
                        purpose=destination.purpose,
                        fields=destination.fields,
                        customer_ids=chunk,
                        reason=reason,
                        created_at=now,
                        task_id=task_id(
                            segment_id, destination.channel, destination.list_name, [reason, *(marks[c] for c in chunk)]
                        ),
                    )
                )
    return tasks


def resync_tasks(
    customer_id: str, segment_ids: list[str], segments: Mapping[str, SegmentDefinition], reason: str, now: datetime
) -> list[SyncTask]:
    """Tasks that re-check one customer at every destination of segments they belong to (consent or address
    changed: nothing about membership changed, but what the destination may hold did)."""
    tasks = []
    for segment_id in segment_ids:
        definition = segments.get(segment_id)
        for destination in definition.destinations if definition else []:
            tasks.append(
                SyncTask(
                    segment_id=segment_id,
                    channel=destination.channel,
                    list_name=destination.list_name,
                    purpose=destination.purpose,
                    fields=destination.fields,
                    customer_ids=[customer_id],
                    reason=reason,
                    created_at=now,
                    task_id=task_id(
                        segment_id, destination.channel, destination.list_name, [reason, customer_id, iso(now)]
                    ),
                )
            )
    return tasks


def membership_event(change: MembershipChange, bus: str) -> dict[str, Any]:
    # Ids only: downstream consumers look people up themselves; events never carry personal data.
    detail = {
        "segment_id": change.segment_id,
        "segment_version": change.segment_version,
        "customer_id": change.customer_id,
        "change": "entered" if change.entered else "exited",
        "at": iso(change.at),
    }
    return {"Source": EVENT_SOURCE, "DetailType": MEMBERSHIP_CHANGED, "Detail": json.dumps(detail), "EventBusName": bus}


class AwsPublisher:
    """SQS ``SendMessageBatch`` and EventBridge ``PutEvents``, ten entries per call (their limits)."""

    def __init__(self, queue_url: str, bus_name: str) -> None:
        self.queue_url = queue_url
        self.bus_name = bus_name

    def publish(self, changes: list[MembershipChange], segments: Mapping[str, SegmentDefinition], reason: str) -> None:
        now = datetime.now(UTC)
        tasks = build_tasks(changes, segments, reason, now)
        self.send_tasks(tasks)
        events = [membership_event(c, self.bus_name) for c in changes]
        for start in range(0, len(events), 10):
            out = client("events").put_events(Entries=events[start : start + 10])
            if out.get("FailedEntryCount"):
                raise RuntimeError(f"{out['FailedEntryCount']} membership events were not published")
        logger.info("membership changes published", extra={"tasks": len(tasks), "events": len(events)})

    def resync(
        self, customer_id: str, segment_ids: list[str], segments: Mapping[str, SegmentDefinition], reason: str
    ) -> None:
        tasks = resync_tasks(customer_id, segment_ids, segments, reason, datetime.now(UTC))
        self.send_tasks(tasks)
        if tasks:
            logger.info("destinations re-checked", extra={"customer_id": customer_id, "tasks": len(tasks)})

    def send_tasks(self, tasks: list[SyncTask]) -> None:
        """FIFO: the channel is the message group, the task id the deduplication id."""
        send_tasks(self.queue_url, tasks)


def send_tasks(queue_url: str, tasks: list[SyncTask]) -> None:
    for start in range(0, len(tasks), 10):
        chunk = tasks[start : start + 10]
        entries = [
            {
                "Id": str(i),
                "MessageBody": t.model_dump_json(),
                "MessageGroupId": t.group_id,
                "MessageDeduplicationId": t.task_id
                or task_id(t.segment_id, t.channel, t.list_name, [t.model_dump_json()]),
            }
            for i, t in enumerate(chunk)
        ]
        out = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        if out.get("Failed"):
            raise RuntimeError(f"{len(out['Failed'])} sync tasks were not enqueued")
