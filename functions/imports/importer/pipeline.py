"""An import job from upload to report: bind the upload to a job, plan chunks, process each, finish.

- ``on_upload``: an S3 notification for ``imports/...``. The job is keyed on bucket + key + ETag, so the same
  event twice, or the same content uploaded again, finds the same job and does nothing new. The planner reads
  the head (layout, manifest, header); a file larger than one chunk is read once more, record by record, to
  cut it into chunks at record boundaries, which go to the chunk queue and run in parallel.
- ``process_chunk``: reads its byte range, normalises rows in batches of ``BATCH_ROWS`` (constant memory),
  merges each batch, writes its rejects as a report part, and records its counts on the job with one
  conditional update: a chunk processed twice counts once.
- the last chunk to finish joins the report parts into ``reports/<job>/rejects.csv`` and closes the job.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError
from pydantic import ValidationError

from importer import report
from importer.mapping import Mapping, Reject, Row, RowReader, resolve
from importer.merge import Counts, Merger
from importer.text import HEAD_BYTES, FormatError, Layout, canonical, detect, read_records, skip
from segmentation.domain.types import iso
from segmentation.imports import (
    COUNTERS,
    IMPORTS_PREFIX,
    REPORTS_PREFIX,
    Manifest,
    conditional_failed,
    job_key,
)
from segmentation.observability import logger, metrics
from segmentation.store.clients import client

BATCH_ROWS = 500
REPORT_RETENTION = timedelta(days=90)  # the bucket's lifecycle rule for reports/
MANIFEST_SUFFIX = ".manifest.json"
_JOB_IN_KEY = re.compile(r"^imports/([A-Za-z0-9_-]{8,64})/")


def chunk_bytes() -> int:
    """Size of a chunk of the (decoded) file; one chunk is processed inline by the S3 invocation."""
    return int(os.environ.get("IMPORT_CHUNK_BYTES", str(8 << 20)))


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None = None

    @staticmethod
    def from_s3_record(record: dict[str, Any]) -> Upload:
        s3 = record["s3"]
        obj = s3["object"]
        return Upload(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),  # keys arrive URL-encoded in S3 notifications
            etag=str(obj.get("eTag", "")).strip('"'),
            size=int(obj.get("size", 0)),
            version_id=obj.get("versionId"),
        )


@dataclass
class Plan:
    layout: Layout
    mapping: Mapping
    chunks: list[tuple[int, int, int]]  # canonical start, end, first row number
    source: Upload

    def to_json(self) -> str:
        return json.dumps(
            {
                "layout": self.layout.__dict__,
                "mapping": self.mapping.to_plan(),
                "chunks": self.chunks,
                "source": self.source.__dict__,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str) -> Plan:
        data = json.loads(text)
        return Plan(
            layout=Layout(**data["layout"]),
            mapping=Mapping.from_plan(data["mapping"]),
            chunks=[tuple(c) for c in data["chunks"]],  # type: ignore[misc]
            source=Upload(**data["source"]),
        )


@dataclass
class Importer:
    table: str
    queue_url: str
    merger: Merger
    shop_tz: ZoneInfo
    clock: Any = field(default=lambda: datetime.now(UTC))
    # Job times are wall-clock times (how long the import took), even where the domain clock is pinned.
    wall: Any = field(default=lambda: datetime.now(UTC))

    # ------------------------------------------------------------ upload -> job

    def on_upload(self, upload: Upload) -> str | None:
        if not upload.key.startswith(IMPORTS_PREFIX) or upload.key.endswith(MANIFEST_SUFFIX):
            return None
        job_id, item = self._bind(upload)
        state = item.get("state", {}).get("S")
        if state in ("completed", "failed"):
            logger.info("import already finished, event ignored", extra={"job_id": job_id})
            return job_id
        if "plan" in item:
            plan = Plan.from_json(item["plan"]["S"])
        else:
            try:
                plan = self._plan(job_id, upload)
            except FormatError as exc:
                self._fail(job_id, str(exc))
                return job_id
            plan = self._save_plan(job_id, plan)
        if len(plan.chunks) == 1:
            self.process_chunk(job_id, 0)
        else:
            self._enqueue(job_id, plan)
        return job_id

    def _bind(self, upload: Upload) -> tuple[str, dict[str, Any]]:
        """The job for this upload, created or found. Keyed on bucket, key and ETag (the content)."""
        now = self.wall()
        match = _JOB_IN_KEY.match(upload.key)
        digest = hashlib.sha256(f"{upload.bucket}/{upload.key}/{upload.etag}".encode()).hexdigest()
        candidates = [match.group(1)] if match else []
        candidates.append(f"{match.group(1)}-{upload.etag[:12]}" if match else f"s3-{digest[:24]}")
        for job_id in candidates:
            try:
                out = client("dynamodb").update_item(
                    TableName=self.table,
                    Key=job_key(job_id),
                    UpdateExpression=(
                        "SET #state = if_not_exists(#state, :running), started_at = if_not_exists(started_at, :now),"
                        " source_bucket = :bucket, source_key = :key, source_etag = :etag, source_version = :version,"
                        " created_at = if_not_exists(created_at, :now)"
                    ),
                    ConditionExpression=("attribute_not_exists(PK) OR #state = :awaiting OR source_etag = :etag"),
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={
                        ":running": {"S": "running"},
                        ":awaiting": {"S": "awaiting_upload"},
                        ":now": {"S": iso(now)},
                        ":bucket": {"S": upload.bucket},
                        ":key": {"S": upload.key},
                        ":etag": {"S": upload.etag},
                        ":version": {"S": upload.version_id or "null"},
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if conditional_failed(exc):
                    continue  # the key's job holds other content: this upload is a job of its own
                raise
            item = out["Attributes"]
            if item["state"]["S"] == "awaiting_upload":
                item = client("dynamodb").update_item(
                    TableName=self.table,
                    Key=job_key(job_id),
                    UpdateExpression="SET #state = :running",
                    ConditionExpression="#state = :awaiting",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":running": {"S": "running"}, ":awaiting": {"S": "awaiting_upload"}},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            return job_id, item
        raise RuntimeError("no job could be bound to the upload")

    def _plan(self, job_id: str, upload: Upload) -> Plan:
        s3 = client("s3")
        version = {"VersionId": upload.version_id} if upload.version_id else {}
        head = s3.head_object(Bucket=upload.bucket, Key=upload.key, **version)
        if not head.get("ContentLength"):
            raise FormatError("the file is empty")
        manifest = self._manifest(upload, head)
        first = s3.get_object(Bucket=upload.bucket, Key=upload.key, Range=f"bytes=0-{HEAD_BYTES - 1}", **version)
        sample = first["Body"].read()
        if not sample:
            raise FormatError("the file is empty")
        layout = detect(sample, declared=manifest.declared_layout(), name=upload.key)
        as_of = head["LastModified"].astimezone(UTC)
        stream = self._open(upload, layout)
        records = read_records(stream, layout)
        header = next(records, None)
        if header is None or not header.fields:
            raise FormatError("the file has no header row" if layout.format == "csv" else "the file has no rows")
        headers = header.fields if layout.format == "csv" else header.fields[0::2]
        mapping = resolve(
            headers, manifest, key=upload.key, as_of=as_of, shop_tz=self.shop_tz, jsonl=layout.format == "jsonl"
        )
        size_limit = chunk_bytes()
        if layout.byte_ranges and upload.size <= size_limit:
            return Plan(layout, mapping, [(0, upload.size, 1)], upload)
        # Read once, record by record, to cut at record boundaries (and, for orders, between orders).
        chunks: list[tuple[int, int, int]] = []
        start, start_row = 0, 1
        previous_end, previous_group = header.end if layout.format == "csv" else 0, None
        records = read_records(self._open(upload, layout), layout)
        group_index = dict(mapping.targets).get("order.id", (None,))[0] if mapping.kind == "orders" else None
        for record in records:
            group = (
                record.fields[group_index]
                if group_index is not None and record.fields and group_index < len(record.fields)
                else None
            )
            if previous_end - start >= size_limit and (group is None or group != previous_group):
                chunks.append((start, previous_end, start_row))
                start, start_row = previous_end, record.row
            previous_end, previous_group = record.end, group
        chunks.append((start, previous_end, start_row))
        return Plan(layout, mapping, chunks, upload)

    def _manifest(self, upload: Upload, head: dict[str, Any]) -> Manifest:
        """The sidecar ``<key>.manifest.json`` if there is one, else the ``import-manifest`` metadata."""
        text: str | None = None
        try:
            sidecar = client("s3").get_object(Bucket=upload.bucket, Key=upload.key + MANIFEST_SUFFIX)
            text = sidecar["Body"].read(64 * 1024).decode("utf-8", errors="replace")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404", "AccessDenied"):
                raise
        if text is None:
            text = (head.get("Metadata") or {}).get("import-manifest")
        if not text:
            return Manifest()
        try:
            return Manifest.model_validate_json(text)
        except ValueError as exc:
            problems: list[Any] = exc.errors() if isinstance(exc, ValidationError) else []
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems[:5]) or "not JSON"
            raise FormatError(f"invalid manifest: {detail}") from None

    def _open(self, upload: Upload, layout: Layout, byte_range: tuple[int, int] | None = None) -> IO[bytes]:
        version = {"VersionId": upload.version_id} if upload.version_id else {}
        kwargs: dict[str, Any] = {"Bucket": upload.bucket, "Key": upload.key, **version}
        if byte_range is not None:
            if byte_range[1] <= byte_range[0]:
                return io.BufferedReader(io.BytesIO(b""))  # type: ignore[arg-type]
            kwargs["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
        body = client("s3").get_object(**kwargs)["Body"]
        if byte_range is not None:
            return canonical(body, Layout(encoding=layout.encoding if layout.encoding != "utf-16" else "utf-8"))
        return canonical(body, layout)

    def _save_plan(self, job_id: str, plan: Plan) -> Plan:
        """Store the plan once; a concurrent or repeated planner adopts the first one stored."""
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=job_key(job_id),
                UpdateExpression="SET #plan = :plan, chunks_total = :n",
                ConditionExpression="attribute_not_exists(#plan)",
                ExpressionAttributeNames={"#plan": "plan"},
                ExpressionAttributeValues={":plan": {"S": plan.to_json()}, ":n": {"N": str(len(plan.chunks))}},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            item = self._job(job_id)
            return Plan.from_json(item["plan"]["S"])
        logger.info("import planned", extra={"job_id": job_id, "chunks": len(plan.chunks), "kind": plan.mapping.kind})
        return plan

    def _enqueue(self, job_id: str, plan: Plan) -> None:
        entries = [
            {"Id": str(index), "MessageBody": json.dumps({"job_id": job_id, "chunk": index})}
            for index in range(len(plan.chunks))
        ]
        for start in range(0, len(entries), 10):
            out = client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=entries[start : start + 10])
            if out.get("Failed"):
                raise RuntimeError(f"{len(out['Failed'])} import chunks were not enqueued")

    def _job(self, job_id: str) -> dict[str, Any]:
        item = client("dynamodb").get_item(TableName=self.table, Key=job_key(job_id), ConsistentRead=True).get("Item")
        if not item:
            raise LookupError(f"import {job_id} not found")
        return item

    def _fail(self, job_id: str, reason: str) -> None:
        now = self.wall()
        logger.warning("import failed", extra={"job_id": job_id, "reason": reason})
        metrics.add_metric(name="ImportsFailed", unit="Count", value=1)
        item = self._job(job_id)
        started = datetime.fromisoformat(item["started_at"]["S"].replace("Z", "+00:00"))
        client("dynamodb").update_item(
            TableName=self.table,
            Key=job_key(job_id),
            UpdateExpression="SET #state = :failed, #error = :error, finished_at = :now, duration_ms = :ms",
            ConditionExpression="#state = :running",
            ExpressionAttributeNames={"#state": "state", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": {"S": "failed"},
                ":running": {"S": "running"},
                ":error": {"S": reason[:1000]},
                ":now": {"S": iso(now)},
                ":ms": {"N": str(max(0, int((now - started).total_seconds() * 1000)))},
            },
        )

    # ------------------------------------------------------------ chunks

    def process_chunk(self, job_id: str, index: int) -> None:
        item = self._job(job_id)
        done = {int(n) for n in item.get("done_chunks", {}).get("NS", [])}
        if index in done or item["state"]["S"] != "running":
            self._maybe_finish(job_id, item)
            return
        plan = Plan.from_json(item["plan"]["S"])
        start, end, first_row = plan.chunks[index]
        layout = plan.layout
        if layout.byte_ranges:
            stream = self._open(plan.source, layout, (start, end))
        else:
            stream = self._open(plan.source, layout)
            skip(stream, start)
        records = read_records(stream, layout, first_row=first_row, start_offset=start, limit=end - start)
        reader = RowReader(plan.mapping)
        counts = Counts()
        report_key = f"{REPORTS_PREFIX}{job_id}/rejects.csv"
        started = time.perf_counter()
        with tempfile.TemporaryFile() as rejects_file:
            index_rows: dict[str, set[int]] = {}

            def on_reject(reject: Reject, values: list[str] | None) -> None:
                counts.rejected += 1
                rejects_file.write(report.reject_line(reject.row, reject.column, reject.reason, values).encode())
                if reject.email:
                    index_rows.setdefault(reject.email, set()).add(reject.row)

            for batch in _batches(records, reader, plan.mapping, counts, on_reject, skip_header=index == 0):
                self.merger.merge(job_id, plan.mapping, batch, counts, on_reject)
            if counts.rejected:
                rejects_file.seek(0)
                client("s3").upload_fileobj(rejects_file, plan.source.bucket, _part_key(job_id, index))
                self._index_rejects(index_rows, report_key, job_id)
        logger.info(
            "import chunk processed",
            extra={
                "job_id": job_id,
                "chunk": index,
                "seconds": round(time.perf_counter() - started, 3),
                "counts": counts.as_dict(),
            },
        )
        self._complete(job_id, index, counts)

    def _index_rejects(self, index_rows: dict[str, set[int]], report_key: str, job_id: str) -> None:
        """``RJ#<fingerprint>`` / ``<report key>``: which rows of which report mention an address, so an
        erasure can find and redact them. Expires with the report."""
        expires = int((self.wall() + REPORT_RETENTION).timestamp())
        fingerprint = self.merger.suppressions.fingerprint
        for email, rows in index_rows.items():
            client("dynamodb").update_item(
                TableName=self.table,
                Key={"PK": {"S": "RJ#" + fingerprint(email)}, "SK": {"S": report_key}},
                UpdateExpression="ADD #rows :rows SET expires_at = :expires, job_id = :job",
                ExpressionAttributeNames={"#rows": "rows"},
                ExpressionAttributeValues={
                    ":rows": {"NS": [str(r) for r in sorted(rows)]},
                    ":expires": {"N": str(expires)},
                    ":job": {"S": job_id},
                },
            )

    def _complete(self, job_id: str, index: int, counts: Counts) -> None:
        values = {f":{name}": {"N": str(getattr(counts, name))} for name in COUNTERS}
        adds = ", ".join(f"#{name} :{name}" for name in COUNTERS)  # "read" is a reserved word
        try:
            out = client("dynamodb").update_item(
                TableName=self.table,
                Key=job_key(job_id),
                UpdateExpression=f"ADD {adds}, chunks_done :one, done_chunks :chunk",
                ConditionExpression="NOT contains(done_chunks, :index)",
                ExpressionAttributeNames={f"#{name}": name for name in COUNTERS},
                ExpressionAttributeValues={
                    **values,
                    ":one": {"N": "1"},
                    ":chunk": {"NS": [str(index)]},
                    ":index": {"N": str(index)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            logger.info("import chunk already counted", extra={"job_id": job_id, "chunk": index})
            self._maybe_finish(job_id, self._job(job_id))
            return
        self._maybe_finish(job_id, out["Attributes"])

    def _maybe_finish(self, job_id: str, item: dict[str, Any]) -> None:
        total = int(item.get("chunks_total", {}).get("N", "0"))
        done = int(item.get("chunks_done", {}).get("N", "0"))
        if item.get("state", {}).get("S") != "running" or not total or done < total:
            return
        plan = Plan.from_json(item["plan"]["S"])
        bucket = plan.source.bucket
        report_key = f"{REPORTS_PREFIX}{job_id}/rejects.csv"
        parts = self._parts(bucket, job_id)
        if parts:
            self._join_parts(bucket, report_key, parts)
        now = self.wall()
        started = datetime.fromisoformat(item["started_at"]["S"].replace("Z", "+00:00"))
        sets = "SET #state = :completed, finished_at = :now, duration_ms = :ms"
        values: dict[str, Any] = {
            ":completed": {"S": "completed"},
            ":running": {"S": "running"},
            ":now": {"S": iso(now)},
            ":ms": {"N": str(max(0, int((now - started).total_seconds() * 1000)))},
        }
        if parts:
            sets += ", report_key = :report"
            values[":report"] = {"S": report_key}
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=job_key(job_id),
                UpdateExpression=sets,
                ConditionExpression="#state = :running",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            return
        for part in parts:  # the joined report holds them; keep a single copy of what they contain
            client("s3").delete_object(Bucket=bucket, Key=part)
        counts = {name: int(item.get(name, {}).get("N", "0")) for name in COUNTERS}
        logger.info("import completed", extra={"job_id": job_id, "counts": counts})
        for name, value in counts.items():
            metrics.add_metric(name=f"Import{name.capitalize()}", unit="Count", value=value)

    def _parts(self, bucket: str, job_id: str) -> list[str]:
        keys: list[str] = []
        paginator = client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{REPORTS_PREFIX}{job_id}/parts/"):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def _join_parts(self, bucket: str, report_key: str, parts: list[str]) -> None:
        s3 = client("s3")

        def streams() -> Iterator[IO[bytes]]:
            for part in parts:
                yield s3.get_object(Bucket=bucket, Key=part)["Body"]

        with tempfile.TemporaryFile() as joined:
            report.write_parts(joined, streams())
            joined.seek(0)
            s3.upload_fileobj(joined, bucket, report_key, ExtraArgs={"ContentType": "text/csv"})


def _part_key(job_id: str, index: int) -> str:
    return f"{REPORTS_PREFIX}{job_id}/parts/{index:06d}.csv"


def _batches(
    records: Iterable[Any],
    reader: RowReader,
    mapping: Mapping,
    counts: Counts,
    on_reject: Any,
    *,
    skip_header: bool,
) -> Iterator[list[Row]]:
    """Valid rows in batches of about ``BATCH_ROWS``; an order's rows are never split across two batches,
    and an order with a rejected line is rejected whole."""
    batch: list[Row] = []
    group: list[Row] = []
    group_key: str | None = None
    group_bad: str | None = None
    orders = mapping.kind == "orders"
    for record in records:
        if skip_header and record.row == 1 and not mapping.jsonl:
            continue
        if record.fields == []:
            continue  # blank line
        counts.read += 1
        if record.fields is None:
            on_reject(Reject(record.row, "", record.error or "unreadable row"), None)
            continue
        result = reader.read(record.row, record.fields)
        key = (result.values.get("order_id") if isinstance(result, Row) else result.group) if orders else None
        if orders and key != group_key:
            batch.extend(_close_group(group, group_bad, on_reject))
            group, group_key, group_bad = [], key, None
            if len(batch) >= BATCH_ROWS:
                yield batch
                batch = []
        if isinstance(result, Reject):
            on_reject(result, record.fields)
            if orders and key is not None:
                group_bad = key
            continue
        if orders:
            group.append(result)
        else:
            batch.append(result)
            if len(batch) >= BATCH_ROWS:
                yield batch
                batch = []
    batch.extend(_close_group(group, group_bad, on_reject))
    if batch:
        yield batch


def _close_group(group: list[Row], bad: str | None, on_reject: Any) -> list[Row]:
    if bad is None:
        return group
    for row in group:
        on_reject(
            Reject(row.row, "", f"another line of order {bad} was rejected, so the order was not imported", row.email),
            None,
        )
    return []
