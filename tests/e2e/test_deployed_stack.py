"""The deployed stack, end to end. Skipped unless SEGMENTATION_STACK names a stack and AWS credentials are set.

SEGMENTATION_STACK=segmentation AWS_PROFILE=... .venv/bin/pytest tests/e2e
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

STACK = os.environ.get("SEGMENTATION_STACK")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not STACK, reason="set SEGMENTATION_STACK to test a deployed stack")]


@pytest.fixture(scope="module")
def deployed() -> dict[str, str]:
    import boto3

    outputs = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    key = boto3.client("apigateway").get_api_key(apiKey=values["ApiKeyId"], includeValue=True)["value"]
    return {"url": values["ApiUrl"], "key": key}


def call(deployed: dict[str, str], method: str, path: str, body: Any = None, key: bool = True) -> tuple[int, Any]:
    headers = {"content-type": "application/json", **({"x-api-key": deployed["key"]} if key else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(deployed["url"] + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_unauthenticated_calls_are_refused(deployed):
    status, _ = call(deployed, "GET", "/segments", key=False)
    assert status == 403


def test_segment_fills_as_a_customer_buys_and_explains_why(deployed):
    run = uuid.uuid4().hex[:8]
    segment, customer = f"e2e_{run}", f"e2e-{run}"
    rule = {
        "all": [
            {"attr": "customer_id", "op": "eq", "value": customer},
            {"attr": "orders_count", "op": "gte", "value": 1},
        ]
    }
    assert call(deployed, "POST", "/segments", {"segment_id": segment, "name": f"e2e {run}", "rule": rule})[0] == 201
    try:
        assert call(deployed, "PUT", f"/customers/{customer}", {"email": f"{customer}@example.com"})[0] == 200
        order = {
            "order_id": f"o-{run}",
            "placed_at": "2026-11-20T10:00:00Z",
            "total": 10.0,
            "lines": [{"sku": "E2E", "category": "candles", "quantity": 1, "unit_price": 10.0}],
        }
        status, outcome = call(deployed, "POST", f"/customers/{customer}/orders", order)
        assert status == 200 and [c["segment_id"] for c in outcome["changes"]] == [segment]
        status, why = call(deployed, "GET", f"/customers/{customer}/segments/{segment}/why")
        assert status == 200 and why["member"] is True
    finally:
        call(deployed, "DELETE", f"/segments/{segment}")
