"""Parse a file in memory, as the import function parses each chunk."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from importer.mapping import Reject, Row, read_stream

from segmentation.imports import Manifest

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def parse(blob: bytes, manifest: Manifest | None = None, key: str = "imports/x/file.csv") -> list[Row | Reject]:
    return list(
        read_stream(io.BytesIO(blob), manifest or Manifest(), key=key, as_of=AS_OF, shop_tz=UTC, head=blob[:65536])
    )
