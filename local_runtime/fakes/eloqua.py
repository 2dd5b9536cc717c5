"""Fake Oracle Eloqua: the login.eloqua.com/id discovery call naming the pod, HTTP Basic with
``site\\user:password``, contacts unique by address, shared contact lists updated with
``membershipAdditions`` / ``membershipDeletions`` on a PUT that must carry the list's id and current name.
No rate limit: none is documented for REST."""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

SITE, USER = "FakeCorp", "sync.user"
PASSWORD = "fake-eloqua-password-00000"  # noqa: S105 - the fake's own test credential
REST = "/api/REST/1.0"
CONTACT_FIELDS = {"id", "emailAddress", "firstName", "lastName", "title", "accountName", "businessPhone"}
CONTACT_FIELDS |= {"city", "country", "fieldValues"}
SEARCH = re.compile(r"^(?P<field>emailAddress|name)='(?P<value>[^']*)'$")


class FakeEloqua(FakePlatform):
    channel = "eloqua"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_ids: dict[str, str] = {}
        self.pod = "/pod03"  # the path this instance's pod answers on; moving pods changes it
        self._ids = itertools.count(1)

    def authorized(self, request: FakeRequest) -> bool:
        if request.path == "/id":
            return True  # answers 200 "Not authenticated." itself
        return self._credentials(request)

    def _credentials(self, request: FakeRequest) -> bool:
        expected = base64.b64encode(f"{SITE}\\{USER}:{PASSWORD}".encode()).decode()
        return request.header("Authorization") == f"Basic {expected}"

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(status, [{"type": "ObjectValidationError", "requirement": {"type": message}}])

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        if request.path.startswith("/pod"):
            if not request.path.startswith(self.pod + "/"):
                return self.error(401, "this instance is not on this pod")
            request.path = request.path[len(self.pod) :]
        return super().dispatch(request)

    def list_key(self, list_name: str) -> str:
        return self.list_ids.get(list_name, "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[cid]["emailAddress"] for cid in self.members(list_name) if cid in self.contacts}

    def contact(self, email: str, **fields: Any) -> str:
        """A contact created in Eloqua by someone else."""
        cid = str(next(self._ids))
        self.contacts[cid] = {"id": cid, "emailAddress": email, "isSubscribed": "true"} | fields
        return cid

    def _search(self, request: FakeRequest, field: str) -> str:
        match = SEARCH.match(request.arg("search") or "")
        self.require(match is not None and match["field"] == field, f"search must be {field}='...'")
        assert match is not None
        return match["value"]

    @route("GET", r"/id")
    def login(self, request: FakeRequest) -> FakeResponse:
        if not self._credentials(request):
            return FakeResponse(200, "Not authenticated.")
        base = f"{self.url}{self.pod}"
        return FakeResponse(200, {"site": {"name": SITE}, "user": {"username": USER}, "urls": {"base": base}})

    @route("GET", REST + r"/data/contacts")
    def find_contacts(self, request: FakeRequest) -> FakeResponse:
        email = self._search(request, "emailAddress").lower()
        rows = [
            {"type": "Contact", "id": c["id"], "emailAddress": c["emailAddress"]}
            for c in self.contacts.values()
            if c["emailAddress"].lower() == email
        ]
        return FakeResponse(200, {"elements": rows, "page": 1, "pageSize": 1000, "total": len(rows)})

    def _check_contact(self, body: dict[str, Any]) -> None:
        unknown = set(body) - CONTACT_FIELDS
        self.require(not unknown, f"unknown contact fields {sorted(unknown)}")  # isSubscribed among them
        self.require(isinstance(body.get("emailAddress"), str) and "@" in body["emailAddress"], "emailAddress")

    @route("POST", REST + r"/data/contact")
    def create_contact(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        self._check_contact(body)
        taken = any(c["emailAddress"].lower() == body["emailAddress"].lower() for c in self.contacts.values())
        self.require(not taken, "UniquenessViolation", 409)
        cid = self.contact(body["emailAddress"])
        self.contacts[cid].update({k: v for k, v in body.items() if k != "id"})
        return FakeResponse(201, self.contacts[cid])

    @route("PUT", REST + r"/data/contact/(?P<cid>\d+)")
    def update_contact(self, request: FakeRequest, cid: str) -> FakeResponse:
        self.require(cid in self.contacts, "contact not found", 404)
        body = request.data()
        self._check_contact(body)
        self.require(str(body.get("id")) == cid, "id must match the URL")
        self.contacts[cid].update(body)
        return FakeResponse(200, self.contacts[cid])

    @route("GET", REST + r"/assets/contact/lists")
    def find_lists(self, request: FakeRequest) -> FakeResponse:
        name = self._search(request, "name")
        rows = [{"type": "ContactList", "id": lid, "name": n} for n, lid in self.list_ids.items() if n == name]
        return FakeResponse(200, {"elements": rows, "page": 1, "pageSize": 1000, "total": len(rows)})

    @route("POST", REST + r"/assets/contact/list")
    def create_list(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        self.require(isinstance(body.get("name"), str) and body.get("scope") == "global", "name, scope global")
        self.require(body["name"] not in self.list_ids, "UniquenessViolation", 409)
        self.list_ids[body["name"]] = str(next(self._ids) + 5000)
        return FakeResponse(201, {"type": "ContactList", "id": self.list_ids[body["name"]], "name": body["name"]})

    @route("PUT", REST + r"/assets/contact/list/(?P<lid>\d+)")
    def update_list(self, request: FakeRequest, lid: str) -> FakeResponse:
        name = next((n for n, x in self.list_ids.items() if x == lid), None)
        self.require(name is not None, "list not found", 404)
        body = request.data()
        self.require(str(body.get("id")) == lid and body.get("name") == name, "id and current name are required")
        additions, deletions = body.get("membershipAdditions") or [], body.get("membershipDeletions") or []
        self.require(all(isinstance(x, str) for x in [*additions, *deletions]), "contact ids are strings")
        self.require(all(x in self.contacts for x in additions), "membershipAdditions: no such contact")
        self.lists[lid].update(additions)
        self.lists[lid].difference_update(deletions)
        return FakeResponse(200, {"type": "ContactList", "id": lid, "name": name, "count": len(self.lists[lid])})


FAKE = FakeEloqua


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"site": SITE, "username": USER, "password": PASSWORD, "login_url": f"{fake.url}/id"}
