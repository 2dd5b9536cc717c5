"""Import jobs: the mapping manifest and the job status item, shared by the API and the import function.

The parsing, normalisation and merging live with the import function (``functions/imports/importer``);
the layer only knows what the API needs: how to describe a job and where its status is.

Job item: ``PK = IMP#<job id>``, ``SK = #J``. Counters are native numbers updated with ``ADD``; the set of
finished chunks (``done_chunks``) is the guard that makes each chunk's counts land exactly once.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from segmentation.domain.types import iso
from segmentation.store.clients import client
from segmentation.store.errors import NotFound

IMPORTS_PREFIX = "imports/"
REPORTS_PREFIX = "reports/"
JOB_SK = "#J"
COUNTERS = ("read", "created", "merged", "duplicates", "rejected", "suppressed")
JobState = Literal["awaiting_upload", "running", "completed", "failed"]

Kind = Literal["contacts", "orders", "events", "consent", "suppression"]
CHANNELS = ("email", "sms", "push", "ads")
TARGETS = frozenset(
    {
        "email",
        "external_id",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "phone_fallback",
        "birth_date",
        "gender",
        "country",
        "region",
        "city",
        "postal_code",
        "tags",
        "preferred_scents",
        "preferred_categories",
        "registered_at",
        "occurred_at",
        "consent_at",
        "reason",
        "status",
        *(f"consent.{c}" for c in CHANNELS),
        "order.id",
        "order.placed_at",
        "order.total",
        "order.currency",
        "order.cancelled_at",
        "line.sku",
        "line.name",
        "line.quantity",
        "line.unit_price",
        "line.category",
        "line.scent",
        "event.id",
        "event.kind",
        "event.occurred_at",
        "event.campaign",
        "event.url",
        "ignore",
    }
)
_CUSTOM_KEY = re.compile(r"[^a-z0-9_]+")


class Manifest(BaseModel):
    """The sidecar mapping manifest (every field optional; a preset or the header fills the rest)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind | None = None
    preset: str | None = None
    columns: dict[str, str] = Field(default_factory=dict, description="header -> target (or custom.<key>)")
    custom_columns: bool | list[str] = Field(
        default=False, description="unknown columns go to custom.<header> (all of them, or those listed)"
    )
    consent_source: bool | None = None
    source_name: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,32}$")
    default_country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    time_zone: str | None = None
    day_first: bool = True
    date_format: str | None = Field(default=None, max_length=64)
    decimal_comma: bool = False
    exported_at: datetime | None = None
    status: Literal["subscribed", "unsubscribed", "cleaned", "nonsubscribed"] | None = None
    channel: Literal["email", "sms", "push", "ads"] = "email"
    suppression_reason: str = Field(default="manual", pattern=r"^[a-z_]{1,32}$")
    encoding: Literal["utf-8", "utf-16", "latin-1"] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    format: Literal["csv", "jsonl"] | None = None
    compression: Literal["none", "gzip"] | None = None

    @field_validator("columns")
    @classmethod
    def _known_targets(cls, columns: dict[str, str]) -> dict[str, str]:
        for header, target in columns.items():
            if target not in TARGETS and not (target.startswith("custom.") and _CUSTOM_KEY.sub("", target[7:])):
                raise ValueError(f"column {header!r}: unknown target {target!r}")
        return columns

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("time_zone must be an IANA zone such as Europe/London") from None
        return value

    def declared_layout(self) -> dict[str, Any]:
        return {k: v for k in ("encoding", "delimiter", "format", "compression") if (v := getattr(self, k))}


class ImportRequest(BaseModel):
    """``POST /imports``: the file about to be uploaded, and optionally its mapping."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    file_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$", examples=["customers_export.csv"])
    manifest: Manifest | None = None


class ImportJob(BaseModel):
    """What ``GET /imports/{id}`` returns."""

    job_id: str
    state: JobState
    upload_key: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    chunks_total: int = 0
    chunks_done: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    preset: str | None = None
    kind: str | None = None
    report_key: str | None = None
    error: str | None = None


def job_key(job_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"IMP#{job_id}"}, "SK": {"S": JOB_SK}}


def safe_job_id(job_id: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", job_id))


def create_job(table: str, job_id: str, upload_key: str, now: datetime) -> None:
    client("dynamodb").put_item(
        TableName=table,
        Item={
            **job_key(job_id),
            "state": {"S": "awaiting_upload"},
            "upload_key": {"S": upload_key},
            "created_at": {"S": iso(now)},
        },
        ConditionExpression="attribute_not_exists(PK)",
    )


def get_job(table: str, job_id: str) -> ImportJob:
    if not safe_job_id(job_id):
        raise NotFound(f"import {job_id} not found")
    item = client("dynamodb").get_item(TableName=table, Key=job_key(job_id), ConsistentRead=True).get("Item")
    if not item:
        raise NotFound(f"import {job_id} not found")
    return job_from_item(job_id, item)


def job_from_item(job_id: str, item: dict[str, Any]) -> ImportJob:
    def s(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def n(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    plan = json.loads(item["plan"]["S"]) if "plan" in item else {}
    duration = item.get("duration_ms")
    return ImportJob(
        job_id=job_id,
        state=s("state") or "running",  # type: ignore[arg-type]
        upload_key=s("upload_key") or s("source_key"),
        counts={name: n(name) for name in COUNTERS},
        chunks_total=n("chunks_total"),
        chunks_done=n("chunks_done"),
        created_at=_time(s("created_at")),
        started_at=_time(s("started_at")),
        finished_at=_time(s("finished_at")),
        duration_seconds=int(duration["N"]) / 1000 if duration else None,
        preset=(plan.get("mapping") or {}).get("preset"),
        kind=(plan.get("mapping") or {}).get("kind"),
        report_key=s("report_key"),
        error=s("error"),
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) if value else None


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
