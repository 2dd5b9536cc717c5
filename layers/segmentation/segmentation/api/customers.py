"""Customers: profile upsert, facts (orders, refunds, engagement, tags, consent) and explanations."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from segmentation import clock
from segmentation.api.responses import ERROR
from segmentation.domain.models import (
    ConsentUpdate,
    CustomerUpsert,
    EngagementInput,
    EngagementRecorded,
    OrderCompleted,
    OrderInput,
    OrderRefunded,
    RefundInput,
    TagChange,
)
from segmentation.features.compute import build_view
from segmentation.segments.realtime import Outcome, explain_with_model
from segmentation.store.errors import NotFound
from segmentation.wiring import services

router = Router()


CustomerPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
SegmentPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "customer_id": outcome.customer_id,
        "duplicate": outcome.duplicate,
        "evaluated_segments": outcome.evaluated,
        "changes": [
            {"segment_id": c.segment_id, "change": "entered" if c.entered else "exited", "at": c.at.isoformat()}
            for c in outcome.changes
        ],
    }


@router.put("/customers/<customer_id>", responses={409: ERROR}, summary="Register a customer or update their profile")
def upsert_customer(customer_id: CustomerPath, body: Annotated[CustomerUpsert, Body()]) -> dict[str, Any]:
    return _outcome(services().engine.upsert_profile(customer_id, body, clock.now()))


@router.get(
    "/customers/<customer_id>",
    responses={404: ERROR},
    summary="Profile, features and scores as of now, RFM group history, and segments with why",
)
def get_customer(customer_id: CustomerPath) -> dict[str, Any]:
    svc = services()
    now = clock.now()
    loaded = svc.store.load_customer(customer_id)
    if not loaded.exists:
        raise NotFound(f"customer {customer_id} not found")
    model = svc.models.current()
    view = build_view(loaded.history, now, svc.settings.tz, model)
    active = svc.registry.active()
    segments = []
    for segment_id, record in sorted(loaded.memberships.items()):
        if not record.member:
            continue
        segment = active.get(segment_id)
        why = explain_with_model(segment.rule, view, now, svc.settings.tz, model) if segment else record.trace
        segments.append(
            {
                "segment_id": segment_id,
                "entered_at": record.entered_at.isoformat() if record.entered_at else None,
                "why": why,
            }
        )
    profile = loaded.history.profile
    return {
        "profile": profile.model_dump(mode="json", exclude={"rfm_history"}),
        "rfm_history": [move.model_dump(mode="json") for move in profile.rfm_history],
        "features": {k: _json(v) for k, v in sorted(view.attributes.items())},
        "orders": len(loaded.history.orders),
        "segments": segments,
        "evaluated_at": now.isoformat(),
        # When time alone can next change one of her segments (re-evaluated then by the boundary schedule).
        "next_boundary_at": loaded.next_boundary_at.isoformat() if loaded.next_boundary_at else None,
    }


@router.get(
    "/customers/<customer_id>/segments/<segment_id>/why",
    responses={404: ERROR},
    summary="Why a customer is (not) in a segment",
)
def explain_membership(customer_id: CustomerPath, segment_id: SegmentPath) -> dict[str, Any]:
    return services().segments.explain(customer_id, segment_id, clock.now())


@router.post("/customers/<customer_id>/orders", summary="Record a completed order")
def post_order(customer_id: CustomerPath, body: Annotated[OrderInput, Body()]) -> dict[str, Any]:
    order = OrderCompleted(customer_id=customer_id, **body.model_dump())
    return _outcome(services().engine.record_order(order, clock.now()))


@router.post("/customers/<customer_id>/refunds", summary="Record a refund of an order")
def post_refund(customer_id: CustomerPath, body: Annotated[RefundInput, Body()]) -> dict[str, Any]:
    refund = OrderRefunded(customer_id=customer_id, **body.model_dump())
    return _outcome(services().engine.record_refund(refund, clock.now()))


@router.post("/customers/<customer_id>/events", summary="Record an email open or click, or a site visit")
def post_engagement(customer_id: CustomerPath, body: Annotated[EngagementInput, Body()]) -> dict[str, Any]:
    event = EngagementRecorded(customer_id=customer_id, **body.model_dump())
    return _outcome(services().engine.record_engagement(event, clock.now()))


@router.post("/customers/<customer_id>/tags", responses={404: ERROR}, summary="Add or remove tags")
def post_tags(customer_id: CustomerPath, body: Annotated[TagChange, Body()]) -> dict[str, Any]:
    engine = services().engine
    return _outcome(engine.tag(customer_id, body.add, body.remove, clock.now(), at=body.occurred_at, must_exist=True))


@router.put("/customers/<customer_id>/consent", responses={404: ERROR}, summary="Set consent per channel")
def put_consent(customer_id: CustomerPath, body: Annotated[ConsentUpdate, Body()]) -> dict[str, Any]:
    now = clock.now()
    at = body.occurred_at or now
    outcome = services().engine.set_consent(customer_id, body.channels, body.source, at, now, must_exist=True)
    return _outcome(outcome)


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
