"""Freshness: refresh runs on demand and their progress, impact previews, bulk tagging and tag-triggered refreshes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import ConfigDict, Field, model_validator

from segmentation import clock
from segmentation.api.responses import ERROR
from segmentation.domain.types import CustomerId, Email, Instant, Model
from segmentation.refresh.models import RefreshRun, RunKind
from segmentation.store.errors import NotFound
from segmentation.wiring import services

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

router = Router()

SegmentPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
RunPath = Annotated[str, Path(pattern=r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")]
TagPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
MAX_BULK = 100  # customers per bulk tagging call: each is one real-time reconciliation, well inside the API timeout

ACCEPTED: dict[int, OpenAPIResponse] = {
    202: {"description": "Accepted: a refresh run was started; follow it at its location"},
    404: ERROR,
}


class ImpactRequest(Model):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any] = Field(description="The edited rule, not saved.")


class TagCustomers(Model):
    """Customers to tag (or untag), by id or by email (resolved through the email index)."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[CustomerId] = Field(default_factory=list, max_length=MAX_BULK)
    emails: list[Email] = Field(default_factory=list, max_length=MAX_BULK)
    remove: bool = Field(default=False, description="Remove the tag instead of adding it.")
    occurred_at: Instant | None = Field(default=None, description="When the change happened at the source.")

    @model_validator(mode="after")
    def _some_customers(self) -> TagCustomers:
        total = len(self.customer_ids) + len(self.emails)
        if total == 0:
            raise ValueError("give customer_ids or emails")
        if total > MAX_BULK:
            raise ValueError(f"at most {MAX_BULK} customers per call")
        return self


def run_view(run: RefreshRun, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A run as the API shows it: progress, counts per segment, and for an impact preview its sample."""
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "trigger": run.trigger,
        "segment_ids": run.segment_ids,
        "state": run.state.value,
        "shards": {"done": run.shards_done, "total": run.shards_total, "failed": run.failed_shards},
        "evaluated": run.evaluated,
        "entered": run.entered,
        "left": run.left,
        "segments": {sid: counts.model_dump() for sid, counts in run.segments.items()},
        "features": run.features,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if run.kind is RunKind.IMPACT:
        known = names or {}
        body["impact"] = {
            "rule": run.rule,
            "would_enter": run.entered,
            "would_leave": run.left,
            "sample_enter": [{"customer_id": c, "name": known.get(c, "")} for c in run.sample_enter],
            "sample_leave": [{"customer_id": c, "name": known.get(c, "")} for c in run.sample_leave],
        }
    return body


def _accepted(run: RefreshRun, segment_id: str | None = None):  # returns Response: unannotated for Powertools
    headers = {"Location": f"/segments/{segment_id or run.segment_ids[0]}/refreshes/{run.run_id}"}
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=run_view(run), headers=headers)


@router.post(
    "/segments/<segment_id>/refresh",
    responses=ACCEPTED,
    summary="Start a full refresh of a segment (and of the segments that reference it)",
)
def refresh_segment(segment_id: SegmentPath):  # returns Response: unannotated, Powertools cannot build a schema
    return _accepted(services().segments.refresh(segment_id, clock.now()), segment_id)


@router.get(
    "/segments/<segment_id>/refreshes/<run_id>",
    responses={404: ERROR},
    summary="Progress and counts of a refresh run or an impact preview",
)
def get_refresh(segment_id: SegmentPath, run_id: RunPath) -> dict[str, Any]:
    svc = services()
    run = svc.segments.run(segment_id, run_id)
    names = svc.store.profile_names(run.sample_enter + run.sample_leave) if run.kind is RunKind.IMPACT else None
    return run_view(run, names)


@router.post(
    "/segments/<segment_id>/impact",
    responses={**ACCEPTED, 400: ERROR},
    summary="Preview an edited rule: who would enter and who would leave, before saving it",
)
def segment_impact(
    segment_id: SegmentPath, body: Annotated[ImpactRequest, Body()]
):  # returns Response: unannotated, Powertools cannot build a schema
    return _accepted(services().segments.impact(segment_id, body.rule, clock.now()), segment_id)


@router.post("/tags/<tag>/customers", responses={404: ERROR}, summary="Tag (or untag) many customers by id or email")
def tag_customers(tag: TagPath, body: Annotated[TagCustomers, Body()]) -> dict[str, Any]:
    svc = services()
    now = clock.now()
    name = tag.strip().lower()
    wanted = list(dict.fromkeys(body.customer_ids))
    missing_emails: list[str] = []
    for email in dict.fromkeys(body.emails):
        customer_id = svc.store.find_by_email(email)
        if customer_id is None:
            missing_emails.append(email)
        elif customer_id not in wanted:
            wanted.append(customer_id)
    tagged: list[dict[str, Any]] = []
    missing_ids: list[str] = []
    add, remove = ([], [name]) if body.remove else ([name], [])
    for customer_id in wanted:
        try:
            outcome = svc.engine.tag(customer_id, add, remove, now, at=body.occurred_at, must_exist=True)
        except NotFound:
            missing_ids.append(customer_id)
            continue
        changes = [
            {"segment_id": c.segment_id, "change": "entered" if c.entered else "exited"} for c in outcome.changes
        ]
        tagged.append({"customer_id": customer_id, "changes": changes})
    return {
        "tag": name,
        "action": "removed" if body.remove else "added",
        "customers": tagged,
        "not_found": {"customer_ids": missing_ids, "emails": missing_emails},
    }


@router.post(
    "/tags/<tag>/refresh",
    responses={**ACCEPTED, 200: {"description": "No active segment uses the tag; nothing to refresh"}},
    summary="Refresh every segment whose rule uses a tag",
)
def refresh_tag(tag: TagPath):  # returns Response: unannotated, Powertools cannot build a schema for it
    run = services().refresher.for_tag(tag.strip().lower(), clock.now())
    if run is None:
        body: dict[str, Any] = {"tag": tag.strip().lower(), "segment_ids": [], "run_id": None}
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)
    return _accepted(run)
