"""Fake Brevo API v3: contacts keyed by address, static lists in folders, 150 addresses per list call,
10 requests per second with ``x-sib-ratelimit-*`` headers on a 429."""

from __future__ import annotations

import itertools
import math
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

API_KEY = "xkeysib-fake-0000000000000000"
FOLDER_ID = 3
BATCH_LIMIT = 150


class FakeBrevo(FakePlatform):
    channel = "brevo"
    rates = {"default": (Rate(10, 1.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_ids: dict[str, int] = {}
        self._contact_ids = itertools.count(1)
        self._list_counter = itertools.count(11)

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("api-key") == API_KEY

    def error(self, status: int, message: str) -> FakeResponse:
        code = {400: "invalid_parameter", 401: "unauthorized", 404: "document_not_found"}.get(status, "error")
        return FakeResponse(status, {"code": code, "message": message})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        headers = {
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": str(math.ceil(retry_after)),
        }
        return FakeResponse(429, {"code": "too_many_requests", "message": "Too many requests"}, headers)

    def list_key(self, list_name: str) -> str:
        return str(self.list_ids.get(list_name, ""))

    def contact(self, email: str, **fields: Any) -> dict[str, Any]:
        """A contact created in Brevo by someone else."""
        record = {"id": next(self._contact_ids), "email": email.lower(), "attributes": {}, "emailBlacklisted": False}
        self.contacts[email.lower()] = record | fields
        return self.contacts[email.lower()]

    @route("POST", r"/v3/contacts")
    def upsert(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        email = body.get("email")
        self.require(isinstance(email, str) and "@" in email, "Invalid email address")
        attributes = body.get("attributes") or {}
        self.require(isinstance(attributes, dict), "attributes must be an object")
        existing = self.contacts.get(email.lower())
        if existing is not None and not body.get("updateEnabled"):
            self.reject(400, "Contact already exist")
        record = existing or self.contact(email)
        record["attributes"].update(attributes)
        for flag in ("emailBlacklisted", "smsBlacklisted"):
            if flag in body:
                record[flag] = body[flag]
        return FakeResponse(204) if existing else FakeResponse(201, {"id": record["id"]})

    @route("GET", r"/v3/contacts/lists")
    def get_lists(self, request: FakeRequest) -> FakeResponse:
        limit = int(request.arg("limit", "10") or 10)
        offset = int(request.arg("offset", "0") or 0)
        self.require(limit <= 50, "limit must be at most 50")
        rows = [{"id": lid, "name": name, "folderId": FOLDER_ID} for name, lid in sorted(self.list_ids.items())]
        return FakeResponse(200, {"lists": rows[offset : offset + limit], "count": len(rows)})

    @route("POST", r"/v3/contacts/lists")
    def create_list(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        self.require(isinstance(body.get("name"), str) and body.get("folderId") == FOLDER_ID, "name and folderId")
        self.list_ids[body["name"]] = next(self._list_counter)
        return FakeResponse(201, {"id": self.list_ids[body["name"]]})

    def _emails(self, request: FakeRequest, list_id: str) -> list[str]:
        self.require(int(list_id) in self.list_ids.values(), "List ID does not exist", 404)
        emails = request.data().get("emails")
        self.require(isinstance(emails, list) and emails, "emails is required")
        self.require(len(emails) <= BATCH_LIMIT, f"at most {BATCH_LIMIT} emails per request")
        return [str(e).lower() for e in emails]

    @route("POST", r"/v3/contacts/lists/(?P<list_id>\d+)/contacts/add")
    def add(self, request: FakeRequest, list_id: str) -> FakeResponse:
        emails = self._emails(request, list_id)
        failing = self.partial(emails)
        success, failure = [], []
        for index, email in enumerate(emails):
            if email not in self.contacts or index in failing:
                failure.append(email)
            else:
                self.lists[list_id].add(email)
                success.append(email)
        return FakeResponse(201, {"contacts": {"success": success, "failure": failure}, "total": len(success)})

    @route("POST", r"/v3/contacts/lists/(?P<list_id>\d+)/contacts/remove")
    def remove(self, request: FakeRequest, list_id: str) -> FakeResponse:
        emails = self._emails(request, list_id)
        members = self.lists[list_id]
        success = [e for e in emails if e in members]
        self.require(success, "Contact already removed from list and/or does not exist")
        members.difference_update(success)
        failure = [e for e in emails if e not in success]
        return FakeResponse(201, {"contacts": {"success": success, "failure": failure}, "total": len(success)})

    @route("GET", r"/v3/contacts/lists/(?P<list_id>\d+)/contacts")
    def list_contacts(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.require(int(list_id) in self.list_ids.values(), "List ID does not exist", 404)
        limit = int(request.arg("limit", "50") or 50)
        offset = int(request.arg("offset", "0") or 0)
        self.require(limit <= 500, "limit must be at most 500")
        emails = sorted(self.lists[list_id])
        rows = [
            {"email": e, "id": self.contacts[e]["id"]} for e in emails[offset : offset + limit] if e in self.contacts
        ]
        return FakeResponse(200, {"contacts": rows, "count": len(emails)})


FAKE = FakeBrevo


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"api_key": API_KEY, "folder_id": FOLDER_ID, "base_url": f"{fake.url}/v3"}
