"""Model documents in the single table: ``MODEL``/``CURRENT`` and one ``MODEL``/``V#<version>`` per version."""

from __future__ import annotations

from typing import Any

from segmentation.store import items as it
from segmentation.store.clients import client


class StoredModel:
    """The CURRENT (or a versioned) item: the JSON document, parsed by the caller, and its key facts."""

    __slots__ = ("document", "trained_at", "version")

    def __init__(self, version: str, trained_at: str, document: str) -> None:
        self.version = version
        self.trained_at = trained_at
        self.document = document


def _stored(item: dict[str, Any]) -> StoredModel:
    return StoredModel(
        version=item.get("version", {}).get("S", ""),
        trained_at=item.get("trained_at", {}).get("S", ""),
        document=item["document"]["S"],
    )


class ModelDocuments:
    """Reads what training publishes. Writing is training's job (conditional on ``trained_at``)."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def current(self) -> StoredModel | None:
        out = client("dynamodb").get_item(TableName=self.table, Key=it.model_current_key())
        item = out.get("Item")
        return _stored(item) if item and "document" in item else None

    def versions(self, limit: int = 10) -> list[StoredModel]:
        """The most recent published versions, newest first."""
        page = client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :v)",
            ExpressionAttributeValues={":pk": it.S(it.MODEL_PK), ":v": it.S("V#")},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_stored(item) for item in page.get("Items", []) if "document" in item]
