"""Zoho CRM: membership is a tag on the Contacts (or Leads) record; Zoho CRM has no static contact list.

* Token: Zoho Accounts, refresh-token grant ``POST {accounts}/oauth/v2/token`` (about an hour). The answer names
  the ``api_domain`` of the account's data centre, which every call then uses. Renewed on ``INVALID_TOKEN``.
* Upsert: ``POST /crm/{version}/{Module}/upsert`` with ``duplicate_check_fields: ["Email"]`` (100 records);
  ``data[]`` answers each record in order. Contacts need ``Last_Name``: a new contact without one is refused
  (``MANDATORY_NOT_FOUND``) and, when ``placeholder_last_name`` is configured, created again with it; an
  existing contact never gets the placeholder, so no real name is overwritten. ``Email_Opt_Out`` and GDPR
  fields are never sent (a destination's field mapping cannot name them).
* Add / remove: ``POST /crm/v2/{Module}/actions/add_tags`` / ``remove_tags`` with ``ids`` and ``tag_names`` in
  the query (the documented v2 form; where ``ids`` goes in the v8 JSON body is unverified). Up to 500 ids;
  ``data[]`` answers per record; ``INVALID_DATA`` for an id means the record is gone (stale on add, done on
  remove). The tag is created once per container first (``POST /crm/{version}/settings/tags``).
* Limits: API credits per rolling 24 hours by edition, and concurrency limits: nothing to pace per request.
  429 is retried with backoff (its code names are unverified); exhausted credits do not free up quickly, and
  the engine hands the task back to the queue rather than hot-retrying.

Secret ``<prefix>zoho``: ``{"client_id": "...", "client_secret": "...", "refresh_token": "...",
"accounts_url": "https://accounts.zoho.eu", "module": "Contacts", "placeholder_last_name": "(unknown)"}``
(``base_url`` overrides the ``api_domain`` the token names).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcome,
    Outcomes,
    Retryable,
    Target,
    ok,
    retry,
    stale,
    terminal,
)

_TERMINAL_CODES = frozenset({"INVALID_DATA", "MANDATORY_NOT_FOUND", "DUPLICATE_DATA", "MULTIPLE_OR_MULTI_ERRORS"})

SPEC = ChannelSpec(
    name="zoho",
    title="Zoho CRM",
    representation="tag on the Contacts (or Leads) record",
    auth="OAuth2 (Zoho Accounts refresh token), Authorization: Zoho-oauthtoken; data-centre api_domain",
    throttle_signal="429 (code names unverified); credits per 24 h",
    identity="email",
    needs_upsert=True,
    upsert_batch=100,
    add_batch=500,
    remove_batch=500,
    rates={},
    can_list=False,
    field_pattern=r"^(?!Email$|Tag$|id$)(?!.*(Opt_Out|Consent|Data_Processing))[A-Za-z][A-Za-z0-9_]{0,99}$",
    unverified=(
        "v8 add_tags body shape (where ids go); the documented v2 query form is used",
        "whether a tag must exist before add_tags (it is created first, DUPLICATE_DATA meaning it exists)",
        "429 code names and concurrency numbers per edition",
        "INVALID_DATA per id in a tag answer meaning the record no longer exists",
    ),
)


class ZohoAdapter:
    spec = SPEC

    def __init__(self, config: Mapping[str, Any], http: Http) -> None:
        self.client_id = str(config.get("client_id") or "")
        self.client_secret = str(config.get("client_secret") or "")
        self.refresh_token = str(config.get("refresh_token") or "")
        if not self.client_id or not self.client_secret or not self.refresh_token:
            raise NotConfigured("zoho needs client_id, client_secret and refresh_token")
        self.accounts = str(config.get("accounts_url") or "https://accounts.zoho.com").rstrip("/")
        self.module = str(config.get("module") or "Contacts")
        self.version = str(config.get("version") or "v8")
        self.placeholder = str(config.get("placeholder_last_name") or "")
        self.api_override = config.get("base_url")
        self.http = http
        self._token: str | None = None
        self._api = ""
        self._expires = 0.0
        self._tags: set[str] = set()

    # ------------------------------------------------------------------------------------------ auth

    def _access_token(self) -> tuple[str, bool]:
        if self._token and time.time() < self._expires:
            return self._token, False
        from segmentation.sync.http import check

        response = self.http.request(
            "POST",
            f"{self.accounts}/oauth/v2/token",
            query={
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token,
            },
        )
        body = response.json() if 200 <= response.status < 300 else None
        if response.status in (400, 401) or (isinstance(body, dict) and body.get("error")):
            raise NotConfigured(f"zoho token: refresh token or client refused ({response.status})")
        answer = check(response, "zoho token").json() or {}
        if not answer.get("access_token"):
            raise Retryable("zoho token: no access_token in the answer")
        self._token = str(answer["access_token"])
        self._api = str(self.api_override or answer.get("api_domain") or "https://www.zohoapis.com").rstrip("/")
        self._expires = time.time() + max(0.0, float(answer.get("expires_in") or 3600) - 60)
        return self._token, True

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        from segmentation.sync.http import check

        token, fresh = self._access_token()
        response = self.http.request(
            method, f"{self._api}{path}", headers={"Authorization": f"Zoho-oauthtoken {token}"}, **kwargs
        )
        if response.status == 401:
            code = str((response.json() or {}).get("code") if isinstance(response.json(), dict) else "")
            self._token = None
            if fresh or code == "OAUTH_SCOPE_MISMATCH":
                raise NotConfigured(f"zoho {what}: 401 {code} (client scopes, e.g. ZohoCRM.modules.contacts.ALL)")
            raise Retryable(f"zoho {what}: 401 {code} (token renewed)", 0.0)
        body = check(response, f"zoho {what}").json()
        return body if isinstance(body, dict) else {}

    # ------------------------------------------------------------------------------------------ operations

    def _upsert_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"data": rows, "duplicate_check_fields": ["Email"]}
        answer = self._call("POST", f"/crm/{self.version}/{self.module}/upsert", "upsert records", json_body=body)
        return [r for r in answer.get("data") or [] if isinstance(r, dict)]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        rows = [{**dict(c.fields), "Email": c.email} for c in contacts]
        results = self._upsert_rows(rows)
        out: Outcomes = {}
        unnamed: list[int] = []
        for index, (contact, result) in enumerate(zip(contacts, results, strict=False)):
            missing = str((result.get("details") or {}).get("api_name") or "")
            if result.get("code") == "MANDATORY_NOT_FOUND" and missing == "Last_Name" and self.placeholder:
                unnamed.append(index)  # a new contact: Zoho needs a last name to create it
                continue
            out[contact.customer_id] = _record(result)
        if unnamed:
            again = self._upsert_rows([{**rows[i], "Last_Name": self.placeholder} for i in unnamed])
            for index, result in zip(unnamed, again, strict=False):
                out[contacts[index].customer_id] = _record(result)
        return out

    def _ensure_tag(self, name: str) -> None:
        if name in self._tags:
            return
        answer = self._call(
            "POST",
            f"/crm/{self.version}/settings/tags",
            "create tag",
            query={"module": self.module},
            json_body={"tags": [{"name": name}]},
        )
        for result in answer.get("tags") or answer.get("data") or []:
            if result.get("status") != "success" and result.get("code") != "DUPLICATE_DATA":
                raise NotConfigured(f"zoho could not create tag {name!r}: {result.get('code')}")
        self._tags.add(name)

    def _tags_call(self, action: str, target: Target, contacts: list[Contact]) -> Outcomes:
        self._ensure_tag(target.list_name)
        query = {
            "ids": ",".join(str(c.platform_id) for c in contacts),
            "tag_names": target.list_name,
            **({"over_write": "false"} if action == "add_tags" else {}),
        }
        answer = self._call("POST", f"/crm/v2/{self.module}/actions/{action}", action, query=query)
        by_id = {str((r.get("details") or {}).get("id")): r for r in answer.get("data") or [] if isinstance(r, dict)}
        out: Outcomes = {}
        for contact in contacts:
            result = by_id.get(str(contact.platform_id))
            if result is None:
                continue  # no answer for this record: retried
            if result.get("status") == "success":
                out[contact.customer_id] = ok()
            elif result.get("code") == "INVALID_DATA":
                # The id is unknown: deleted or merged in Zoho.
                out[contact.customer_id] = stale("record not found") if action == "add_tags" else ok()
            else:
                out[contact.customer_id] = retry(str(result.get("message") or result.get("code"))[:120])
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._tags_call("add_tags", target, contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._tags_call("remove_tags", target, contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("zoho tag members are not listed (spec.can_list is False)")


def _record(result: Mapping[str, Any]) -> Outcome:
    if result.get("status") == "success" and (result.get("details") or {}).get("id"):
        return ok(str(result["details"]["id"]))
    code = str(result.get("code") or "error")
    details = result.get("details") or {}
    text = f"{code} {details.get('api_name') or ''}".strip()
    return terminal(text) if code in _TERMINAL_CODES else retry(text)


def create(config: Mapping[str, Any], http: Http) -> ZohoAdapter:
    return ZohoAdapter(config, http)
