"""Shop events from EventBridge: validate the envelope and detail, then hand the fact to the engine.

A queue batch is grouped by customer: one load, one evaluation and one commit per customer, however many of
her events arrived together. A malformed event can never succeed, so retrying it only delays the queue: it
goes straight to the dead-letter queue with its reason as a message attribute. Anything else that fails
(throttling, a lost race after several retries) is reported as a batch item failure, so SQS redelivers it
and, after ``maxReceiveCount``, dead-letters it too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from segmentation import clock
from segmentation.domain.models import (
    ConsentUpdate,
    CustomerTagged,
    CustomerUpsert,
    EngagementRecorded,
    OrderCompleted,
    OrderRefunded,
)
from segmentation.domain.types import CustomerId, Model
from segmentation.observability import logger, metrics
from segmentation.segments.realtime import ConsentFact, MembershipEngine
from segmentation.store.clients import client


class ShopEvent(Model):
    """The EventBridge envelope (fields we use)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = ""
    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime | None = None
    detail: dict[str, Any]


class ProfileDetail(CustomerUpsert):
    customer_id: CustomerId


class ConsentDetail(ConsentUpdate):
    customer_id: CustomerId


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidEvent(Exception):
    """The event can never be processed as sent."""


def _validation_reason(exc: ValidationError) -> str:
    # Field locations and messages only: pydantic's default text would echo the input, which may be personal data.
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'detail'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


def to_fact(event: ShopEvent) -> tuple[str, object]:
    """The customer an event is about, and the fact it states; InvalidEvent if it states nothing valid."""
    detail = event.detail
    try:
        match event.detail_type:
            case "CustomerRegistered" | "CustomerUpdated":
                profile = ProfileDetail.model_validate(detail)
                change = CustomerUpsert.model_validate(profile.model_dump(exclude={"customer_id"}, exclude_unset=True))
                if change.occurred_at is None:
                    # Without its own timestamp, a change is as old as the event that carried it.
                    change.occurred_at = change.registered_at or event.time
                return profile.customer_id, change
            case "OrderCompleted":
                order = OrderCompleted.model_validate(detail)
                return order.customer_id, order
            case "OrderRefunded":
                refund = OrderRefunded.model_validate(detail)
                return refund.customer_id, refund
            case "EngagementRecorded":
                engagement = EngagementRecorded.model_validate(detail)
                return engagement.customer_id, engagement
            case "CustomerTagged":
                tagged = CustomerTagged.model_validate(detail)
                if tagged.occurred_at is None:
                    tagged.occurred_at = event.time
                return tagged.customer_id, tagged
            case "ConsentChanged":
                consent = ConsentDetail.model_validate(detail)
                at = consent.occurred_at or event.time or clock.now()
                return consent.customer_id, ConsentFact(consent.channels, consent.source, at)
            case other:
                raise InvalidEvent(f"unsupported detail-type {other!r}")
    except ValidationError as exc:
        raise InvalidEvent(_validation_reason(exc)) from exc


def parse_message(body: str) -> tuple[ShopEvent, str, object]:
    try:
        event = ShopEvent.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidEvent(_validation_reason(exc)) from exc
    customer_id, fact = to_fact(event)
    return event, customer_id, fact


def process_batch(messages: list[tuple[str, str]], engine: MembershipEngine, dead_letter_url: str) -> list[str]:
    """Process a queue batch of ``(message_id, body)``; return the ids that should be retried.

    Events are grouped by customer so that each customer is loaded, evaluated and committed once per batch
    (facts of one customer in event-time order). Invalid events are dead-lettered and count as handled; a
    customer whose processing fails has all of that customer's messages retried.
    """
    groups: dict[str, list[tuple[datetime, str, object]]] = defaultdict(list)
    for message_id, body in messages:
        try:
            event, customer_id, fact = parse_message(body)
        except InvalidEvent as exc:
            dead_letter(body, str(exc), dead_letter_url)
            continue
        groups[customer_id].append((event.time or _EPOCH, message_id, fact))
    now = clock.now()
    failed: list[str] = []
    changes = 0
    for customer_id, entries in groups.items():
        entries.sort(key=lambda entry: entry[0])
        try:
            outcome = engine.record_facts(customer_id, [fact for _, _, fact in entries], now)
        except Exception:
            logger.exception("customer events failed, will retry", extra={"customer_id": customer_id})
            failed.extend(message_id for _, message_id, _ in entries)
            continue
        changes += len(outcome.changes)
    metrics.add_metric(name="MembershipChanges", unit="Count", value=changes)
    return failed


def dead_letter(body: str, reason: str, queue_url: str) -> None:
    logger.warning("invalid shop event dead-lettered", extra={"reason": reason})
    metrics.add_metric(name="InvalidEvents", unit="Count", value=1)
    client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000] or "invalid"}},
    )
