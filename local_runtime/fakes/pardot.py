"""Fake Account Engagement (Pardot) API v5 with its Salesforce token endpoint: prospects upserted by email
(the latest one when several share it), static lists, list memberships with their own ids and ``optedOut``
flags, the Pardot-Business-Unit-Id header, and limit breaches as error codes in the body (66 daily,
122 concurrency) rather than a 429."""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import parse_qs

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

CLIENT_ID = "3MVG9fake.pardot.client"
CLIENT_SECRET = "fake-pardot-secret-0000000000"  # noqa: S105 - the fake's own test credential
REFRESH_TOKEN = "5Aep861fake.refresh"  # noqa: S105
BUSINESS_UNIT = "0Uv5f000000FAKEAAA"
PROSPECT_FIELD = re.compile(r"^(email|firstName|lastName|company|jobTitle|[A-Za-z0-9_]+__c)$")
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a path, not a secret
PREFIX = "/api/v5/objects"


class FakePardot(FakePlatform):
    channel = "pardot"
    rates = {"default": (Rate(25_000, 86_400.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.list_ids: dict[str, int] = {}
        self.memberships: dict[int, dict[str, Any]] = {}  # membership id -> {listId, prospectId, optedOut}
        self._ids = itertools.count(1001)

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        if request.path == TOKEN_PATH:  # Salesforce takes a form, not JSON
            request.body = {k: v[0] for k, v in parse_qs(request.raw.decode()).items()}
        return super().dispatch(request)

    def authorized(self, request: FakeRequest) -> bool:
        if request.path == TOKEN_PATH:
            return True
        auth = request.header("Authorization")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def error(self, status: int, message: str) -> FakeResponse:
        code = {400: 1, 401: 184, 404: 3}.get(status, 500)
        return FakeResponse(status, {"code": code, "message": message})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        # Over the daily window (a long wait) is code 66; anything else is the concurrency limit, code 122.
        if request.path == TOKEN_PATH:
            return FakeResponse(429, {"error": "rate_limited", "error_description": "too many token requests"})
        if retry_after > 60:
            return FakeResponse(400, {"code": 66, "message": "Daily API rate limit met."})
        return FakeResponse(400, {"code": 122, "message": "Concurrent API request limit exceeded."})

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # ------------------------------------------------------------------------------------------ state views

    def list_key(self, list_name: str) -> str:
        return str(self.list_ids.get(list_name, ""))

    def members(self, list_name: str) -> set[str]:
        list_id = self.list_ids.get(list_name)
        return {str(m["prospectId"]) for m in self.memberships.values() if m["listId"] == list_id}

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[pid]["email"] for pid in self.members(list_name) if pid in self.contacts}

    def prospect(self, email: str, **fields: Any) -> str:
        """A prospect created in Account Engagement by someone else."""
        pid = str(next(self._ids))
        self.contacts[pid] = {"id": int(pid), "email": email, "optedOut": False} | fields
        return pid

    def membership(self, list_id: int, prospect: str, opted_out: bool = False) -> int:
        mid = next(self._ids)
        self.memberships[mid] = {"id": mid, "listId": list_id, "prospectId": int(prospect), "optedOut": opted_out}
        return mid

    def _scope(self, request: FakeRequest) -> None:
        self.require(request.header("Pardot-Business-Unit-Id") == BUSINESS_UNIT, "Invalid business unit", 401)

    def _fields(self, request: FakeRequest, allowed: set[str]) -> None:
        wanted = set((request.arg("fields") or "").split(","))
        self.require(wanted <= allowed and wanted != {""}, "fields must name known fields")

    # ------------------------------------------------------------------------------------------ endpoints

    @route("POST", TOKEN_PATH)
    def token(self, request: FakeRequest) -> FakeResponse:
        form = request.data()
        good = form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
        if form.get("grant_type") == "refresh_token":
            good = good and form.get("refresh_token") == REFRESH_TOKEN
        elif form.get("grant_type") != "client_credentials":
            good = False
        if not good:
            return FakeResponse(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        self.tokens_issued += 1
        token = f"00Dfake!{self.tokens_issued}"
        self.tokens.add(token)
        return FakeResponse(200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer"})

    @route("POST", PREFIX + r"/prospects/do/upsertLatestByEmail")
    def upsert(self, request: FakeRequest) -> FakeResponse:
        self._scope(request)
        body = request.data()
        prospect = body.get("prospect")
        self.require(isinstance(body.get("matchEmail"), str) and isinstance(prospect, dict), "matchEmail, prospect")
        unknown = {k for k in prospect if not PROSPECT_FIELD.match(k)}  # optedOut among them: never ours
        self.require(not unknown, f"unknown prospect fields {sorted(unknown)}")
        same = [pid for pid, p in self.contacts.items() if p["email"].lower() == body["matchEmail"].lower()]
        pid = max(same, key=int) if same else self.prospect(body["matchEmail"])
        self.contacts[pid].update(prospect)
        return FakeResponse(200, {"id": int(pid)})

    @route("GET", PREFIX + r"/lists")
    def get_lists(self, request: FakeRequest) -> FakeResponse:
        self._scope(request)
        rows = [{"id": lid, "name": name, "isDynamic": False} for name, lid in self.list_ids.items()]
        return FakeResponse(200, {"values": rows, "nextPageToken": None, "nextPageUrl": None})

    @route("POST", PREFIX + r"/lists")
    def create_list(self, request: FakeRequest) -> FakeResponse:
        self._scope(request)
        body = request.data()
        self.require(isinstance(body.get("name"), str) and body.get("isDynamic") is False, "name, isDynamic false")
        self.list_ids[body["name"]] = next(self._ids)
        return FakeResponse(201, {"id": self.list_ids[body["name"]], "name": body["name"]})

    @route("POST", PREFIX + r"/list-memberships")
    def add_membership(self, request: FakeRequest) -> FakeResponse:
        self._scope(request)
        self._fields(request, {"id", "listId", "prospectId", "optedOut"})
        body = request.data()
        self.require(set(body) == {"listId", "prospectId"}, "body is listId and prospectId only")  # never optedOut
        self.require(body["listId"] in self.list_ids.values(), "Invalid list", 404)
        self.require(str(body["prospectId"]) in self.contacts, "Invalid prospect", 404)
        taken = any(
            m["listId"] == body["listId"] and m["prospectId"] == body["prospectId"] for m in self.memberships.values()
        )
        self.require(not taken, "The prospect is already a member of the list.")
        mid = self.membership(body["listId"], str(body["prospectId"]))
        return FakeResponse(201, {"id": mid, "listId": body["listId"], "prospectId": body["prospectId"]})

    @route("GET", PREFIX + r"/list-memberships")
    def find_memberships(self, request: FakeRequest) -> FakeResponse:
        self._scope(request)
        self._fields(request, {"id", "listId", "prospectId", "optedOut"})
        list_id, prospect = int(request.arg("listId") or 0), int(request.arg("prospectId") or 0)
        rows = [
            {"id": m["id"], "optedOut": m["optedOut"]}
            for m in self.memberships.values()
            if m["listId"] == list_id and m["prospectId"] == prospect
        ]
        return FakeResponse(200, {"values": rows, "nextPageToken": None, "nextPageUrl": None})

    @route("DELETE", PREFIX + r"/list-memberships/(?P<mid>\d+)")
    def delete_membership(self, request: FakeRequest, mid: str) -> FakeResponse:
        self._scope(request)
        self.require(int(mid) in self.memberships, "Invalid list membership", 404)
        del self.memberships[int(mid)]
        return FakeResponse(204)


FAKE = FakePardot


def config(fake: FakePlatform) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "token_url": fake.url + TOKEN_PATH,
        "business_unit_id": BUSINESS_UNIT,
        "base_url": fake.url + PREFIX,
    }
