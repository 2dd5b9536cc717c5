"""Fake Klaviyo (JSON:API): profiles, static lists, per-endpoint rate tiers, revision header required."""

from __future__ import annotations

import itertools
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

API_KEY = "pk_fake_0000000000000000"
RELATIONSHIP_LIMIT = 1000


class FakeKlaviyo(FakePlatform):
    channel = "klaviyo"
    rates = {"lists": (Rate(10, 1.0), Rate(150, 60.0)), "profiles": (Rate(75, 1.0), Rate(700, 60.0))}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_ids: dict[str, str] = {}
        self.by_email: dict[str, str] = {}
        self._ids = itertools.count(1)

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Authorization") == f"Klaviyo-API-Key {API_KEY}"

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(
            status, {"errors": [{"status": status, "code": "error", "title": message, "detail": message}]}
        )

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        seconds = max(1, round(retry_after))
        detail = f"Request was throttled. Expected available in {seconds} second."
        return FakeResponse(
            429, {"errors": [{"status": 429, "code": "throttled", "detail": detail}]}, {"Retry-After": str(seconds)}
        )

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        if not request.header("revision"):
            return self.error(400, "revision header is required")
        return super().dispatch(request)

    def list_key(self, list_name: str) -> str:
        return self.list_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[pid]["email"] for pid in self.members(list_name)}

    @route("POST", r"/api/profile-import", bucket="profiles")
    def profile_import(self, request: FakeRequest) -> FakeResponse:
        data: Any = request.data().get("data") or {}
        self.require(data.get("type") == "profile", "data.type must be profile")
        attributes: Any = data.get("attributes") or {}
        email: Any = attributes.get("email")
        self.require(isinstance(email, str) and "@" in email, "an identifier (email) is required")
        self.require("subscriptions" not in attributes, "profile-import does not take subscriptions")
        created = email.lower() not in self.by_email
        pid = self.by_email.setdefault(email.lower(), f"01FAKE{next(self._ids):020d}")
        profile = self.contacts.setdefault(pid, {"id": pid, "email": email.lower(), "properties": {}})
        for key, value in attributes.items():
            if key == "properties":
                profile["properties"].update(value)
            elif key != "email":
                profile[key] = value
        return FakeResponse(
            201 if created else 200, {"data": {"type": "profile", "id": pid, "attributes": {"email": email}}}
        )

    @route("GET", r"/api/lists", bucket="lists")
    def find_lists(self, request: FakeRequest) -> FakeResponse:
        wanted = request.arg("filter", "") or ""
        name = wanted.removeprefix('equals(name,"').removesuffix('")') if wanted.startswith("equals(name,") else None
        data = [
            {"type": "list", "id": lid, "attributes": {"name": n}}
            for n, lid in self.list_ids.items()
            if name is None or n == name
        ]
        return FakeResponse(200, {"data": data, "links": {"next": None}})

    @route("POST", r"/api/lists", bucket="lists")
    def create_list(self, request: FakeRequest) -> FakeResponse:
        data: Any = request.data().get("data") or {}
        name: Any = (data.get("attributes") or {}).get("name")
        self.require(data.get("type") == "list" and isinstance(name, str), "data.type list with attributes.name")
        lid = self.list_ids.setdefault(name, f"L{next(self._ids):05d}")
        return FakeResponse(201, {"data": {"type": "list", "id": lid, "attributes": {"name": name}}})

    def _relationship_ids(self, request: FakeRequest, list_id: str) -> list[str]:
        self.require(list_id in self.list_ids.values(), "list not found", 404)
        data = request.data().get("data")
        self.require(isinstance(data, list) and data, "data must be a non-empty list of profiles")
        self.require(len(data) <= RELATIONSHIP_LIMIT, f"at most {RELATIONSHIP_LIMIT} profiles per request")
        self.require(all(d.get("type") == "profile" and isinstance(d.get("id"), str) for d in data), "profile refs")
        ids = [d["id"] for d in data]
        unknown = [pid for pid in ids if pid not in self.contacts]
        self.require(not unknown, f"profile {unknown[:1]} not found", 404)
        return ids

    @route("POST", r"/api/lists/(?P<list_id>[^/]+)/relationships/profiles", bucket="lists")
    def add_profiles(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.lists[list_id].update(self._relationship_ids(request, list_id))
        return FakeResponse(204)

    @route("DELETE", r"/api/lists/(?P<list_id>[^/]+)/relationships/profiles", bucket="lists")
    def remove_profiles(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.lists[list_id].difference_update(self._relationship_ids(request, list_id))
        return FakeResponse(204)

    @route("GET", r"/api/lists/(?P<list_id>[^/]+)/relationships/profiles", bucket="lists")
    def list_profiles(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.require(list_id in self.list_ids.values(), "list not found", 404)
        cursor = int(request.arg("page[cursor]", "0") or 0)
        ids = sorted(self.lists[list_id])
        page = ids[cursor : cursor + 100]
        following = f"{self.url}/api/lists/{list_id}/relationships/profiles?page%5Bcursor%5D={cursor + 100}"
        nxt = following if cursor + 100 < len(ids) else None
        return FakeResponse(200, {"data": [{"type": "profile", "id": pid} for pid in page], "links": {"next": nxt}})


FAKE = FakeKlaviyo


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"api_key": API_KEY, "base_url": fake.url}
