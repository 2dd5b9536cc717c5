"""Segments: define, version, archive, preview, members, sync status."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import ConfigDict, Field

from segmentation import clock
from segmentation.api.refresh import run_view
from segmentation.api.responses import CREATED, ERROR
from segmentation.domain.types import Model
from segmentation.refresh.models import RefreshRun
from segmentation.segments.models import Destination, RefreshCadence, SegmentDefinition, SegmentInput
from segmentation.wiring import services

router = Router()


SegmentPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class PreviewRequest(Model):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any]
    sample_size: int = Field(default=10, ge=0, le=100)


class FromTemplate(Model):
    model_config = ConfigDict(extra="forbid")

    segment_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    destinations: list[Destination] = Field(default_factory=list, max_length=20)
    refresh: RefreshCadence | None = None


def _saved(
    definition: SegmentDefinition, run: RefreshRun, status: int
):  # returns Response: unannotated, Powertools cannot build a schema for it
    # Membership is computed by the refresh run the save started (fanned out to the refresh workers).
    body = {"segment": definition.model_dump(mode="json"), "refresh": run_view(run)}
    headers = {"Location": f"/segments/{definition.segment_id}/refreshes/{run.run_id}"}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


@router.get("/segments", summary="List segments")
def list_segments(include_archived: Annotated[bool, Query()] = False) -> dict[str, Any]:
    segments = services().segments.definitions(include_archived)
    return {"segments": [s.model_dump(mode="json") for s in segments]}


@router.post("/segments", responses=CREATED, summary="Create a segment; a refresh run computes its membership")
def create_segment(
    body: Annotated[SegmentInput, Body()],
):  # returns Response: unannotated, Powertools cannot build a schema for it
    definition, result = services().segments.create(body, clock.now())
    return _saved(definition, result, 201)


@router.post(
    "/segments/preview", responses={400: ERROR}, summary="Size, sample and validation of a rule that is not saved"
)
def preview_segment(body: Annotated[PreviewRequest, Body()]) -> dict[str, Any]:
    now = clock.now()
    preview = services().segments.preview(body.rule, now, body.sample_size)
    return {
        "valid": True,
        "size": preview.size,
        "total": preview.total,
        "sample": preview.sample,
        "evaluated_at": now.isoformat(),
    }


@router.post(
    "/segment-templates/<template_id>/segments",
    responses={**CREATED, 404: ERROR},
    summary="Create a segment from a built-in template",
)
def create_from_template(
    template_id: SegmentPath, body: Annotated[FromTemplate | None, Body()] = None
):  # returns Response: unannotated, Powertools cannot build a schema for it
    overrides = body.model_dump(exclude_none=True) if body else {}
    definition, result = services().segments.create_from_template(template_id, clock.now(), overrides)
    return _saved(definition, result, 201)


@router.get("/segments/<segment_id>", responses={404: ERROR}, summary="Get a segment with its current size")
def get_segment(segment_id: SegmentPath) -> dict[str, Any]:
    svc = services()
    definition = svc.segments.get(segment_id)
    return {**definition.model_dump(mode="json"), "member_count": svc.store.count_members(segment_id)}


@router.put(
    "/segments/<segment_id>",
    responses={400: ERROR, 404: ERROR, 409: ERROR},
    summary="Update a segment: a new version; a refresh run recomputes its membership",
)
def update_segment(
    segment_id: SegmentPath, body: Annotated[SegmentInput, Body()]
):  # returns Response: unannotated, Powertools cannot build a schema for it
    definition, result = services().segments.update(segment_id, body, clock.now())
    return _saved(definition, result, 200)


@router.delete(
    "/segments/<segment_id>",
    responses={400: ERROR, 404: ERROR, 409: ERROR},
    summary="Archive a segment (members exit; history is kept)",
)
def archive_segment(segment_id: SegmentPath):  # returns Response: unannotated, Powertools cannot build a schema for it
    definition, result = services().segments.archive(segment_id, clock.now())
    return _saved(definition, result, 200)


@router.get("/segments/<segment_id>/versions", summary="Every version of a segment's definition")
def segment_versions(segment_id: SegmentPath) -> dict[str, Any]:
    versions = services().store.segment_versions(segment_id)
    return {"versions": [v.model_dump(mode="json") for v in versions]}


@router.get(
    "/segments/<segment_id>/members", responses={400: ERROR, 404: ERROR}, summary="A page of a segment's members"
)
def segment_members(
    segment_id: SegmentPath,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    ids, next_cursor = services().segments.members(segment_id, limit, cursor)
    return {"segment_id": segment_id, "members": ids, "next_cursor": next_cursor}


@router.get("/segments/<segment_id>/sync", responses={404: ERROR}, summary="Per-channel sync status of a segment")
def segment_sync(segment_id: SegmentPath) -> dict[str, Any]:
    from segmentation.store.sync_state import DynamoSyncState

    svc = services()
    svc.segments.get(segment_id)
    return {"segment_id": segment_id, "channels": DynamoSyncState(svc.settings.table_name).status(segment_id)}
