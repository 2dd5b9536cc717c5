"""Consumes sync tasks from the queue and delivers them through the channel's adapter."""

from __future__ import annotations

from collections.abc import Callable

from segmentation.observability import logger, metrics
from segmentation.settings import Settings
from segmentation.store.dynamo import DynamoStore
from segmentation.sync.adapters.base import ChannelAdapter, DeliveryResult
from segmentation.sync.delivery import deliver, record_sync_state
from segmentation.sync.tasks import SyncTask

AdapterFactory = Callable[[Settings], ChannelAdapter]


class ChannelNotConfigured(Exception):
    """The channel has no endpoint or credentials in this deployment: retrying cannot help."""


def _webhook(settings: Settings) -> ChannelAdapter:
    from segmentation.store.clients import secrets
    from segmentation.sync.adapters.webhook import WebhookAdapter

    if not settings.webhook_url:
        raise ChannelNotConfigured("webhook URL is not configured (stack parameter WebhookUrl)")
    # Cached by Powertools for five minutes: a rotated secret is picked up without a redeploy.
    secret = secrets().get(settings.webhook_secret_arn, max_age=300)
    return WebhookAdapter(settings.webhook_url, str(secret))


ADAPTERS: dict[str, AdapterFactory] = {"webhook": _webhook}


def handle_task(body: str, store: DynamoStore, settings: Settings) -> DeliveryResult | None:
    task = SyncTask.model_validate_json(body)
    factory = ADAPTERS.get(task.channel)
    if factory is None:
        # Destinations are validated when a segment is saved, so this is a channel removed since: say so once.
        record_sync_state(store, task, None, error=f"no adapter for channel {task.channel}")
        logger.error("sync task for unknown channel", extra={"channel": task.channel, "segment_id": task.segment_id})
        return None
    try:
        adapter = factory(settings)
    except ChannelNotConfigured as exc:
        record_sync_state(store, task, None, error=str(exc))
        logger.warning("sync task for unconfigured channel", extra={"channel": task.channel})
        return None
    result = deliver(task, store, adapter)
    metrics.add_metric(name="SyncDelivered", unit="Count", value=len(result.delivered))
    metrics.add_metric(name="SyncRejected", unit="Count", value=len(result.terminal))
    return result
