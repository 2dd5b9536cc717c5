"""Where models live: S3 (``models/<version>/...``) and the MODEL partition of the segmentation table.

The key strings follow the model contract (``PK=MODEL``, ``SK=CURRENT`` / ``V#<version>``); the layer's
scoring side reads the same items. Writing CURRENT is conditional, so a slow run that finishes late never
replaces a model trained after it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from segmentation.features.compute import CustomerHistory
from segmentation.store.clients import client
from segmentation.store.dynamo import DynamoStore, scan_customers

MODEL_PK = "MODEL"
CURRENT_SK = "CURRENT"


def version_sk(version: str) -> str:
    return f"V#{version}"


def model_key(version: str) -> str:
    return f"models/{version}/model.json"


def report_key(version: str, extension: str) -> str:
    return f"models/{version}/holdout_report.{extension}"


def load_histories(table: str, segments: int) -> list[CustomerHistory]:
    """Every customer's history, from a parallel Scan (one thread per segment; a customer's items share a
    partition key, so each segment returns whole customers). Sorted by id, so training is deterministic."""
    store = DynamoStore(table)
    if segments <= 1:
        loaded = scan_customers(store)
    else:
        with ThreadPoolExecutor(max_workers=segments) as pool:
            parts = pool.map(lambda s: scan_customers(store, segment=s, total_segments=segments), range(segments))
            loaded = [customer for part in parts for customer in part]
    return sorted((c.history for c in loaded), key=lambda h: h.profile.customer_id)


class ModelStore:
    def __init__(self, table: str, bucket: str) -> None:
        self.table = table
        self.bucket = bucket

    def current(self) -> dict[str, Any] | None:
        return self._get(CURRENT_SK)

    def version(self, version: str) -> dict[str, Any] | None:
        return self._get(version_sk(version))

    def _get(self, sort_key: str) -> dict[str, Any] | None:
        out = client("dynamodb").get_item(
            TableName=self.table, Key={"PK": {"S": MODEL_PK}, "SK": {"S": sort_key}}, ConsistentRead=True
        )
        item = out.get("Item")
        return json.loads(item["document"]["S"]) if item else None

    def publish(self, document: dict[str, Any], report_json: str, report_csv: str) -> bool:
        """Store the document and its holdout report; True when it became CURRENT."""
        version = document["version"]
        s3 = client("s3")
        for key, body, content_type in (
            (report_key(version, "json"), report_json, "application/json"),
            (report_key(version, "csv"), report_csv, "text/csv"),
            (model_key(version), json.dumps(document, sort_keys=True), "application/json"),
        ):
            s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body.encode(),
                ContentType=content_type,
                ServerSideEncryption="AES256",
            )
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        attributes = {
            "document": {"S": text},
            "version": {"S": version},
            "trained_at": {"S": document["trained_at"]},
            "as_of": {"S": document["as_of"]},
        }
        dynamodb = client("dynamodb")
        try:
            dynamodb.put_item(
                TableName=self.table,
                Item={"PK": {"S": MODEL_PK}, "SK": {"S": version_sk(version)}, **attributes},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # else: this very version is already stored (a retried run): same content, nothing to do
        try:
            dynamodb.put_item(
                TableName=self.table,
                Item={"PK": {"S": MODEL_PK}, "SK": {"S": CURRENT_SK}, **attributes},
                # ISO-8601 UTC timestamps of one format compare correctly as strings.
                ConditionExpression="attribute_not_exists(PK) OR trained_at <= :t",
                ExpressionAttributeValues={":t": {"S": document["trained_at"]}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
