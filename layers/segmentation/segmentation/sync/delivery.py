"""Level-triggered delivery of one sync task, behind the consent gate.

The task only names customers. Whether each is added or removed is decided here, from the membership and
consent stored *now*: a contact is added only while a member and subscribed for the destination's purpose.
Opt-out wins over everything, including a stale task that was queued before the opt-out.
"""

from __future__ import annotations

from segmentation.domain.models import ConsentStatus, CustomerProfile
from segmentation.observability import logger
from segmentation.store.dynamo import DynamoStore, load_delivery_views
from segmentation.sync.adapters.base import ChannelAdapter, Contact, DeliveryResult
from segmentation.sync.tasks import SyncTask


def consented(profile: CustomerProfile | None, task: SyncTask) -> bool:
    if profile is None:
        return False
    if task.purpose is None:
        return True
    state = profile.consent.get(task.purpose)
    return state is not None and state.status == ConsentStatus.SUBSCRIBED


def plan(task: SyncTask, store: DynamoStore) -> tuple[list[Contact], list[Contact]]:
    """Who the destination should hold and who it should not, for the task's customers, as of now."""
    views = load_delivery_views(store, task.segment_id, task.customer_ids)
    add: list[Contact] = []
    remove: list[Contact] = []
    for cid in task.customer_ids:
        view = views[cid]
        profile = view.profile
        contact = Contact(cid, profile.email if profile else None, profile.phone if profile else None)
        (add if view.member and consented(profile, task) else remove).append(contact)
    return add, remove


def deliver(task: SyncTask, store: DynamoStore, adapter: ChannelAdapter) -> DeliveryResult:
    add, remove = plan(task, store)
    try:
        result = adapter.sync(task.segment_id, task.list_name, add, remove)
    except Exception as exc:
        record_sync_state(store, task, None, error=str(exc)[:500])
        raise
    record_sync_state(store, task, result)
    logger.info(
        "sync task delivered",
        extra={
            "segment_id": task.segment_id,
            "channel": task.channel,
            "added": len(add),
            "removed": len(remove),
            "terminal": len(result.terminal),
        },
    )
    return result


def record_sync_state(
    store: DynamoStore, task: SyncTask, result: DeliveryResult | None, error: str | None = None
) -> None:
    """Per (segment, channel) status for ``GET /segments/{id}/sync``: last success, failures, last error."""
    if result is None:
        store.record_sync(task.segment_id, task.channel, delivered=0, failures=1, error=error)
    else:
        first_error = next(iter(result.terminal.values()), None)
        store.record_sync(
            task.segment_id,
            task.channel,
            delivered=len(result.delivered),
            failures=len(result.terminal),
            error=first_error,
            success=True,
        )
