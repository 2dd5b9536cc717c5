"""Fake HubSpot CRM v3: contacts with numeric record ids, static (MANUAL) lists, 100 requests per 10 s."""

from __future__ import annotations

import itertools
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TOKEN = "pat-eu1-fake-0000"  # noqa: S105 - the fake's own test credential
UPSERT_LIMIT = 100
MEMBERSHIP_LIMIT = 100_000  # not documented; the fake only guards against absurd requests


class FakeHubSpot(FakePlatform):
    channel = "hubspot"
    rates = {"default": (Rate(100, 10.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_ids: dict[str, str] = {}
        self.by_email: dict[str, str] = {}
        self._record_ids = itertools.count(101)
        self._list_counter = itertools.count(1)

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Authorization") == f"Bearer {TOKEN}"

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(status, {"status": "error", "message": message, "category": "VALIDATION_ERROR"})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        return FakeResponse(429, body, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})

    def list_key(self, list_name: str) -> str:
        return self.list_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[rid]["email"] for rid in self.members(list_name)}

    @route("POST", r"/crm/v3/objects/contacts/batch/upsert")
    def upsert(self, request: FakeRequest) -> FakeResponse:
        inputs = request.data().get("inputs")
        self.require(isinstance(inputs, list) and inputs, "inputs is required")
        self.require(len(inputs) <= UPSERT_LIMIT, f"at most {UPSERT_LIMIT} inputs per batch")
        failing = self.partial(inputs)
        results, errors = [], []
        for index, item in enumerate(inputs):
            self.require(item.get("idProperty") == "email" and isinstance(item.get("id"), str), "id/idProperty")
            email = item["id"].lower()
            if index in failing:
                errors.append(
                    {
                        "status": "error",
                        "category": "INTERNAL_ERROR",
                        "message": "try again",
                        "context": {"ids": [email]},
                    }
                )
                continue
            rid = self.by_email.get(email) or str(next(self._record_ids))
            self.by_email[email] = rid
            record = self.contacts.setdefault(rid, {"id": rid, "email": email})
            record.update(item.get("properties") or {})
            results.append({"id": rid, "properties": {"email": email}})
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body.update(errors=errors, numErrors=len(errors))
        return FakeResponse(207 if errors else 200, body)

    @route("GET", r"/crm/v3/lists/object-type-id/0-1/name/(?P<name>[^/]+)")
    def find_list(self, request: FakeRequest, name: str) -> FakeResponse:
        self.require(name in self.list_ids, "list not found", 404)
        return FakeResponse(200, {"list": {"listId": self.list_ids[name], "name": name, "processingType": "MANUAL"}})

    @route("POST", r"/crm/v3/lists")
    def create_list(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        self.require(isinstance(body.get("name"), str) and body.get("objectTypeId") == "0-1", "name/objectTypeId")
        self.require(body.get("processingType") == "MANUAL", "processingType must be MANUAL for a static list")
        self.require(body["name"] not in self.list_ids, "a list with this name exists", 409)
        self.list_ids[body["name"]] = str(next(self._list_counter))
        return FakeResponse(
            200, {"list": {"listId": self.list_ids[body["name"]], "name": body["name"], "processingType": "MANUAL"}}
        )

    @route("PUT", r"/crm/v3/lists/(?P<list_id>\d+)/memberships/add-and-remove")
    def add_and_remove(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.require(list_id in self.list_ids.values(), "list not found", 404)
        body = request.data()
        adds, removes = body.get("recordIdsToAdd"), body.get("recordIdsToRemove")
        self.require(isinstance(adds, list) and isinstance(removes, list), "recordIdsToAdd/recordIdsToRemove")
        self.require(len(adds) + len(removes) <= MEMBERSHIP_LIMIT, "too many record ids")
        members = self.lists[list_id]
        # A partial fault plays HubSpot's lag between creating a contact and the lists service seeing it.
        lagging = {adds[i] for i in self.partial(adds)}
        added, removed, missing = [], [], []
        for rid in adds:
            if rid not in self.contacts or rid in lagging:
                missing.append(rid)
            elif rid not in members:
                members.add(rid)
                added.append(rid)
        for rid in removes:
            if rid not in self.contacts:
                missing.append(rid)
            elif rid in members:
                members.discard(rid)
                removed.append(rid)
        return FakeResponse(200, {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing})

    @route("GET", r"/crm/v3/lists/(?P<list_id>\d+)/memberships")
    def memberships(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.require(list_id in self.list_ids.values(), "list not found", 404)
        limit = int(request.arg("limit", "100") or 100)
        self.require(limit <= 250, "limit must be at most 250")
        after = int(request.arg("after", "0") or 0)
        ids = sorted(self.lists[list_id], key=int)
        page = ids[after : after + limit]
        body: dict[str, Any] = {"results": [{"recordId": rid} for rid in page]}
        if after + limit < len(ids):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return FakeResponse(200, body)


FAKE = FakeHubSpot


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"token": TOKEN, "base_url": fake.url}
