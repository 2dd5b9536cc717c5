"""Fake Zoho CRM: Zoho Accounts (refresh-token grant naming the api_domain), Contacts upsert by Email with
Zoho's mandatory Last_Name, the tag settings and the v2 add_tags / remove_tags actions."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

CLIENT_ID = "1000.FAKECLIENT"
CLIENT_SECRET = "fake-zoho-secret"  # noqa: S105 - the fake's own test credential
REFRESH_TOKEN = "1000.fake-refresh"  # noqa: S105
FIELDS = {"Email", "Last_Name", "First_Name", "Phone", "Mailing_Country", "Email_Opt_Out"}
UPSERT_LIMIT = 100
TAG_LIMIT = 500
TOKEN_LIFETIME = 3600


class FakeZoho(FakePlatform):
    channel = "zoho"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.tags: set[str] = set()
        self.by_email: dict[str, str] = {}
        self._ids = itertools.count(5_725_767_000_000_123_001)

    def authorized(self, request: FakeRequest) -> bool:
        if request.path == "/oauth/v2/token":
            return True
        token = request.header("Authorization").removeprefix("Zoho-oauthtoken ")
        return self.tokens.get(token, 0.0) > self.clock.time()

    def error(self, status: int, message: str) -> FakeResponse:
        code = {400: "INVALID_DATA", 401: "INVALID_TOKEN", 404: "INVALID_URL_PATTERN"}.get(status, "INTERNAL_ERROR")
        return FakeResponse(status, {"code": code, "details": {}, "message": message, "status": "error"})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        body = {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "concurrency limit exceeded", "status": "error"}
        return FakeResponse(429, body)

    def members(self, list_name: str) -> set[str]:
        return {rid for rid, record in self.contacts.items() if list_name in record["Tag"]}

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[rid]["Email"] for rid in self.members(list_name)}

    def record(self, email: str, **fields: Any) -> str:
        """A contact created in Zoho by someone else."""
        rid = str(next(self._ids))
        self.contacts[rid] = {"id": rid, "Email": email.lower(), "Tag": [], "Email_Opt_Out": False, **fields}
        self.by_email[email.lower()] = rid
        return rid

    @route("POST", r"/oauth/v2/token", bucket="auth")
    def token(self, request: FakeRequest) -> FakeResponse:
        if (
            request.arg("grant_type") != "refresh_token"
            or request.arg("client_id") != CLIENT_ID
            or request.arg("client_secret") != CLIENT_SECRET
            or request.arg("refresh_token") != REFRESH_TOKEN
        ):
            return FakeResponse(200, {"error": "invalid_code"})  # Zoho answers a refused grant with a 200
        token = f"1000.{secrets.token_hex(16)}"
        self.tokens[token] = self.clock.time() + TOKEN_LIFETIME
        self.tokens_issued += 1
        return FakeResponse(
            200, {"access_token": token, "api_domain": self.url, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME}
        )

    @route("POST", r"/crm/v8/Contacts/upsert")
    def upsert(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        rows = body.get("data")
        self.require(isinstance(rows, list) and rows, "data is required")
        self.require(len(rows) <= UPSERT_LIMIT, f"at most {UPSERT_LIMIT} records per request")
        self.require(body.get("duplicate_check_fields") == ["Email"], "duplicate_check_fields")
        failing = self.partial(rows)
        results = []
        for index, row in enumerate(rows):
            unknown = sorted(set(row) - FIELDS)
            email = str(row.get("Email") or "").lower()
            existing = self.by_email.get(email)
            if index in failing:
                results.append({"code": "INTERNAL_ERROR", "details": {}, "message": "try again", "status": "error"})
            elif unknown:
                results.append(_error("INVALID_DATA", "invalid data", unknown[0]))
            elif existing is None and not row.get("Last_Name"):
                results.append(_error("MANDATORY_NOT_FOUND", "required field not found", "Last_Name"))
            else:
                rid = existing or self.record(email)
                self.contacts[rid].update({k: v for k, v in row.items() if k != "Email"})
                action = "update" if existing else "insert"
                details = {"id": rid, "Created_Time": "2026-11-20T10:00:00+00:00"}
                results.append({"code": "SUCCESS", "action": action, "details": details, "status": "success"})
        return FakeResponse(200, {"data": results})

    @route("POST", r"/crm/v8/settings/tags")
    def create_tags(self, request: FakeRequest) -> FakeResponse:
        self.require(request.arg("module") == "Contacts", "module is required")
        tags = request.data().get("tags")
        self.require(isinstance(tags, list) and tags, "tags is required")
        results = []
        for tag in tags:
            name = str(tag.get("name") or "")
            if name in self.tags:
                results.append(_error("DUPLICATE_DATA", "tag already exists", "name"))
            else:
                self.tags.add(name)
                results.append({"code": "SUCCESS", "details": {"id": str(next(self._ids))}, "status": "success"})
        return FakeResponse(200, {"tags": results})

    def _tag_call(self, request: FakeRequest, add: bool) -> FakeResponse:
        ids = [i for i in (request.arg("ids", "") or "").split(",") if i]
        name = request.arg("tag_names", "") or ""
        self.require(ids and name, "ids and tag_names are required")
        self.require(len(ids) <= TAG_LIMIT, f"at most {TAG_LIMIT} ids per request")
        self.require(name in self.tags, f"tag {name} does not exist")
        failing = self.partial(ids)
        results = []
        for index, rid in enumerate(ids):
            record = self.contacts.get(rid)
            if index in failing:
                results.append(
                    {"code": "INTERNAL_ERROR", "details": {"id": rid}, "message": "retry", "status": "error"}
                )
            elif record is None:
                results.append(
                    {"code": "INVALID_DATA", "details": {"id": rid}, "message": "the id given seems to be invalid"}
                    | {"status": "error"}
                )
            else:
                if add and name not in record["Tag"]:
                    record["Tag"].append(name)
                if not add and name in record["Tag"]:
                    record["Tag"].remove(name)
                details = {"id": rid, "tags": list(record["Tag"])}
                results.append({"code": "SUCCESS", "details": details, "message": "tags updated", "status": "success"})
        return FakeResponse(200, {"data": results})

    @route("POST", r"/crm/v2/Contacts/actions/add_tags")
    def add_tags(self, request: FakeRequest) -> FakeResponse:
        self.require(request.arg("over_write", "false") == "false", "over_write would drop the record's other tags")
        return self._tag_call(request, True)

    @route("POST", r"/crm/v2/Contacts/actions/remove_tags")
    def remove_tags(self, request: FakeRequest) -> FakeResponse:
        return self._tag_call(request, False)


def _error(code: str, message: str, field: str) -> dict[str, Any]:
    return {"code": code, "details": {"api_name": field}, "message": message, "status": "error"}


FAKE = FakeZoho


def config(fake: FakePlatform) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "accounts_url": fake.url,
        "placeholder_last_name": "(unknown)",
    }
