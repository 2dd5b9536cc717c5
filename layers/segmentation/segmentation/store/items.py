"""Storage item shapes: key builders and (de)serialisation of documents.

Documents (profiles, orders, snapshots) are stored as compact JSON strings in ``doc``. They are read and
written whole, never queried by field, and JSON avoids DynamoDB's float-to-Decimal round trips.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, date, datetime
from typing import Any

from segmentation.domain.types import iso

PROFILE_SK = "#P"
EMAIL_SK = "#E"
SEGMENTS_PK = "SEGMENTS"
# Everything of a customer sorts below this key, so one Query loads it; future bulky per-customer items
# (exports, archives) go above it.
LOAD_UPPER_BOUND = "~"


def customer_pk(customer_id: str) -> str:
    return f"C#{customer_id}"


def email_pk(email: str) -> str:
    return f"E#{email}"


def membership_sk(segment_id: str) -> str:
    return f"M#{segment_id}"


def members_gsi_pk(segment_id: str) -> str:
    return f"S#{segment_id}"


def order_sk(placed_at: datetime, order_id: str) -> str:
    return f"O#{iso(placed_at)}#{order_id}"


def refund_sk(order_id: str, at: datetime) -> str:
    return f"R#{order_id}#{iso(at)}"


def engagement_sk(at: datetime, event_id: str) -> str:
    return f"V#{iso(at)}#{event_id}"


def segment_version_pk(segment_id: str) -> str:
    return f"SEGV#{segment_id}"


# GSI2 (sparse) holds each customer's next time boundary. Its partition key is the boundary's UTC hour plus a
# shard, so "who is due by now" is a few bounded Queries (hours since the last run x shards), never a Scan, and
# customers whose boundaries share an instant (every birthday of a day falls on one local midnight) are spread
# over several partitions. Changing the shard count would strand entries: it is part of the key layout.
BOUNDARY_SHARDS = 4


def boundary_bucket(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def boundary_shard(customer_id: str) -> int:
    return zlib.crc32(customer_id.encode()) % BOUNDARY_SHARDS


def boundary_gsi_pk(bucket: str, shard: int) -> str:
    return f"B#{bucket}#{shard}"


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


RUN_SK = "#R"
BOUNDARY_CURSOR_PK = "SCHEDULE"
BOUNDARY_CURSOR_SK = "BOUNDARIES"


MODEL_PK = "MODEL"
MODEL_CURRENT_SK = "CURRENT"


def model_current_key() -> dict[str, dict[str, str]]:
    """The item holding the current model document (written by training, read by scoring)."""
    return {"PK": S(MODEL_PK), "SK": S(MODEL_CURRENT_SK)}


def model_version_key(version: str) -> dict[str, dict[str, str]]:
    """One item per published model version; ``V#`` keys sort by version, which starts with its timestamp."""
    return {"PK": S(MODEL_PK), "SK": S(f"V#{version}")}


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(document: Any) -> str:
    return json.dumps(document, default=_default, separators=(",", ":"), sort_keys=True)


def loads(text: str) -> Any:
    return json.loads(text)


def S(value: str) -> dict[str, str]:  # noqa: N802 - mirrors the DynamoDB type letter
    return {"S": value}


def N(value: int | float) -> dict[str, str]:  # noqa: N802
    return {"N": str(value)}
