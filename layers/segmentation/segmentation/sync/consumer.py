"""Consumes sync tasks from the queue: builds the channel's adapter, delivers, records status and metrics.

Per channel and container this keeps one adapter (its credentials come from Secrets Manager through
Powertools, cached for five minutes, so a rotated key is picked up without a redeploy) and one rate limiter
(restored from the channel's saved request log when the container first serves the channel).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from segmentation.observability import logger
from segmentation.settings import Settings
from segmentation.sync import adapters
from segmentation.sync.adapters.base import (
    ChannelAdapter,
    ChannelDisabled,
    ChannelSpec,
    DeliveryError,
    NotConfigured,
    Rate,
)
from segmentation.sync.delivery import DeliveryReport, deliver
from segmentation.sync.engine import DeliveryEngine
from segmentation.sync.metrics import emit
from segmentation.sync.ratelimit import Clock, PacedHttp, RateLimiter, SystemClock
from segmentation.sync.state import StatusUpdate, SyncState
from segmentation.sync.tasks import SyncTask

# Waiting longer than this inside one invocation is wasted Lambda time: the task goes back to the queue.
MAX_INLINE_WAIT = 20.0
_SAFETY_MS = 5_000


class RetryLater(Exception):
    """Some records are still retryable; the message returns to the queue after ``after`` seconds."""

    def __init__(self, message: str, after: float | None) -> None:
        super().__init__(message)
        self.after = after


ConfigLoader = Callable[[str], Mapping[str, Any]]


def secret_config(settings: Settings) -> ConfigLoader:
    """Channel configuration (credentials, account, list ids) from the secret ``<prefix><channel>`` (JSON)."""

    def load(channel: str) -> Mapping[str, Any]:
        from segmentation.store.clients import secrets

        if channel == "webhook":
            if not settings.webhook_url:
                raise ChannelDisabled("webhook URL is not configured (stack parameter WebhookUrl)")
            return {"url": settings.webhook_url, "secret": secrets().get(settings.webhook_secret_arn, max_age=300)}
        # Only this function has the variable, and settings may have been read by another function sharing the
        # process (the local runtime), so it is read here rather than trusted from the cached settings.
        prefix = os.environ.get("CHANNEL_SECRET_PREFIX") or settings.channel_secret_prefix
        if not prefix:
            raise ChannelDisabled("channel credentials are not configured (CHANNEL_SECRET_PREFIX is not set)")
        name = f"{prefix}{channel}"
        try:
            value = secrets().get(name, max_age=300, transform="json")
        except Exception as exc:  # Powertools wraps every failure in GetParameterError
            if "ResourceNotFound" in repr(exc.__cause__ or exc):
                raise ChannelDisabled(f"{channel} is not configured: no secret {name}") from exc
            raise NotConfigured(f"no credentials for {channel}: secret {name} is unreadable") from exc
        if not isinstance(value, dict):
            raise NotConfigured(f"secret {name} must hold a JSON object")
        return value

    return load


@dataclass
class ChannelRuntime:
    """What one container keeps per channel between invocations."""

    adapter: ChannelAdapter
    limiter: RateLimiter
    config_digest: str


_RUNTIMES: dict[str, ChannelRuntime] = {}
_SYSTEM_CLOCK = SystemClock()


def runtime(channel: str, config: ConfigLoader, state: SyncState, clock: Clock) -> ChannelRuntime:
    from segmentation.sync.http import JsonHttp

    module = adapters.load(channel)
    values = config(channel)
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
    current = _RUNTIMES.get(channel)
    if current is not None and current.config_digest == digest and current.limiter.clock is clock:
        return current
    limiter = RateLimiter(_rates(module.SPEC, values), clock)
    if current is not None and current.limiter.clock is clock:
        limiter.restore(current.limiter.snapshot())  # new credentials, same account: same budget
    elif limiter.rates:
        limiter.restore(state.load_limiter(channel))
    adapter: ChannelAdapter = module.create(values, PacedHttp(JsonHttp(), limiter))
    _RUNTIMES[channel] = ChannelRuntime(adapter, limiter, digest)
    return _RUNTIMES[channel]


def _rates(spec: ChannelSpec, config: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's documented rates; an account on a higher tier can override them in its secret."""
    rates = dict(spec.rates)
    for bucket, windows in (config.get("rates") or {}).items():
        rates[bucket] = tuple(Rate(int(w["requests"]), float(w["per_seconds"])) for w in windows)
    return rates


def reset() -> None:
    _RUNTIMES.clear()


def handle_task(
    task: SyncTask,
    state: SyncState,
    config: ConfigLoader,
    *,
    clock: Clock | None = None,
    remaining_ms: int | None = None,
    enqueue: Callable[[list[SyncTask]], None] | None = None,
) -> DeliveryReport | None:
    """Deliver (or reconcile) one task. Raises :class:`RetryLater` when records are still retryable and
    re-raises configuration errors, so the message is retried and, in the end, dead-lettered."""
    clock = clock or _SYSTEM_CLOCK
    try:
        adapters.load(task.channel)
    except adapters.UnknownChannel as exc:
        # Destinations are validated when saved, so this is a channel removed since: retrying cannot help.
        state.record_status(task.segment_id, task.channel, StatusUpdate(failures=1, error=str(exc)))
        logger.error("sync task for unknown channel", extra={"channel": task.channel, "segment_id": task.segment_id})
        return None
    budget = MAX_INLINE_WAIT if remaining_ms is None else min(MAX_INLINE_WAIT, (remaining_ms - _SAFETY_MS) / 1000)
    try:
        rt = runtime(task.channel, config, state, clock)
        engine = DeliveryEngine(rt.adapter, rt.limiter, clock, deadline=clock.time() + max(0.0, budget))
        if task.kind == "reconcile":
            from segmentation.sync.reconcile import reconcile

            drift, repairs = reconcile(task, state, rt.adapter, rt.limiter)
            if repairs and enqueue is not None:
                enqueue(repairs)
            state.record_status(task.segment_id, task.channel, StatusUpdate(success=True, drift=drift))
            emit(task.channel, {"DriftRepairsQueued": sum(len(t.customer_ids) for t in repairs)})
            logger.info(
                "destination reconciled", extra={"channel": task.channel, "segment_id": task.segment_id, **drift}
            )
            return None
        started = time.perf_counter()
        report = deliver(task, state, rt.adapter, engine)
    except ChannelDisabled as exc:
        state.record_status(task.segment_id, task.channel, StatusUpdate(failures=1, error=str(exc)))
        logger.warning("sync task for a channel that is not configured", extra={"channel": task.channel})
        return None
    except DeliveryError as exc:
        state.record_status(task.segment_id, task.channel, StatusUpdate(failures=1, error=str(exc)))
        emit(task.channel, {"SyncRunFailed": 1})
        logger.warning("sync task failed", extra={"channel": task.channel, "error": str(exc)})
        raise
    finally:
        current = _RUNTIMES.get(task.channel)
        if current is not None and current.limiter.rates:
            state.save_limiter(task.channel, current.limiter.snapshot())
    state.record_status(
        task.segment_id,
        task.channel,
        StatusUpdate(
            added=len(report.added),
            removed=len(report.removed),
            skipped=len(report.skipped),
            failures=len(report.terminal),
            error=report.first_error,
            success=not report.retrying,
        ),
    )
    emit(
        task.channel,
        {
            "SyncAdded": len(report.added),
            "SyncRemoved": len(report.removed),
            "SyncSkippedNoConsent": len(report.skipped),
            "SyncRejected": len(report.terminal),
            "SyncRetrying": len(report.retrying),
            "SyncRequests": engine.stats.requests,
            "SyncThrottled": engine.stats.throttled,
        },
        {"SyncRateLimitWait": engine.stats.waited, "SyncTaskDuration": time.perf_counter() - started},
    )
    logger.info(
        "sync task delivered",
        extra={
            "segment_id": task.segment_id,
            "channel": task.channel,
            "added": len(report.added),
            "removed": len(report.removed),
            "skipped": len(report.skipped),
            "terminal": len(report.terminal),
            "retrying": len(report.retrying),
            "requests": engine.stats.requests,
        },
    )
    if report.retrying:
        raise RetryLater(f"{len(report.retrying)} records still retryable", report.retry_after)
    return report


def consume(body: str, receipt_handle: str, remaining_ms: int | None) -> None:
    """One SQS record of the sync queue, as the Lambda handler receives it."""
    from segmentation.store.sync_state import DynamoSyncState
    from segmentation.sync.publisher import send_tasks
    from segmentation.wiring import services

    settings = services().settings
    task = SyncTask.model_validate_json(body)
    state = DynamoSyncState(settings.table_name)
    try:
        handle_task(
            task,
            state,
            secret_config(settings),
            remaining_ms=remaining_ms,
            enqueue=lambda tasks: send_tasks(settings.sync_queue_url, tasks),
        )
    except RetryLater as exc:
        # Honour the platform's wait beyond this invocation: the message (and, FIFO, its channel's group)
        # stays invisible until then instead of coming back at the queue's default timeout.
        if exc.after and settings.sync_queue_url:
            from segmentation.store.clients import client

            client("sqs").change_message_visibility(
                QueueUrl=settings.sync_queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=min(43_200, max(1, int(exc.after + 0.999))),
            )
        raise
