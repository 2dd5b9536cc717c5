"""Imports: ask for an upload URL (and a job id), then follow the job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from segmentation.api.responses import ERROR
from segmentation.imports import IMPORTS_PREFIX, ImportRequest, create_job, get_job
from segmentation.store.clients import client
from segmentation.wiring import services

router = Router()

UPLOAD_URL_SECONDS = 900
JobPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,80}$")]


@router.post("/imports", responses={201: {"description": "Job created; PUT the file to upload_url"}, 400: ERROR})
def create_import(body: Annotated[ImportRequest, Body()]):  # type: ignore[no-untyped-def]  # a Response: see segments
    settings = services().settings
    job_id = uuid.uuid4().hex
    key = f"{IMPORTS_PREFIX}{job_id}/{body.file_name}"
    s3 = client("s3")
    if body.manifest is not None:
        # Written before the upload can exist, so the import always finds its mapping.
        s3.put_object(
            Bucket=settings.import_bucket,
            Key=key + ".manifest.json",
            Body=body.manifest.model_dump_json(exclude_unset=True).encode(),
            ContentType="application/json",
        )
    # A wall-clock time, like the import's own start and finish (the domain clock can be pinned).
    create_job(settings.table_name, job_id, key, datetime.now(UTC))
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": settings.import_bucket, "Key": key}, ExpiresIn=UPLOAD_URL_SECONDS
    )
    payload = {"job_id": job_id, "upload_url": url, "upload_key": key, "expires_in": UPLOAD_URL_SECONDS}
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=payload)


@router.get("/imports/<job_id>", responses={404: ERROR}, summary="Status and counts of an import")
def read_import(job_id: JobPath) -> dict[str, Any]:
    settings = services().settings
    job = get_job(settings.table_name, job_id)
    out = job.model_dump(mode="json")
    if job.report_key:
        out["report_url"] = client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": settings.import_bucket, "Key": job.report_key}, ExpiresIn=UPLOAD_URL_SECONDS
        )
    return out
