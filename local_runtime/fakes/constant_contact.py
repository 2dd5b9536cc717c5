"""Fake Constant Contact API v3: contacts with a ``permission_to_send``, the sign-up form that creates or
updates a contact and puts it on a list, list-membership activities of up to 500 contacts, lists found by
name, cursor-paged member listing, and the 4-per-second / 10,000-per-day limits with their 429 error keys."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TOKEN = "fake-cc-token-000000000000000000"  # noqa: S105 - the fake's own test credential
SIGN_UP_FIELDS = {"email_address", "first_name", "last_name", "job_title", "company_name", "phone_number"}


class FakeConstantContact(FakePlatform):
    channel = "constant_contact"
    rates = {"default": (Rate(4, 1.0), Rate(10_000, 86_400.0))}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_ids: dict[str, str] = {}
        self.activities: dict[str, dict[str, Any]] = {}
        self.quota_exhausted = False
        self._seq = itertools.count(1)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=next(self._seq)))

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Authorization") == f"Bearer {TOKEN}"

    def error(self, status: int, message: str) -> FakeResponse:
        key = {400: "contacts.api.validation.error", 401: "unauthorized", 404: "not_found"}.get(status, "server.error")
        return FakeResponse(status, [{"error_key": key, "error_message": message}])

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        if self.quota_exhausted:
            return FakeResponse(429, [{"error_key": "quota_exceeded", "error_message": "Daily quota exceeded"}])
        return FakeResponse(429, [{"error_key": "throttled", "error_message": "Too many requests"}])

    def list_key(self, list_name: str) -> str:
        return self.list_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[cid]["email"] for cid in self.members(list_name) if cid in self.contacts}

    def contact(self, email: str, permission: str = "implicit", **fields: Any) -> str:
        """A contact created in Constant Contact by someone else."""
        cid = self._uuid()
        self.contacts[cid] = {"contact_id": cid, "email": email, "permission_to_send": permission} | fields
        return cid

    def _view(self, cid: str) -> dict[str, Any]:
        record = self.contacts[cid]
        view = {k: v for k, v in record.items() if k not in ("email", "permission_to_send")}
        lists = [lid for lid, members in self.lists.items() if cid in members]
        address = {"address": record["email"], "permission_to_send": record["permission_to_send"]}
        return view | {"email_address": address, "list_memberships": lists}

    @route("GET", r"/v3/contact_lists")
    def get_lists(self, request: FakeRequest) -> FakeResponse:
        self.require(int(request.arg("limit", "50") or 50) <= 1000, "limit is at most 1000")
        rows = [{"list_id": lid, "name": name, "favorite": False} for name, lid in self.list_ids.items()]
        return FakeResponse(200, {"lists": rows, "lists_count": len(rows)})

    @route("POST", r"/v3/contact_lists")
    def create_list(self, request: FakeRequest) -> FakeResponse:
        name = request.data().get("name")
        self.require(isinstance(name, str) and 0 < len(name) <= 255, "name is required")
        self.require(name not in self.list_ids, "List name already exists", 409)
        self.list_ids[name] = self._uuid()
        return FakeResponse(201, {"list_id": self.list_ids[name], "name": name, "favorite": False})

    @route("GET", r"/v3/contacts")
    def get_contacts(self, request: FakeRequest) -> FakeResponse:
        email, list_id = request.arg("email"), request.arg("lists")
        limit = int(request.arg("limit", "50") or 50)
        start = int(request.arg("cursor", "0") or 0)
        self.require(1 <= limit <= 500, "limit is 1 to 500")
        self.require(request.arg("status") == "all", "status=all so unsubscribed contacts are seen")
        ids = sorted(self.contacts)
        if email is not None:
            ids = [cid for cid in ids if self.contacts[cid]["email"].lower() == email.lower()]
        if list_id is not None:
            ids = [cid for cid in ids if cid in self.lists.get(list_id, set())]
        page = ids[start : start + limit]
        body: dict[str, Any] = {"contacts": [self._view(cid) for cid in page]}
        if start + limit < len(ids):
            query = f"limit={limit}&status=all&cursor={start + limit}" + (f"&lists={list_id}" if list_id else "")
            body["_links"] = {"next": {"href": f"/v3/contacts?{query}"}}
        return FakeResponse(200, body)

    @route("POST", r"/v3/contacts/sign_up_form")
    def sign_up_form(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        unknown = set(body) - SIGN_UP_FIELDS - {"list_memberships"}
        self.require(not unknown, f"unknown fields {sorted(unknown)}")  # permission_to_send among them
        email = body.get("email_address")
        self.require(isinstance(email, str) and "@" in email, "email_address is invalid")
        lists = body.get("list_memberships")
        self.require(isinstance(lists, list) and 1 <= len(lists) <= 50, "list_memberships: 1 to 50 lists")
        self.require(set(lists) <= set(self.list_ids.values()), "list_memberships: unknown list", 404)
        cid = next((c for c, r in self.contacts.items() if r["email"].lower() == email.lower()), None)
        created = cid is None
        cid = cid or self.contact(email)
        self.contacts[cid].update({k: v for k, v in body.items() if k in SIGN_UP_FIELDS - {"email_address"}})
        for list_id in lists:
            self.lists[list_id].add(cid)
        return FakeResponse(201 if created else 200, {"contact_id": cid, "action": "created" if created else "updated"})

    def _activity(self, request: FakeRequest, add: bool) -> FakeResponse:
        body = request.data()
        ids: list[str] = (body.get("source") or {}).get("contact_ids") or []
        lists: list[str] = body.get("list_ids") or []
        self.require(isinstance(ids, list) and 1 <= len(ids) <= 500, "source.contact_ids: 1 to 500")
        self.require(isinstance(lists, list) and 1 <= len(lists) <= 50, "list_ids: 1 to 50")
        self.require(set(lists) <= set(self.list_ids.values()), "list_ids: unknown list", 404)
        for list_id in lists:
            for cid in ids:
                if cid not in self.contacts:
                    continue  # the activity skips unknown contacts
                if add:
                    self.lists[list_id].add(cid)
                else:
                    self.lists[list_id].discard(cid)
        activity = self._uuid()
        kind = "add_memberships" if add else "remove_memberships"
        self.activities[activity] = {"activity_id": activity, "type": kind, "state": "completed", "count": len(ids)}
        return FakeResponse(201, {"activity_id": activity, "state": "initialized", "_links": {}})

    @route("POST", r"/v3/activities/add_list_memberships")
    def add_memberships(self, request: FakeRequest) -> FakeResponse:
        return self._activity(request, add=True)

    @route("POST", r"/v3/activities/remove_list_memberships")
    def remove_memberships(self, request: FakeRequest) -> FakeResponse:
        return self._activity(request, add=False)


FAKE = FakeConstantContact


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"access_token": TOKEN, "base_url": f"{fake.url}/v3"}
