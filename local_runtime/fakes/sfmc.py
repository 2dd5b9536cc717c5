"""Fake Salesforce Marketing Cloud Engagement: the OAuth2 token endpoint (20-minute tokens naming the REST
host) and a data extension written through the synchronous rowset upsert."""

from __future__ import annotations

import secrets
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

CLIENT_ID = "fake-sfmc-client"
CLIENT_SECRET = "fake-sfmc-secret"  # noqa: S105 - the fake's own test credential
DE_KEY = "SegmentMembership"
COLUMNS = {"SubscriberKey", "SegmentKey", "IsMember", "UpdatedAt", "EmailAddress", "FirstName"}
ROWSET_LIMIT = 50
TOKEN_LIFETIME = 1080


class FakeSfmc(FakePlatform):
    channel = "sfmc"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.blocked = False  # play errorcode 50200 (requests temporarily blocked)

    def authorized(self, request: FakeRequest) -> bool:
        if request.path == "/v2/token":
            return True
        token = request.header("Authorization").removeprefix("Bearer ")
        return self.tokens.get(token, 0.0) > self.clock.time()

    def error(self, status: int, message: str) -> FakeResponse:
        if status == 401:
            return FakeResponse(401, {"documentation": "", "errorcode": 0, "message": "Not Authorized"})
        return FakeResponse(status, {"documentation": "", "errorcode": 10000, "message": message})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        wait = max(1, round(retry_after))
        body = {"message": "Too many requests", "errorcode": 50100, "documentation": "", "retryAfter": wait}
        return FakeResponse(429, body, {"Retry-After": str(wait)})

    def members(self, list_name: str) -> set[str]:
        return {key for (key, seg), values in self.rows.items() if seg == list_name and values["IsMember"] == "true"}

    @route("POST", r"/v2/token", bucket="auth")
    def token(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        if (
            body.get("grant_type") != "client_credentials"
            or body.get("client_id") != CLIENT_ID
            or body.get("client_secret") != CLIENT_SECRET
        ):
            return FakeResponse(401, {"error": "invalid_client", "error_description": "Invalid client ID."})
        token = f"eyJfake{secrets.token_hex(8)}"
        self.tokens[token] = self.clock.time() + TOKEN_LIFETIME
        self.tokens_issued += 1
        return FakeResponse(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "scope": "data_extensions_read data_extensions_write",
                "soap_instance_url": f"{self.url}/soap/",
                "rest_instance_url": f"{self.url}/",
            },
        )

    @route("POST", r"/hub/v1/dataevents/key:(?P<key>[^/]+)/rowset")
    def rowset(self, request: FakeRequest, key: str) -> FakeResponse:
        if self.blocked:
            return FakeResponse(
                429, {"message": "Requests temporarily blocked", "errorcode": 50200, "documentation": ""}
            )
        self.require(key == DE_KEY, f"Data extension with key {key} not found", 404)
        rows = request.body
        self.require(isinstance(rows, list) and rows, "the body is a list of rows")
        self.require(len(rows) <= ROWSET_LIMIT, f"at most {ROWSET_LIMIT} rows per call")
        for row in rows:
            keys, values = row.get("keys"), row.get("values")
            self.require(isinstance(keys, dict) and set(keys) == {"SubscriberKey", "SegmentKey"}, "keys")
            self.require(isinstance(values, dict) and values.get("IsMember") in ("true", "false"), "values.IsMember")
            unknown = sorted(set(values) - COLUMNS)
            self.require(not unknown, f"Invalid column name: {unknown[:1]}")
        for row in rows:  # all rows are valid: write them
            key_pair = (str(row["keys"]["SubscriberKey"]), str(row["keys"]["SegmentKey"]))
            self.rows[key_pair] = {**self.rows.get(key_pair, {}), **row["values"]}
            self.contacts.setdefault(key_pair[0], {"email": row["values"].get("EmailAddress")})
        return FakeResponse(200, rows)


FAKE = FakeSfmc


def config(fake: FakePlatform) -> dict[str, Any]:
    return {
        "subdomain": "mcfake000000000000000000000",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "data_extension_key": DE_KEY,
        "auth_base_url": fake.url,
    }
