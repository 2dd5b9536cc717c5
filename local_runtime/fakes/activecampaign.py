"""Fake ActiveCampaign API v3: contacts synced by address, contact tags with their own link ids, list
statuses that must never be touched, and the 5-requests-per-second account limit."""

from __future__ import annotations

import itertools
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TOKEN = "fake-ac-token-0000000000000000"  # noqa: S105 - the fake's own test credential
CONTACT_FIELDS = {"email", "firstName", "lastName", "phone", "fieldValues"}


class FakeActiveCampaign(FakePlatform):
    channel = "activecampaign"
    rates = {"default": (Rate(5, 1.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag_ids: dict[str, str] = {}
        self.by_email: dict[str, str] = {}
        self.links: dict[tuple[str, str], str] = {}  # (contact, tag) -> contactTag id
        self._ids = itertools.count(101)

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Api-Token") == TOKEN

    def error(self, status: int, message: str) -> FakeResponse:
        if status in (400, 422):
            return FakeResponse(422, {"errors": [{"title": message, "detail": "", "source": {"pointer": ""}}]})
        return FakeResponse(status, {"message": message})

    def list_key(self, list_name: str) -> str:
        return self.tag_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[cid]["email"] for cid in self.members(list_name) if cid in self.contacts}

    def contact(self, email: str, **fields: Any) -> str:
        """A contact created in ActiveCampaign by someone else."""
        cid = str(next(self._ids))
        self.contacts[cid] = {"id": cid, "email": email.lower(), "fieldValues": {}, "listStatus": {}} | fields
        self.by_email[email.lower()] = cid
        return cid

    def _link(self, contact: str, tag: str) -> str:
        return self.links.setdefault((contact, tag), str(next(self._ids)))

    @route("POST", r"/api/3/contact/sync")
    def sync(self, request: FakeRequest) -> FakeResponse:
        person = request.data().get("contact")
        self.require(isinstance(person, dict), "contact is required")
        email = person.get("email")
        self.require(isinstance(email, str) and "@" in email, "Email address is not valid")
        unknown = set(person) - CONTACT_FIELDS
        self.require(not unknown, f"unknown contact fields {sorted(unknown)}")
        cid = self.by_email.get(email.lower())
        created = cid is None
        cid = cid or self.contact(email)
        record = self.contacts[cid]
        for key, value in person.items():
            if key == "fieldValues":
                record["fieldValues"].update({str(v["field"]): v["value"] for v in value})
            elif key != "email":
                record[key] = value
        return FakeResponse(201 if created else 200, {"contact": {"id": cid, "email": record["email"]}})

    @route("GET", r"/api/3/tags")
    def find_tags(self, request: FakeRequest) -> FakeResponse:
        search = (request.arg("search", "") or "").lower()
        rows = [{"id": tid, "tag": n, "tagType": "contact"} for n, tid in self.tag_ids.items() if search in n.lower()]
        return FakeResponse(200, {"tags": rows, "meta": {"total": str(len(rows))}})

    @route("POST", r"/api/3/tags")
    def create_tag(self, request: FakeRequest) -> FakeResponse:
        tag = request.data().get("tag") or {}
        self.require(isinstance(tag.get("tag"), str) and tag.get("tagType") == "contact", "tag and tagType")
        self.require(tag["tag"] not in self.tag_ids, "Tag already exists")
        self.tag_ids[tag["tag"]] = str(next(self._ids))
        return FakeResponse(201, {"tag": {"id": self.tag_ids[tag["tag"]], "tag": tag["tag"], "tagType": "contact"}})

    @route("POST", r"/api/3/contactTags")
    def add_tag(self, request: FakeRequest) -> FakeResponse:
        link = request.data().get("contactTag") or {}
        contact, tag = str(link.get("contact")), str(link.get("tag"))
        self.require(tag in self.tag_ids.values(), "No Result found for Tag", 404)
        self.require(contact in self.contacts, "No Result found for Subscriber", 404)
        self.lists[tag].add(contact)
        return FakeResponse(201, {"contactTag": {"id": self._link(contact, tag), "contact": contact, "tag": tag}})

    @route("GET", r"/api/3/contacts/(?P<contact>\d+)/contactTags")
    def contact_tags(self, request: FakeRequest, contact: str) -> FakeResponse:
        self.require(contact in self.contacts, "No Result found for Subscriber", 404)
        rows = [
            {"id": self._link(contact, tag), "contact": contact, "tag": tag}
            for tag, members in self.lists.items()
            if contact in members
        ]
        return FakeResponse(200, {"contactTags": rows})

    @route("DELETE", r"/api/3/contactTags/(?P<link>\d+)")
    def remove_tag(self, request: FakeRequest, link: str) -> FakeResponse:
        pair = next((key for key, value in self.links.items() if value == link), None)
        self.require(pair is not None and pair[0] in self.lists[pair[1]], "No Result found for ContactTag", 404)
        assert pair is not None
        self.lists[pair[1]].discard(pair[0])
        return FakeResponse(200, {})

    @route("GET", r"/api/3/contacts")
    def list_contacts(self, request: FakeRequest) -> FakeResponse:
        tag = request.arg("tagid", "") or ""
        limit = int(request.arg("limit", "20") or 20)
        offset = int(request.arg("offset", "0") or 0)
        self.require(limit <= 100, "limit is at most 100")
        ids = sorted(self.lists.get(tag, set()) if tag else set(self.contacts), key=int)
        rows = [{"id": cid, "email": self.contacts[cid]["email"]} for cid in ids[offset : offset + limit]]
        return FakeResponse(200, {"contacts": rows, "meta": {"total": str(len(ids))}})


FAKE = FakeActiveCampaign


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"api_url": fake.url, "api_token": TOKEN}
