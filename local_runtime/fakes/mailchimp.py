"""Fake Mailchimp Marketing API v3: an audience, its members, and static segments (tags)."""

from __future__ import annotations

import base64
import hashlib
import itertools
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

API_KEY = "0123456789abcdef0123456789abcdef-us6"
LIST_ID = "aud0001"
BATCH_LIMIT = 500


def _hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - Mailchimp's id


class FakeMailchimp(FakePlatform):
    channel = "mailchimp"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.segment_ids: dict[str, int] = {}
        self._ids = itertools.count(1001)

    def authorized(self, request: FakeRequest) -> bool:
        header = request.header("Authorization")
        if not header.startswith("Basic "):
            return False
        try:
            _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return password == API_KEY

    def error(self, status: int, message: str) -> FakeResponse:
        # Problem document, as Mailchimp answers errors.
        return FakeResponse(status, {"type": "about:blank", "title": message[:60], "status": status, "detail": message})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        return self.error(429, "Too many concurrent connections")  # no Retry-After, no rate headers

    def list_key(self, list_name: str) -> str:
        return str(self.segment_ids.get(list_name, ""))

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[h]["email_address"] for h in self.members(list_name)}

    def _audience(self, list_id: str) -> None:
        self.require(list_id == LIST_ID, f"audience {list_id} not found", 404)

    @route("PUT", r"/3.0/lists/(?P<list_id>[^/]+)/members/(?P<member>[0-9a-f]{32})")
    def upsert_member(self, request: FakeRequest, list_id: str, member: str) -> FakeResponse:
        self._audience(list_id)
        body = request.data()
        email = body.get("email_address")
        self.require(isinstance(email, str) and "@" in email, "email_address is required")
        self.require(_hash(email) == member, "subscriber hash does not match email_address")
        # Sending "status" would overwrite an existing member's subscription: the adapter must not.
        self.require("status" not in body, "status must not be sent on upsert (use status_if_new)")
        self.require(body.get("status_if_new") in ("subscribed", "pending", "transactional"), "bad status_if_new")
        existing = self.contacts.get(member)
        if existing is None:
            self.contacts[member] = {"id": member, "email_address": email, "status": body["status_if_new"]}
        existing = self.contacts[member]
        existing["merge_fields"] = {**existing.get("merge_fields", {}), **(body.get("merge_fields") or {})}
        return FakeResponse(200, existing)

    @route("GET", r"/3.0/lists/(?P<list_id>[^/]+)/segments")
    def list_segments(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self._audience(list_id)
        count = int(request.arg("count", "10") or 10)
        offset = int(request.arg("offset", "0") or 0)
        self.require(count <= 1000, "count must be at most 1000")
        items = [
            {"id": sid, "name": name, "type": "static", "member_count": len(self.lists[str(sid)])}
            for name, sid in sorted(self.segment_ids.items())
        ]
        return FakeResponse(200, {"segments": items[offset : offset + count], "total_items": len(items)})

    @route("POST", r"/3.0/lists/(?P<list_id>[^/]+)/segments")
    def create_segment(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self._audience(list_id)
        body = request.data()
        name = body.get("name")
        self.require(isinstance(name, str) and 0 < len(name) <= 100, "name is required")
        self.require(isinstance(body.get("static_segment"), list), "static_segment is required for a tag")
        self.require(name not in self.segment_ids, "a segment with this name already exists")
        self.segment_ids[name] = next(self._ids)
        return FakeResponse(200, {"id": self.segment_ids[name], "name": name, "type": "static"})

    @route("POST", r"/3.0/lists/(?P<list_id>[^/]+)/segments/(?P<segment>\d+)")
    def batch_segment(self, request: FakeRequest, list_id: str, segment: str) -> FakeResponse:
        self._audience(list_id)
        self.require(int(segment) in self.segment_ids.values(), f"segment {segment} not found", 404)
        body = request.data()
        adds, removes = body.get("members_to_add") or [], body.get("members_to_remove") or []
        self.require(bool(adds) or bool(removes), "members_to_add or members_to_remove is required")
        self.require(len(adds) <= BATCH_LIMIT and len(removes) <= BATCH_LIMIT, "at most 500 members per batch")
        members = self.lists[segment]
        added, removed, errors = [], [], []
        for key, emails in (("add", adds), ("remove", removes)):
            failing = self.partial(emails)
            for index, email in enumerate(emails):
                member = _hash(str(email))
                if index in failing:
                    # Mailchimp's error texts name the address; ours must never reach our logs or status.
                    errors.append({"email_addresses": [email], "error": f"{email} could not be updated, try again"})
                elif member not in self.contacts:
                    errors.append(
                        {"email_addresses": [email], "error": "Email address is not a member of this audience"}
                    )
                elif key == "add" and member not in members:
                    members.add(member)
                    added.append({"id": member, "email_address": email})
                elif key == "remove" and member in members:
                    members.discard(member)
                    removed.append({"id": member, "email_address": email})
        return FakeResponse(
            200,
            {
                "members_added": added,
                "members_removed": removed,
                "errors": errors,
                "total_added": len(added),
                "total_removed": len(removed),
                "error_count": len(errors),
            },
        )

    @route("DELETE", r"/3.0/lists/(?P<list_id>[^/]+)/segments/(?P<segment>\d+)/members/(?P<member>[0-9a-f]{32})")
    def untag_member(self, request: FakeRequest, list_id: str, segment: str, member: str) -> FakeResponse:
        self._audience(list_id)
        members = self.lists[segment]
        self.require(member in members, "member is not in this segment", 404)
        members.discard(member)
        return FakeResponse(204)

    @route("GET", r"/3.0/lists/(?P<list_id>[^/]+)/segments/(?P<segment>\d+)/members")
    def segment_members(self, request: FakeRequest, list_id: str, segment: str) -> FakeResponse:
        self._audience(list_id)
        count = int(request.arg("count", "10") or 10)
        offset = int(request.arg("offset", "0") or 0)
        self.require(count <= 1000, "count must be at most 1000")
        ids = sorted(self.lists[segment])
        page = [{"id": h, "email_address": self.contacts[h]["email_address"]} for h in ids[offset : offset + count]]
        return FakeResponse(200, {"members": page, "total_items": len(ids)})


FAKE = FakeMailchimp


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"api_key": API_KEY, "list_id": LIST_ID, "base_url": f"{fake.url}/3.0"}
