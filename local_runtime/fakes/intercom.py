"""Fake Intercom: contacts found by search and created with a role, tags created or found by name, contact tags
added and removed one at a time, and 429 ``rate_limit_exceeded`` with an ``X-RateLimit-Reset`` epoch."""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TOKEN = "fake-intercom-token-000000000000"  # noqa: S105 - the fake's own test credential
VERSIONS = {"2.9", "2.10", "2.11", "Unstable"}
WRITABLE = {"role", "email", "external_id", "name", "phone", "custom_attributes"}


class FakeIntercom(FakePlatform):
    channel = "intercom"
    rates = {"default": (Rate(1666, 10.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag_ids: dict[str, str] = {}
        self._ids = itertools.count(1)

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Authorization") == f"Bearer {TOKEN}"

    def error(self, status: int, message: str) -> FakeResponse:
        code = {400: "parameter_invalid", 401: "unauthorized", 404: "not_found", 409: "conflict"}.get(status, "server")
        return FakeResponse(
            status, {"type": "error.list", "request_id": "fake", "errors": [{"code": code, "message": message}]}
        )

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        # The reset is Unix time on Intercom's (real-world) clock: the wait it implies is ``retry_after``.
        headers = {
            "X-RateLimit-Limit": "1666",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(time.time() + retry_after)),
        }
        body = {"type": "error.list", "errors": [{"code": "rate_limit_exceeded", "message": "Rate Limit Exceeded"}]}
        return FakeResponse(429, body, headers)

    def list_key(self, list_name: str) -> str:
        return self.tag_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[cid]["email"] for cid in self.members(list_name) if cid in self.contacts}

    def contact(self, email: str, **fields: Any) -> str:
        """A contact created in Intercom by someone else."""
        cid = f"6{next(self._ids):07x}"
        self.contacts[cid] = {"id": cid, "role": "user", "email": email, "unsubscribed_from_emails": False} | fields
        return cid

    def _version(self, request: FakeRequest) -> None:
        version = request.header("Intercom-Version")
        self.require(not version or version in VERSIONS, f"Requested version {version} is not valid")

    def _attributes(self, body: dict[str, Any]) -> None:
        unknown = set(body) - WRITABLE
        self.require(not unknown, f"unknown contact attributes {sorted(unknown)}")
        self.require("unsubscribed_from_emails" not in body, "consent is not ours to write")
        self.require(isinstance(body.get("custom_attributes", {}), dict), "custom_attributes must be an object")

    @route("POST", r"/contacts/search")
    def search(self, request: FakeRequest) -> FakeResponse:
        self._version(request)
        query = request.data().get("query")
        self.require(isinstance(query, dict) and {"field", "operator", "value"} <= set(query), "query is invalid")
        self.require(query["field"] in ("email", "external_id") and query["operator"] == "=", "unsupported query")
        rows = [c for c in self.contacts.values() if c.get(query["field"]) == query["value"]]
        return FakeResponse(200, {"type": "list", "data": rows, "total_count": len(rows)})

    @route("POST", r"/contacts")
    def create_contact(self, request: FakeRequest) -> FakeResponse:
        self._version(request)
        body = request.data()
        self._attributes(body)
        self.require(body.get("role") in ("user", "lead"), "role must be user or lead")
        self.require(isinstance(body.get("email"), str) and "@" in body["email"], "email is invalid")
        taken = any(c["email"] == body["email"] and c["role"] == "user" for c in self.contacts.values())
        self.require(not taken, "A contact matching those details already exists", 409)
        cid = self.contact(body["email"])
        self._update(self.contacts[cid], body)
        return FakeResponse(200, self.contacts[cid])

    @route("PUT", r"/contacts/(?P<cid>[0-9a-f]+)")
    def update_contact(self, request: FakeRequest, cid: str) -> FakeResponse:
        self._version(request)
        self.require(cid in self.contacts, "User Not Found", 404)
        body = request.data()
        self._attributes(body)
        self._update(self.contacts[cid], body)
        return FakeResponse(200, self.contacts[cid])

    @staticmethod
    def _update(record: dict[str, Any], body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key == "custom_attributes":
                record.setdefault("custom_attributes", {}).update(value)
            else:
                record[key] = value

    @route("POST", r"/tags")
    def create_or_find_tag(self, request: FakeRequest) -> FakeResponse:
        self._version(request)
        name = request.data().get("name")
        self.require(isinstance(name, str) and name, "name is required")
        self.require("users" not in request.data() and "companies" not in request.data(), "bulk tagging not used")
        tag = self.tag_ids.setdefault(name, str(next(self._ids)))
        return FakeResponse(200, {"type": "tag", "id": tag, "name": name})

    @route("POST", r"/contacts/(?P<cid>[0-9a-f]+)/tags")
    def tag_contact(self, request: FakeRequest, cid: str) -> FakeResponse:
        self._version(request)
        tag = request.data().get("id")
        self.require(set(request.data()) == {"id"} and isinstance(tag, str), "body must be {id: <tag id>}")
        self.require(cid in self.contacts, "User Not Found", 404)
        self.require(tag in self.tag_ids.values(), "Tag not found", 404)
        self.lists[tag].add(cid)
        name = next(n for n, t in self.tag_ids.items() if t == tag)
        return FakeResponse(200, {"type": "tag", "id": tag, "name": name})

    @route("DELETE", r"/contacts/(?P<cid>[0-9a-f]+)/tags/(?P<tag>\d+)")
    def untag_contact(self, request: FakeRequest, cid: str, tag: str) -> FakeResponse:
        self._version(request)
        self.require(cid in self.contacts, "User Not Found", 404)
        self.require(tag in self.tag_ids.values(), "Tag not found", 404)
        self.lists[tag].discard(cid)
        name = next(n for n, t in self.tag_ids.items() if t == tag)
        return FakeResponse(200, {"type": "tag", "id": tag, "name": name})


FAKE = FakeIntercom


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"access_token": TOKEN, "region": "us", "intercom_version": "2.11", "base_url": fake.url}
