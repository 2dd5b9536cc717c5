"""Fake Dataverse Web API for Dynamics 365 Customer Insights - Journeys, with Entra ID's token endpoint:
contacts (email not unique, optional alternate key), static marketing lists and their contact members."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TENANT = "00000000-0000-4000-8000-00000000fa4e"
CLIENT_ID = "11111111-1111-4111-8111-111111111111"
CLIENT_SECRET = "fake~dynamics~secret"  # noqa: S105 - the fake's own test credential
LIST_NAME, LIST_ID = "seg-vip", "5f6a1c2e-0000-4000-8000-000000000001"
API = "/api/data/v9.2"
MEMBER_LIMIT = 100
TOKEN_LIFETIME = 3599
GUID = r"[0-9a-f-]{36}"
_EMAIL_FILTER = re.compile(r"^emailaddress1 eq '((?:[^']|'')*)'$")
_NAME_FILTER = re.compile(r"^listname eq '((?:[^']|'')*)'$")
CONTACT_FIELDS = {"emailaddress1", "firstname", "lastname", "telephone1", "address1_country", "donotbulkemail"}


class FakeDynamics(FakePlatform):
    channel = "dynamics"
    rates = {"default": (Rate(6000, 300.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.alternate_key = False  # an alternate key on emailaddress1 is defined in the environment
        self.marketing_lists: dict[str, dict[str, Any]] = {
            LIST_ID: {"listid": LIST_ID, "listname": LIST_NAME, "type": False, "createdfromcode": 2}
        }
        self._created = 0

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        if request.path.endswith("/oauth2/v2.0/token"):  # Entra ID takes a form, not JSON
            form = parse_qs(request.raw.decode())
            request.body = {k: v[0] for k, v in form.items()}
        return super().dispatch(request)

    def authorized(self, request: FakeRequest) -> bool:
        if request.path.endswith("/oauth2/v2.0/token"):
            return True
        token = request.header("Authorization").removeprefix("Bearer ")
        return self.tokens.get(token, 0.0) > self.clock.time()

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(
            status, {"error": {"code": "0x80040217" if status == 404 else "0x80040203", "message": message}}
        )

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        message = "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
        body = {"error": {"code": "0x80072322", "message": message}}
        return FakeResponse(429, body, {"Retry-After": str(max(1, round(retry_after)))})

    def list_key(self, list_name: str) -> str:
        return next((lid for lid, row in self.marketing_lists.items() if row["listname"] == list_name), "")

    def member_emails(self, list_name: str) -> set[str]:
        return {self.contacts[cid]["emailaddress1"].lower() for cid in self.members(list_name) if cid in self.contacts}

    def contact(self, email: str, **fields: Any) -> str:
        """A contact created in Dynamics by someone else."""
        cid = str(uuid.uuid4())
        self._created += 1
        self.contacts[cid] = {"contactid": cid, "emailaddress1": email, "createdon": self._created, **fields}
        return cid

    def _created_at(self, cid: str) -> FakeResponse:
        return FakeResponse(204, None, {"OData-EntityId": f"{self.url}{API}/contacts({cid})"})

    def _values(self, body: Any) -> dict[str, Any]:
        self.require(isinstance(body, dict), "the body is a contact object")
        unknown = sorted(set(body) - CONTACT_FIELDS)
        self.require(not unknown, f"'contact' entity doesn't contain attribute with Name = '{unknown[:1]}'")
        return dict(body)

    # ------------------------------------------------------------------------------------------ auth

    @route("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", bucket="auth")
    def token(self, request: FakeRequest, tenant: str) -> FakeResponse:
        form = request.data()
        if (
            tenant != TENANT
            or form.get("grant_type") != "client_credentials"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return FakeResponse(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret"})
        self.require(form.get("scope") == f"{self.url}/.default", "scope must be <org>/.default")
        token = f"eyJ0eXAi.{secrets.token_hex(12)}"
        self.tokens[token] = self.clock.time() + TOKEN_LIFETIME
        self.tokens_issued += 1
        return FakeResponse(200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "access_token": token})

    # ------------------------------------------------------------------------------------------ contacts

    @route("GET", rf"{API}/contacts")
    def find_contacts(self, request: FakeRequest) -> FakeResponse:
        match = _EMAIL_FILTER.match(request.arg("$filter", "") or "")
        self.require(match is not None, "only $filter=emailaddress1 eq '...' is supported")
        assert match is not None
        email = match.group(1).replace("''", "'").lower()
        rows = sorted(
            (c for c in self.contacts.values() if str(c["emailaddress1"]).lower() == email),
            key=lambda c: c["createdon"],
        )
        top = int(request.arg("$top", "5000") or 5000)
        return FakeResponse(200, {"value": [{"contactid": c["contactid"]} for c in rows[:top]]})

    @route("POST", rf"{API}/contacts")
    def create_contact(self, request: FakeRequest) -> FakeResponse:
        values = self._values(request.data())
        self.require(isinstance(values.get("emailaddress1"), str), "emailaddress1 is required")
        return self._created_at(self.contact(**{"email": values.pop("emailaddress1")}, **values))

    @route("PATCH", rf"{API}/contacts\((?P<key>{GUID}|emailaddress1=[^)]+)\)")
    def update_contact(self, request: FakeRequest, key: str) -> FakeResponse:
        values = self._values(request.data())
        if key.startswith("emailaddress1="):
            self.require(self.alternate_key, "no alternate key on emailaddress1 is defined for contact")
            email = unquote(key.removeprefix("emailaddress1=")).strip("'").replace("''", "'")
            cid = next((c for c, row in self.contacts.items() if row["emailaddress1"].lower() == email.lower()), None)
            cid = cid or self.contact(email)
        else:
            cid = key
            if cid not in self.contacts:
                # PATCH by id is an upsert in Dataverse unless If-Match: * says "update only".
                self.require(request.header("If-Match") != "*", f"contact With Id = {cid} Does Not Exist", 404)
                self.contacts[cid] = {"contactid": cid, "createdon": 0}
        self.contacts[cid].update(values)
        return self._created_at(cid)

    # ------------------------------------------------------------------------------------------ lists

    @route("GET", rf"{API}/lists")
    def find_lists(self, request: FakeRequest) -> FakeResponse:
        match = _NAME_FILTER.match(request.arg("$filter", "") or "")
        self.require(match is not None, "only $filter=listname eq '...' is supported")
        assert match is not None
        name = match.group(1).replace("''", "'")
        return FakeResponse(200, {"value": [row for row in self.marketing_lists.values() if row["listname"] == name]})

    @route("POST", rf"{API}/AddListMembersList")
    def add_members(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        target, members = body.get("List") or {}, body.get("Members")
        self.require(target.get("@odata.type") == "Microsoft.Dynamics.CRM.list", "List must be a list entity reference")
        self.require(target.get("listid") in self.marketing_lists, "list Does Not Exist", 404)
        self.require(isinstance(members, list) and members, "Members is required")
        self.require(len(members) <= MEMBER_LIMIT, f"at most {MEMBER_LIMIT} members per call")
        ids = []
        for member in members:
            self.require(member.get("@odata.type") == "Microsoft.Dynamics.CRM.contact", "Members must be contacts")
            cid = str(member.get("contactid"))
            self.require(cid in self.contacts, f"contact With Id = {cid} Does Not Exist", 404)
            ids.append(cid)
        self.lists[target["listid"]].update(ids)  # all or nothing: nothing was added if one failed
        return FakeResponse(204)

    @route("DELETE", rf"{API}/lists\((?P<list_id>{GUID})\)/listcontact_association\((?P<cid>{GUID})\)/\$ref")
    def remove_member(self, request: FakeRequest, list_id: str, cid: str) -> FakeResponse:
        self.require(list_id in self.marketing_lists, "list Does Not Exist", 404)
        self.require(cid in self.lists[list_id], "The association does not exist", 404)
        self.lists[list_id].discard(cid)
        return FakeResponse(204)

    @route("GET", rf"{API}/lists\((?P<list_id>{GUID})\)/listcontact_association")
    def list_members(self, request: FakeRequest, list_id: str) -> FakeResponse:
        self.require(list_id in self.marketing_lists, "list Does Not Exist", 404)
        skip = int(request.arg("$skiptoken", "0") or 0)
        ids = sorted(self.lists[list_id])
        page = ids[skip : skip + 100]
        body: dict[str, Any] = {"value": [{"contactid": cid} for cid in page]}
        if skip + 100 < len(ids):
            body["@odata.nextLink"] = (
                f"{self.url}{API}/lists({list_id})/listcontact_association?$select=contactid&$skiptoken={skip + 100}"
            )
        return FakeResponse(200, body)


FAKE = FakeDynamics


def config(fake: FakePlatform) -> dict[str, Any]:
    return {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "org_url": fake.url,
        "login_url": fake.url,
    }
