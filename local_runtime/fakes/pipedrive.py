"""Fake Pipedrive: persons found by exact email search (duplicates allowed), created with an emails array,
labels as a whole ``label_ids`` set on the person, label options on the person Label field, and the
20-requests-per-2-seconds burst limit of an API token on the Lite plan."""

from __future__ import annotations

import itertools
import re
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TOKEN = "fake-pipedrive-token-0000000000"  # noqa: S105 - the fake's own test credential
LABEL_FIELD_ID = 9040
PERSON_FIELDS = {"name", "emails", "label_ids", "custom_fields"}
CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")


class FakePipedrive(FakePlatform):
    channel = "pipedrive"
    rates = {"default": (Rate(20, 2.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options: list[dict[str, Any]] = [{"id": 1, "label": "Customer", "color": "green"}]
        self._ids = itertools.count(1)
        self._option_ids = itertools.count(2)

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("x-api-token") == TOKEN

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(status, {"success": False, "error": message, "error_info": "", "data": None})

    def label_option(self, name: str) -> int:
        """A label option created in Pipedrive by someone else."""
        option_id = next(self._option_ids)
        self.options.append({"id": option_id, "label": name, "color": "blue"})
        return option_id

    def list_key(self, list_name: str) -> str:
        return next((str(o["id"]) for o in self.options if o["label"] == list_name), "")

    def members(self, list_name: str) -> set[str]:
        key = self.list_key(list_name)
        return {pid for pid, p in self.contacts.items() if key and int(key) in p["label_ids"]}

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[pid]["email"] for pid in self.members(list_name)}

    def person(self, email: str, **fields: Any) -> str:
        """A person created in Pipedrive by someone else (duplicates by email are allowed, as in Pipedrive)."""
        pid = str(next(self._ids))
        self.contacts[pid] = {"id": int(pid), "name": email, "email": email, "label_ids": [], "custom_fields": {}}
        self.contacts[pid] |= fields
        return pid

    def _view(self, pid: str) -> dict[str, Any]:
        record = self.contacts[pid]
        view = {k: v for k, v in record.items() if k != "email"}
        return view | {"emails": [{"value": record["email"], "primary": True, "label": "work"}]}

    def _write(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        unknown = set(body) - PERSON_FIELDS
        self.require(not unknown, f"unknown person fields {sorted(unknown)}")  # marketing_status among them
        if "label_ids" in body:
            labels = body["label_ids"]
            self.require(isinstance(labels, list) and all(isinstance(x, int) for x in labels), "label_ids: ints")
            known = {o["id"] for o in self.options}
            self.require(set(labels) <= known, "label_ids: unknown option")
            record["label_ids"] = list(labels)
        custom = body.get("custom_fields", {})
        self.require(isinstance(custom, dict) and all(CUSTOM_KEY.match(k) for k in custom), "custom_fields keys")
        record["custom_fields"].update(custom)
        if "name" in body:
            self.require(isinstance(body["name"], str) and body["name"], "name must be a non-empty string")
            record["name"] = body["name"]

    @route("GET", r"/v1/personFields")
    def person_fields(self, request: FakeRequest) -> FakeResponse:
        start, limit = int(request.arg("start", "0") or 0), int(request.arg("limit", "100") or 100)
        self.require(limit <= 500, "limit is at most 500")
        fields = [
            {"id": 9001, "key": "name", "name": "Name", "field_type": "varchar"},
            {"id": LABEL_FIELD_ID, "key": "label_ids", "name": "Labels", "field_type": "set", "options": self.options},
        ][start : start + limit]
        pagination = {"start": start, "limit": limit, "more_items_in_collection": False}
        return FakeResponse(200, {"success": True, "data": fields, "additional_data": {"pagination": pagination}})

    @route("PUT", r"/v1/personFields/(?P<field>\d+)")
    def update_person_field(self, request: FakeRequest, field: str) -> FakeResponse:
        self.require(int(field) == LABEL_FIELD_ID, "Field not found", 404)
        options = request.data().get("options")
        self.require(isinstance(options, list) and all(isinstance(o.get("label"), str) for o in options), "options")
        # As in Pipedrive, options sent without their id are new, and options left out are deleted.
        by_id = {o["id"]: o for o in self.options}
        kept = []
        for option in options:
            if "id" in option:
                self.require(option["id"] in by_id, "unknown option id")
                kept.append(by_id[option["id"]] | {"label": option["label"]})
            else:
                kept.append({"id": next(self._option_ids), "label": option["label"], "color": "blue"})
        gone = set(by_id) - {o["id"] for o in kept}
        for record in self.contacts.values():
            record["label_ids"] = [x for x in record["label_ids"] if x not in gone]
        self.options = kept
        return FakeResponse(200, {"success": True, "data": {"id": LABEL_FIELD_ID, "options": self.options}})

    @route("GET", r"/api/v2/persons/search")
    def search(self, request: FakeRequest) -> FakeResponse:
        term = request.arg("term") or ""
        self.require(request.arg("fields") == "email" and request.arg("exact_match") == "true", "exact email search")
        self.require(len(term) >= 2, "term must be at least 2 characters")
        items = [
            {"result_score": 1.0, "item": {"id": p["id"], "name": p["name"], "emails": [p["email"]]}}
            for p in self.contacts.values()
            if p["email"].lower() == term.lower()
        ]
        return FakeResponse(200, {"success": True, "data": {"items": items}})

    @route("POST", r"/api/v2/persons")
    def create_person(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        emails = body.get("emails")
        self.require(isinstance(body.get("name"), str) and body["name"], "name is required")
        self.require(isinstance(emails, list) and emails and isinstance(emails[0].get("value"), str), "emails")
        pid = self.person(emails[0]["value"])
        self._write(self.contacts[pid], {k: v for k, v in body.items() if k != "emails"})
        return FakeResponse(200, {"success": True, "data": self._view(pid)})

    @route("GET", r"/api/v2/persons/(?P<pid>\d+)")
    def get_person(self, request: FakeRequest, pid: str) -> FakeResponse:
        self.require(pid in self.contacts, "Person not found", 404)
        return FakeResponse(200, {"success": True, "data": self._view(pid)})

    @route("PATCH", r"/api/v2/persons/(?P<pid>\d+)")
    def update_person(self, request: FakeRequest, pid: str) -> FakeResponse:
        self.require(pid in self.contacts, "Person not found", 404)
        self._write(self.contacts[pid], request.data())
        return FakeResponse(200, {"success": True, "data": self._view(pid)})


FAKE = FakePipedrive


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"api_token": TOKEN, "base_url": fake.url}
