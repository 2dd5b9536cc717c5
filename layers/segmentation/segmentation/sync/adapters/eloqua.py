"""Oracle Eloqua REST 1.0: membership is a shared contact list (global scope).

List membership does not change ``isSubscribed`` or email-group subscriptions, and neither is ever sent.

* Base URL: discovered with ``GET https://login.eloqua.com/id`` (authenticated), which names the pod in
  ``urls.base``. Instances move between pods, so the answer is kept for an hour, and a 401 from a base older
  than this request sends the next attempt through discovery again.
* Upsert: ``GET /data/contacts?search=emailAddress='<address>'&depth=minimal`` (search syntax unverified); a
  match is written only when fields are mapped (``PUT /data/contact/{id}``); no match is created with
  ``POST /data/contact`` ``{"emailAddress", ...}``. Mapped fields: standard contact fields (``firstName``,
  ``lastName``, ``title``, ``accountName``, ``businessPhone``, ``city``, ``country``) or a custom field's
  numeric id (sent in ``fieldValues``).
* Add / remove: ``PUT /assets/contact/list/{id}`` ``{"id", "name": <current name>, "membershipAdditions":
  [...]}``, or ``"membershipDeletions"`` (field name unverified). The REST batch size is not documented:
  100 contacts per call, the size of one task. A refused batch is split by the engine; one contact refused
  on add is taken as a stale id (upserted again once).
* List ids: ``GET /assets/contact/lists?search=name='<list>'&depth=minimal``, else ``POST /assets/contact/list``
  ``{"name", "scope": "global"}`` (both unverified here), once per container.
* Limits and throttling: not documented for REST list updates (unverified). 429 is waited out (Retry-After
  when sent), 5xx retried with backoff.

Secret ``<prefix>eloqua``: ``{"site": "<company site name>", "username": "...", "password": "..."}``: HTTP Basic
with ``<site>\\<username>:<password>`` (``login_url`` overrides ``https://login.eloqua.com/id``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Retryable,
    Target,
    all_ok,
    ok,
    stale,
)

LOGIN = "https://login.eloqua.com/id"
BASE_TTL = 3600.0
_STANDARD_FIELDS = ("firstName", "lastName", "title", "accountName", "businessPhone", "city", "country")

SPEC = ChannelSpec(
    name="eloqua",
    title="Oracle Eloqua",
    representation="shared contact list",
    auth="HTTP Basic (site\\user:password); pod base URL discovered at login.eloqua.com/id",
    throttle_signal="unverified: 429 (Retry-After if sent) and 503 retried",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=100,
    remove_batch=100,
    rates={},  # none documented for REST
    can_list=False,
    field_pattern=r"^(firstName|lastName|title|accountName|businessPhone|city|country|[1-9][0-9]{0,8})$",
    unverified=(
        "membershipDeletions as the removal field of the contact list",
        "REST rate limits and throttle signal",
        "contact search syntax emailAddress='...'",
        "REST batch size for list membership changes (100 per call is used)",
        "finding and creating shared lists through /assets/contact/lists",
    ),
)


class EloquaAdapter:
    spec = SPEC

    def __init__(self, config: Mapping[str, Any], http: Http) -> None:
        site, user, password = (str(config.get(k) or "") for k in ("site", "username", "password"))
        if not site or not user or not password:
            raise NotConfigured("eloqua needs site, username and password")
        credentials = base64.b64encode(f"{site}\\{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}"}
        self.login = str(config.get("login_url") or LOGIN)
        self.http = http
        self._base: str | None = None
        self._base_at = 0.0
        self._lists: dict[str, tuple[str, str]] = {}  # list name -> (id, name as Eloqua holds it)

    def _discover(self) -> tuple[str, bool]:
        if self._base and time.time() - self._base_at < BASE_TTL:
            return self._base, False
        from segmentation.sync.http import check

        response = self.http.request("GET", self.login, headers=self.headers)
        answer = check(response, "eloqua login").json()
        if not isinstance(answer, dict) or not (answer.get("urls") or {}).get("base"):
            # login.eloqua.com/id answers "Not authenticated." with a 200 when the credentials are wrong.
            raise NotConfigured("eloqua login: credentials not accepted (no base URL in the answer)")
        self._base = str(answer["urls"]["base"]).rstrip("/") + "/api/REST/1.0"
        self._base_at = time.time()
        return self._base, True

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        base, fresh = self._discover()
        response = self.http.request(method, f"{base}{path}", headers=self.headers, **kwargs)
        if response.status == 401 and not fresh:
            self._base = None  # the instance may have moved to another pod: discover again
            raise Retryable("eloqua: 401 (base URL discovered again)", 0.0)
        return response

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"eloqua {what}").json() or {}

    @staticmethod
    def _quoted(value: str) -> str:
        return value.replace("'", "")  # a quote cannot be part of an address or list name we search for

    def _list(self, name: str) -> tuple[str, str]:
        if name not in self._lists:
            query = {"search": f"name='{self._quoted(name)}'", "depth": "minimal"}
            found = self._call("GET", "/assets/contact/lists", "find list", query=query).get("elements") or []
            match = next((x for x in found if x.get("name") == name), None)
            if match is None:
                body = {"name": name, "scope": "global", "description": "Synced segment membership"}
                match = self._call("POST", "/assets/contact/list", "create list", json_body=body)
            self._lists[name] = (str(match["id"]), str(match["name"]))
        return self._lists[name]

    @staticmethod
    def _attributes(contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {}
        custom = []
        for name, value in contact.fields.items():
            if name in _STANDARD_FIELDS:
                body[name] = value
            else:
                custom.append({"type": "FieldValue", "id": name, "value": value})
        if custom:
            body["fieldValues"] = custom
        return body

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            email = str(contact.email)
            query = {"search": f"emailAddress='{self._quoted(email)}'", "depth": "minimal"}
            found = self._call("GET", "/data/contacts", "find contact", query=query).get("elements") or []
            match = next((x for x in found if str(x.get("emailAddress", "")).lower() == email.lower()), None)
            attributes = self._attributes(contact)
            if match is not None:
                contact_id = str(match["id"])
                if attributes:
                    body = {"id": contact_id, "emailAddress": match["emailAddress"], **attributes}
                    self._call("PUT", f"/data/contact/{contact_id}", "update contact", json_body=body)
            else:
                body = {"emailAddress": email, **attributes}
                contact_id = str(self._call("POST", "/data/contact", "create contact", json_body=body)["id"])
            out[contact.customer_id] = ok(contact_id)
        return out

    def _membership(self, target: Target, contacts: list[Contact], field: str, what: str) -> Outcomes:
        from segmentation.sync.http import check

        list_id, name = self._list(target.list_name)
        body = {"id": list_id, "name": name, field: [str(c.platform_id) for c in contacts]}
        response = self._request("PUT", f"/assets/contact/list/{list_id}", json_body=body)
        if len(contacts) == 1 and response.status in (400, 404) and field == "membershipAdditions":
            # One contact refused: most likely an id deleted in Eloqua. Upsert again (once) rather than give up.
            return {contacts[0].customer_id: stale(f"eloqua refused the contact id ({response.status})")}
        check(response, f"eloqua {what}")  # several refused: the engine splits the batch to find the one
        return all_ok(contacts)

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._membership(target, contacts, "membershipAdditions", "add to list")

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._membership(target, contacts, "membershipDeletions", "remove from list")

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("eloqua members are not listed (SPEC.can_list is False)")


def create(config: Mapping[str, Any], http: Http) -> EloquaAdapter:
    return EloquaAdapter(config, http)
