"""Fake Google BigQuery streaming inserts, with Google's STS and IAM Credentials endpoints in front.

The table keeps every row appended (``rows``); membership is what the scheduled query would build: the latest
``op`` per (segment_id, customer_id) by ``event_ts``, rows with an ``insertId`` seen before being dropped as
BigQuery's best-effort de-duplication would. The STS endpoint checks that the subject token is a signed
GetCallerIdentity request for the configured provider (it cannot check the AWS signature itself).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

PROJECT, DATASET, TABLE = "fake-project", "marketing", "segment_membership_events"
AUDIENCE = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/aws/providers/lambda"
SERVICE_ACCOUNT = "segment-sync@fake-project.iam.gserviceaccount.com"
SCHEMA = {"segment_id", "customer_id", "op", "event_ts", "sync_id", "email", "country"}
ROW_LIMIT = 50_000
TOKEN_LIFETIME = 3600


class FakeBigQuery(FakePlatform):
    channel = "bigquery"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []
        self.insert_ids: set[str] = set()
        self.federated: set[str] = set()
        self.tokens: dict[str, float] = {}  # access token -> expiry on the fake's clock
        self.tokens_issued = 0

    # ------------------------------------------------------------------------------------------ framework

    def authorized(self, request: FakeRequest) -> bool:
        if request.path == "/v1/token":
            return not request.header("Authorization")  # Google's STS refuses an Authorization header
        token = request.header("Authorization").removeprefix("Bearer ")
        if request.path.startswith("/v1/projects/"):
            return token in self.federated
        expiry = self.tokens.get(token)
        return expiry is not None and expiry > self.clock.time()

    def error(self, status: int, message: str) -> FakeResponse:
        names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
        reason = {400: "invalid", 401: "authError", 404: "notFound", 503: "backendError"}.get(status, "error")
        error = {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
        return FakeResponse(status, {"error": {**error, "status": names.get(status, "UNAVAILABLE")}})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        if not request.path.startswith("/bigquery/"):  # STS and IAM Credentials answer 429 RESOURCE_EXHAUSTED
            error = {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}
            return FakeResponse(429, {"error": error})
        message = "Exceeded rate limits: too many api requests per user per method for this user_method"
        error = {"message": message, "domain": "usageLimits", "reason": "rateLimitExceeded"}
        return FakeResponse(
            403, {"error": {"code": 403, "message": message, "errors": [error], "status": "PERMISSION_DENIED"}}
        )

    # ------------------------------------------------------------------------------------------ what it holds

    def members(self, list_name: str) -> set[str]:
        latest: dict[str, tuple[str, int, str]] = {}
        for position, row in enumerate(self.rows):
            if row["segment_id"] == list_name:
                key = (row["event_ts"], position, row["op"])
                latest[row["customer_id"]] = max(latest.get(row["customer_id"], key), key)
        return {cid for cid, (_, _, op) in latest.items() if op == "add"}

    def member_emails(self, list_name: str) -> set[str]:
        emails = {row["customer_id"]: row["email"] for row in self.rows if row.get("email")}
        return {emails.get(cid, cid) for cid in self.members(list_name)}

    # ------------------------------------------------------------------------------------------ auth

    @route("POST", r"/v1/token", bucket="auth")
    def sts_token(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        self.require(body.get("grantType") == "urn:ietf:params:oauth:grant-type:token-exchange", "grantType")
        self.require(body.get("subjectTokenType") == "urn:ietf:params:aws:token-type:aws4_request", "token type")
        self.require(body.get("requestedTokenType") == "urn:ietf:params:oauth:token-type:access_token", "type")
        if body.get("audience") != AUDIENCE:
            return FakeResponse(400, {"error": "invalid_target", "error_description": "unknown provider"})
        try:
            signed = json.loads(unquote(str(body.get("subjectToken") or "")))
            headers = {h["key"].lower(): h["value"] for h in signed["headers"]}
        except (ValueError, KeyError, TypeError):
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "subject token unreadable"})
        valid = (
            signed.get("method") == "POST"
            and "Action=GetCallerIdentity" in str(signed.get("url"))
            and headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=")
            and "x-amz-date" in headers
            and headers.get("host", "") in str(signed.get("url"))
            and headers.get("x-goog-cloud-target-resource") == AUDIENCE
            and "x-goog-cloud-target-resource" in headers["authorization"]  # signed, not merely attached
        )
        if not valid:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "not a signed caller identity"})
        token = f"ya29.fed-{secrets.token_hex(8)}"
        self.federated.add(token)
        return FakeResponse(
            200,
            {
                "access_token": token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
            },
        )

    @route("POST", r"/v1/projects/-/serviceAccounts/(?P<account>[^/:]+):generateAccessToken", bucket="auth")
    def generate_access_token(self, request: FakeRequest, account: str) -> FakeResponse:
        self.require(account == SERVICE_ACCOUNT, "permission iam.serviceAccounts.getAccessToken denied", 403)
        scopes = request.data().get("scope")
        self.require(isinstance(scopes, list) and scopes, "scope is required")
        token = f"ya29.sa-{secrets.token_hex(8)}"
        expiry = self.clock.time() + TOKEN_LIFETIME
        self.tokens[token] = expiry
        self.tokens_issued += 1
        expire_time = datetime.fromtimestamp(expiry, UTC).isoformat().replace("+00:00", "Z")
        return FakeResponse(200, {"accessToken": token, "expireTime": expire_time})

    # ------------------------------------------------------------------------------------------ insertAll

    @route("POST", r"/bigquery/v2/projects/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)/tables/(?P<t>[^/]+)/insertAll")
    def insert_all(self, request: FakeRequest, p: str, d: str, t: str) -> FakeResponse:
        self.require((p, d, t) == (PROJECT, DATASET, TABLE), f"Not found: Table {p}:{d}.{t}", 404)
        body = request.data()
        rows = body.get("rows")
        self.require(isinstance(rows, list) and rows, "rows is required")
        self.require(len(rows) <= ROW_LIMIT, f"at most {ROW_LIMIT} rows per request")
        self.require(len(request.raw) <= 10 * 1024 * 1024, "request larger than 10 MB")
        self.require(body.get("skipInvalidRows") is False, "the adapter must not skip invalid rows silently")
        failing = self.partial(rows)
        errors: dict[int, list[dict[str, str]]] = {}
        for index, row in enumerate(rows):
            values = row.get("json") if isinstance(row, dict) else None
            if not isinstance(values, dict):
                errors[index] = [{"reason": "invalid", "location": "json", "message": "row has no json object"}]
            elif unknown := sorted(set(values) - SCHEMA):
                errors[index] = [
                    {"reason": "invalid", "location": unknown[0], "message": f"no such field: {unknown[0]}."}
                ]
            elif values.get("op") not in ("add", "remove") or not values.get("customer_id"):
                errors[index] = [{"reason": "invalid", "location": "op", "message": "op and customer_id are required"}]
            elif index in failing:
                errors[index] = [{"reason": "timeout", "location": "", "message": "row was not written in time"}]
        if any(e[0]["reason"] == "invalid" for e in errors.values()):
            # skipInvalidRows false: one invalid row stops the whole request.
            stopped = {"reason": "stopped", "location": "", "message": ""}
            errors = {i: errors.get(i, [stopped]) for i in range(len(rows))}
        for index, row in enumerate(rows):
            if index in errors:
                continue
            insert_id = str(row.get("insertId") or "")
            if insert_id and insert_id in self.insert_ids:
                continue  # best-effort de-duplication of a resend
            self.insert_ids.add(insert_id)
            self.rows.append(dict(row["json"]))
            self.contacts.setdefault(row["json"]["customer_id"], {"email": row["json"].get("email")})
        answer: dict[str, Any] = {"kind": "bigquery#tableDataInsertAllResponse"}
        if errors:
            answer["insertErrors"] = [{"index": i, "errors": e} for i, e in sorted(errors.items())]
        return FakeResponse(200, answer)


FAKE = FakeBigQuery


def config(fake: FakePlatform) -> dict[str, Any]:
    return {
        "project_id": PROJECT,
        "dataset_id": DATASET,
        "table_id": TABLE,
        "audience": AUDIENCE,
        "service_account": SERVICE_ACCOUNT,
        "base_url": f"{fake.url}/bigquery/v2",
        "token_url": f"{fake.url}/v1/token",
        "iam_credentials_url": f"{fake.url}/v1",
    }
