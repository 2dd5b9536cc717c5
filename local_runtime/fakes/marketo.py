"""Fake Adobe Marketo Engage REST API: the identity endpoint, leads, static lists, and Marketo's habit of
answering errors (token, rate, quota) inside an HTTP 200 with ``success: false``."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

CLIENT_ID = "fake-client-0000"
CLIENT_SECRET = "fake-secret-0000"  # noqa: S105 - the fake's own test credential
TOKEN_LIFETIME = 3600
BATCH_LIMIT = 300
LIST_NAME = "seg-vip"
LIST_ID = "1001"
LEAD_FIELDS = {"email", "firstName", "lastName", "phone", "city", "country", "postalCode", "unsubscribed"}


class FakeMarketo(FakePlatform):
    channel = "marketo"
    rates = {"default": (Rate(100, 20.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens: dict[str, float] = {}  # token -> expiry on the fake's clock
        self.tokens_issued = 0
        self.by_email: dict[str, str] = {}
        self.list_ids: dict[str, str] = {LIST_NAME: LIST_ID}
        self.daily_quota_left: int | None = None  # None: unlimited
        self._ids = itertools.count(318594)
        self._auth_error = "601"

    def _fail(self, code: str, message: str) -> FakeResponse:
        return FakeResponse(
            200, {"requestId": "e42b#fake", "success": False, "errors": [{"code": code, "message": message}]}
        )

    def authorized(self, request: FakeRequest) -> bool:
        if request.path == "/identity/oauth/token":
            return True  # client credentials are checked by the endpoint itself
        header = request.header("Authorization")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        if not token:
            self._auth_error = "600"
            return False
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= self.clock.time():
            self._auth_error = "601" if expiry is None else "602"
            return False
        if self.daily_quota_left is not None:
            if self.daily_quota_left <= 0:
                self._auth_error = "607"
                return False
            self.daily_quota_left -= 1
        return True

    def error(self, status: int, message: str) -> FakeResponse:
        if status == 401:
            texts = {"600": "Access token not specified", "601": "Access token invalid"}
            texts |= {"602": "Access token expired", "607": "Daily quota reached"}
            return self._fail(self._auth_error, texts[self._auth_error])
        if status == 400:
            return self._fail("1003", message)
        if status == 404:
            return self._fail("610", message)
        return FakeResponse(status, {"errors": [{"code": str(status), "message": message}]})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        return self._fail("606", "Max rate limit '100' exceeded with in '20' secs")

    def list_key(self, list_name: str) -> str:
        return self.list_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[lid]["email"] for lid in self.members(list_name)}

    def lead(self, email: str, **fields: Any) -> str:
        """A lead created in Marketo by someone else."""
        lead_id = str(next(self._ids))
        self.contacts[lead_id] = {"id": lead_id, "email": email.lower(), "unsubscribed": False, **fields}
        self.by_email[email.lower()] = lead_id
        return lead_id

    def _ok(self, result: list[dict[str, Any]], **extra: Any) -> FakeResponse:
        return FakeResponse(200, {"requestId": "e42b#fake", "success": True, "result": result, **extra})

    @route("GET", r"/identity/oauth/token", bucket="identity")
    def token(self, request: FakeRequest) -> FakeResponse:
        if (
            request.arg("grant_type") != "client_credentials"
            or request.arg("client_id") != CLIENT_ID
            or request.arg("client_secret") != CLIENT_SECRET
        ):
            return FakeResponse(401, {"error": "unauthorized", "error_description": "Bad client credentials"})
        token = f"fake-{secrets.token_hex(8)}:ab"
        self.tokens[token] = self.clock.time() + TOKEN_LIFETIME
        self.tokens_issued += 1
        return FakeResponse(
            200, {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME, "scope": "api@fake"}
        )

    @route("POST", r"/rest/v1/leads\.json")
    def upsert(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        rows = body.get("input")
        self.require(isinstance(rows, list) and rows, "input is required")
        self.require(len(rows) <= BATCH_LIMIT, f"at most {BATCH_LIMIT} records per request")
        self.require(body.get("action") == "createOrUpdate" and body.get("lookupField") == "email", "action")
        failing = self.partial(rows)
        result: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            email = row.get("email") if isinstance(row, dict) else None
            if index in failing:
                result.append({"status": "skipped", "reasons": [{"code": "1014", "message": "Failed to create"}]})
            elif not isinstance(email, str) or "@" not in email:
                result.append({"status": "skipped", "reasons": [{"code": "1003", "message": "Invalid email"}]})
            elif unknown := sorted(set(row) - LEAD_FIELDS):
                reason = {"code": "1006", "message": f"Field '{unknown[0]}' not found"}
                result.append({"status": "skipped", "reasons": [reason]})
            else:
                lead_id = self.by_email.get(email.lower())
                status = "updated" if lead_id else "created"
                lead_id = lead_id or self.lead(email)
                self.contacts[lead_id].update({k: v for k, v in row.items() if k != "email"})
                result.append({"id": int(lead_id), "status": status})
        return self._ok(result)

    @route("GET", r"/rest/v1/lists\.json")
    def find_lists(self, request: FakeRequest) -> FakeResponse:
        names = request.query.get("name") or list(self.list_ids)
        return self._ok([{"id": int(self.list_ids[n]), "name": n} for n in names if n in self.list_ids])

    def _ids_of(self, request: FakeRequest, list_id: str) -> list[str]:
        self.require(list_id in self.list_ids.values(), f"list {list_id} not found", 404)
        ids = request.query.get("id") or []
        self.require(ids, "id is required")
        self.require(len(ids) <= BATCH_LIMIT, f"at most {BATCH_LIMIT} ids per request")
        self.require(all(i.isdigit() for i in ids), "ids are integers")
        return ids

    @route("POST", r"/rest/v1/lists/(?P<list_id>\d+)/leads\.json")
    def add(self, request: FakeRequest, list_id: str) -> FakeResponse:
        ids = self._ids_of(request, list_id)
        failing = self.partial(ids)
        result: list[dict[str, Any]] = []
        for index, lead_id in enumerate(ids):
            if index in failing:
                result.append({"id": int(lead_id), "status": "skipped", "reasons": [{"code": "1014"}]})
            elif lead_id not in self.contacts:
                reason = {"code": "1004", "message": "Lead not found"}
                result.append({"id": int(lead_id), "status": "skipped", "reasons": [reason]})
            else:
                self.lists[list_id].add(lead_id)
                result.append({"id": int(lead_id), "status": "added"})
        return self._ok(result)

    @route("DELETE", r"/rest/v1/lists/(?P<list_id>\d+)/leads\.json")
    def remove(self, request: FakeRequest, list_id: str) -> FakeResponse:
        result: list[dict[str, Any]] = []
        for lead_id in self._ids_of(request, list_id):
            if lead_id not in self.contacts:
                reason = {"code": "1004", "message": "Lead not found"}
                result.append({"id": int(lead_id), "status": "skipped", "reasons": [reason]})
            elif lead_id not in self.lists[list_id]:
                reason = {"code": "1015", "message": "Lead not in list"}
                result.append({"id": int(lead_id), "status": "skipped", "reasons": [reason]})
            else:
                self.lists[list_id].discard(lead_id)
                result.append({"id": int(lead_id), "status": "removed"})
        return self._ok(result)

    @route("GET", r"/rest/v1/lists/(?P<list_id>\d+)/leads\.json")
    def list_leads(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.require(list_id in self.list_ids.values(), f"list {list_id} not found", 404)
        size = int(request.arg("batchSize", "300") or 300)
        self.require(size <= BATCH_LIMIT, "batchSize is at most 300")
        start = int(request.arg("nextPageToken", "0") or 0)
        ids = sorted(self.lists[list_id], key=int)
        page = ids[start : start + size]
        more = start + size < len(ids)
        extra = {"moreResult": more, **({"nextPageToken": str(start + size)} if more else {})}
        return self._ok([{"id": int(i)} for i in page], **extra)


FAKE = FakeMarketo


def config(fake: FakePlatform) -> dict[str, Any]:
    return {
        "munchkin_id": "123-FAK-456",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "base_url": fake.url,
    }
