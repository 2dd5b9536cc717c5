"""Pipedrive: membership is a person label (an option of the person "Label" field, several per person).

``label_ids`` is written as a whole set, so every change is a read-modify-write of one person: ``GET`` the
person, add or take away our label, ``PATCH`` only when the set changes. Other labels are kept as read.
Pipedrive has no conditional write, so a label changed by someone else between our read and write can be lost;
one person per call keeps that window to two requests. ``marketing_status`` (consent) is never sent.

* Upsert (no native upsert; email is not unique): ``GET /api/v2/persons/search?term=<email>&fields=email
  &exact_match=true``, the lowest id wins; a match is patched only when fields are mapped; no match is
  created with ``POST /api/v2/persons`` ``{"name", "emails": [{"value", "primary": true}]}``. Mapped fields:
  ``name`` or a custom field's 40-character key (sent under ``custom_fields``: the v2 shape is unverified).
* Label option ids: ``GET /v1/personFields`` (the field keyed ``label_ids`` or ``label``). A missing option is
  added with ``PUT /v1/personFields/{id}`` sending every existing option with its id plus the new label
  (unverified: adding options this way), once per container.
* Add/remove: ``GET /api/v2/persons/{id}``, then ``PATCH /api/v2/persons/{id}`` ``{"label_ids": [...]}``. A
  404 is a stale id on add and nothing to do on remove.
* Limits: burst per 2-second window per API token (Lite 20, Growth 40, Premium 100); the Lite figure is used.
  Daily token budgets are left to the 429. Rate-limit header names are unverified: Retry-After is honoured if
  present, else a 2-second wait (the burst window).

Secret ``<prefix>pipedrive``: ``{"api_token": "...", "company_domain": "<company>"}`` (optional domain: the
host is then ``https://<company>.pipedrive.com``; ``base_url`` overrides the host).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Rate,
    Target,
    ok,
    stale,
)

SPEC = ChannelSpec(
    name="pipedrive",
    title="Pipedrive",
    representation="person label (label_ids read-modify-write)",
    auth="x-api-token header",
    throttle_signal="429 (burst per 2 s or daily token budget; header names unverified)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=1,
    remove_batch=1,
    rates={"default": (Rate(20, 2.0),)},  # API-token burst limit on the Lite plan (the lowest)
    can_list=False,
    throttle_wait=2.0,
    field_pattern=r"^(name|[0-9a-f]{40})$",
    unverified=(
        "rate-limit header names (Retry-After honoured if sent, else a 2-second wait)",
        "v2 custom-field body shape (custom_fields object keyed by the 40-character field key)",
        "adding a label option through PUT /v1/personFields/{id} with the full options list",
        "move from a single v1 label to label_ids (both field keys are accepted)",
    ),
)


class PipedriveAdapter:
    spec = SPEC

    def __init__(self, base: str, token: str, http: Http) -> None:
        if not base or not token:
            raise NotConfigured("pipedrive needs api_token")
        self.base = base.rstrip("/")
        self.http = http
        self.headers = {"x-api-token": token}
        self._labels: dict[str, int] = {}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"pipedrive {what}").json() or {}

    def _label_field(self) -> dict[str, Any]:
        start = 0
        while True:
            page = self._call("GET", "/v1/personFields", "person fields", query={"start": start, "limit": 500})
            for field in page.get("data") or []:
                if field.get("key") in ("label_ids", "label"):
                    return dict(field)
            more = ((page.get("additional_data") or {}).get("pagination") or {}).get("more_items_in_collection")
            if not more:
                raise NotConfigured("pipedrive has no person Label field")
            start = int(page["additional_data"]["pagination"]["next_start"])

    def _label_id(self, name: str) -> int:
        if name not in self._labels:
            field = self._label_field()
            options = field.get("options") or []
            found = next((o for o in options if o.get("label") == name), None)
            if found is None:
                # Existing options go back with their ids, so none is dropped or renumbered.
                keep = [{"id": o["id"], "label": o["label"]} for o in options]
                body = {"options": [*keep, {"label": name}]}
                updated = self._call("PUT", f"/v1/personFields/{field['id']}", "add label", json_body=body)
                options = (updated.get("data") or {}).get("options") or []
                found = next((o for o in options if o.get("label") == name), None)
                if found is None:
                    raise NotConfigured("pipedrive did not keep the new label option")
            self._labels[name] = int(found["id"])
        return self._labels[name]

    @staticmethod
    def _attributes(contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {}
        custom = {name: value for name, value in contact.fields.items() if name != "name"}
        if "name" in contact.fields:
            body["name"] = contact.fields["name"]
        if custom:
            body["custom_fields"] = custom
        return body

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            query = {"term": contact.email, "fields": "email", "exact_match": "true"}
            found = self._call("GET", "/api/v2/persons/search", "search person", query=query)
            items = ((found.get("data") or {}).get("items")) or []
            attributes = self._attributes(contact)
            if items:
                # Email is not unique in Pipedrive: the oldest person is taken, the same one every time.
                person_id = str(min(int(item["item"]["id"]) for item in items))
                if attributes:
                    self._call("PATCH", f"/api/v2/persons/{person_id}", "update person", json_body=attributes)
            else:
                body = {
                    "name": contact.email,
                    **attributes,
                    "emails": [{"value": contact.email, "primary": True, "label": "work"}],
                }
                person_id = str(self._call("POST", "/api/v2/persons", "create person", json_body=body)["data"]["id"])
            out[contact.customer_id] = ok(person_id)
        return out

    def _relabel(self, contact: Contact, label: int, member: bool) -> bool:
        """Read the person's labels, write them back with ours added or taken away. False when not found."""
        from segmentation.sync.http import check

        response = self._request("GET", f"/api/v2/persons/{contact.platform_id}")
        if response.status == 404:
            return False
        person = check(response, "pipedrive read person").json().get("data") or {}
        labels = [int(x) for x in person.get("label_ids") or []]
        if (label in labels) == member:
            return True  # nothing to change: no write at all
        wanted = [*labels, label] if member else [x for x in labels if x != label]
        written = self._request("PATCH", f"/api/v2/persons/{contact.platform_id}", json_body={"label_ids": wanted})
        if written.status == 404:
            return False
        check(written, "pipedrive write labels")
        return True

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        label = self._label_id(target.list_name)
        return {c.customer_id: ok() if self._relabel(c, label, True) else stale("person not found") for c in contacts}

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        label = self._label_id(target.list_name)
        for contact in contacts:
            self._relabel(contact, label, False)  # a deleted person holds no label: done either way
        return {c.customer_id: ok() for c in contacts}

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("pipedrive members are not listed (SPEC.can_list is False)")


def create(config: Mapping[str, Any], http: Http) -> PipedriveAdapter:
    domain = str(config.get("company_domain") or "").strip()
    host = f"https://{domain}.pipedrive.com" if domain else "https://api.pipedrive.com"
    return PipedriveAdapter(str(config.get("base_url") or host), str(config.get("api_token") or ""), http)
