"""Salesforce Marketing Cloud Account Engagement (Pardot) API v5: membership is a static list.

Consent is the prospect's ``optedOut`` and each list membership's ``optedOut``: neither is ever written. A
membership the prospect opted out of is never deleted either, because deleting it would erase that opt-out.

* Token: Salesforce OAuth2 ``POST {token_url}`` (``grant_type=refresh_token`` when a refresh token is stored,
  else ``client_credentials`` on the org's My Domain). Salesforce does not say how long a token lives, so it is
  kept until a 401, then renewed (the request is retried).
* Upsert: ``POST /prospects/do/upsertLatestByEmail?fields=id`` ``{"matchEmail", "prospect": {"email", ...}}``
  (body shape unverified). Mapped fields: prospect fields (``firstName``, ``company``, custom ``*__c``).
* Add: ``POST /list-memberships?fields=id,listId,prospectId`` ``{"listId", "prospectId"}``, one per call. A
  refusal is checked against the existing membership (the duplicate error code is unverified): already a
  member is done.
* Remove: the membership id is looked up (``GET /list-memberships?fields=id,optedOut&listId=&prospectId=``),
  then ``DELETE /list-memberships/{id}``; no membership, or a 404, means done.
* List ids: ``GET /lists?fields=id,name,isDynamic`` (paged by ``nextPageUrl``), else ``POST /lists``
  ``{"name", "isDynamic": false}`` (both unverified here), once per container.
* Limits: 5 concurrent connections (requests are sequential per task); daily calls per business unit by
  edition (Growth 25,000 ... Premium 100,000), waited out on the daily-limit code. Limit breaches are body
  error codes rather than 429 (codes and status unverified: 66 daily, 122 concurrency are taken as
  throttles; a 429 too).

Secret ``<prefix>pardot``: ``{"client_id", "client_secret", "refresh_token" (optional), "token_url":
"https://<my-domain>.my.salesforce.com/services/oauth2/token", "business_unit_id": "0Uv...", "sandbox": false}``
(``base_url`` overrides ``https://pi.pardot.com/api/v5/objects``; the sandbox host ``pi.demo.pardot.com``
is unverified).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Rejected,
    Retryable,
    Target,
    Throttled,
    ok,
    stale,
)

HOSTS = {False: "https://pi.pardot.com/api/v5/objects", True: "https://pi.demo.pardot.com/api/v5/objects"}
DAILY_LIMIT = 66  # unverified code numbers
CONCURRENCY_LIMIT = 122

SPEC = ChannelSpec(
    name="pardot",
    title="Account Engagement (Pardot)",
    representation="static list (list memberships; opted-out memberships never deleted)",
    auth="Salesforce OAuth2 Bearer + Pardot-Business-Unit-Id header",
    throttle_signal="error code in the body (66 daily, 122 concurrency; unverified), or 429",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=1,
    remove_batch=1,
    # No client-side window: the documented limits are concurrency (requests here are sequential per task) and
    # a daily count by edition, left to the daily-limit code (a day-long window would keep, and persist, a
    # timestamp per request).
    rates={},
    can_list=False,
    throttle_wait=60.0,
    field_pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
    unverified=(
        "body shape of prospects/do/upsertLatestByEmail (matchEmail, prospect)",
        "limit error codes (66 daily, 122 concurrency) and their HTTP status",
        "the error for adding an existing membership (the membership is looked up instead)",
        "finding and creating lists through GET/POST /lists",
        "sandbox host pi.demo.pardot.com",
        "token lifetime (renewed on 401)",
    ),
)


def _code(body: Any) -> int | None:
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        return int(body["code"])
    return None


class PardotAdapter:
    spec = SPEC

    def __init__(self, config: Mapping[str, Any], http: Http) -> None:
        self.client_id = str(config.get("client_id") or "")
        self.client_secret = str(config.get("client_secret") or "")
        self.refresh_token = str(config.get("refresh_token") or "")
        self.token_url = str(config.get("token_url") or "")
        self.business_unit = str(config.get("business_unit_id") or "")
        if not (self.client_id and self.client_secret and self.token_url and self.business_unit):
            raise NotConfigured("pardot needs client_id, client_secret, token_url and business_unit_id")
        self.base = str(config.get("base_url") or HOSTS[bool(config.get("sandbox"))]).rstrip("/")
        self.http = http
        self._token: str | None = None
        self._lists: dict[str, int] = {}

    def _access_token(self) -> tuple[str, bool]:
        if self._token:
            return self._token, False
        from segmentation.sync.http import check

        form: dict[str, str] = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            form |= {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        else:
            form |= {"grant_type": "client_credentials"}
        response = self.http.request(
            "POST",
            self.token_url,
            raw_body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        refused = (response.json() or {}).get("error") if response.status == 400 else None
        if response.status == 401 or refused in ("invalid_client", "invalid_grant", "unauthorized_client"):
            raise NotConfigured(f"pardot token: {response.status} {refused or ''} client credentials refused")
        answer = check(response, "pardot token").json() or {}
        if not answer.get("access_token"):
            raise Retryable("pardot token: no access_token in the answer")
        self._token = str(answer["access_token"])
        return self._token, True

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        token, fresh = self._access_token()
        headers = {"Authorization": f"Bearer {token}", "Pardot-Business-Unit-Id": self.business_unit}
        url = path if path.startswith("http") else f"{self.base}{path}"
        response = self.http.request(method, url, headers=headers, **kwargs)
        code = _code(response.json()) if response.status >= 400 else None
        if code == DAILY_LIMIT:
            raise Throttled("pardot: daily API call limit reached", 3600.0)
        if code == CONCURRENCY_LIMIT:
            raise Throttled("pardot: concurrent request limit reached", 1.0)
        if response.status == 401:
            self._token = None
            if fresh:
                raise NotConfigured("pardot: 401 with a new token (Pardot API scope or business unit wrong?)")
            raise Retryable("pardot: 401 (token renewed)", 0.0)
        return response

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"pardot {what}").json() or {}

    def _list_id(self, name: str) -> int:
        if name not in self._lists:
            path: str | None = "/lists"
            query: dict[str, Any] | None = {"fields": "id,name,isDynamic"}
            while path and name not in self._lists:
                page = self._call("GET", path, "find list", query=query)
                for row in page.get("values") or []:
                    if row.get("name") == name and not row.get("isDynamic"):
                        self._lists[name] = int(row["id"])
                path, query = page.get("nextPageUrl"), None
            if name not in self._lists:
                body = {"name": name, "isDynamic": False, "isPublic": False}
                created = self._call("POST", "/lists", "create list", json_body=body, query={"fields": "id,name"})
                self._lists[name] = int(created["id"])
        return self._lists[name]

    def _membership(self, list_id: int, prospect: str) -> dict[str, Any] | None:
        query = {"fields": "id,optedOut", "listId": list_id, "prospectId": prospect}
        found = self._call("GET", "/list-memberships", "find membership", query=query).get("values") or []
        return dict(found[0]) if found else None

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            body = {"matchEmail": contact.email, "prospect": {**contact.fields, "email": contact.email}}
            answer = self._call(
                "POST", "/prospects/do/upsertLatestByEmail", "upsert prospect", json_body=body, query={"fields": "id"}
            )
            out[contact.customer_id] = ok(str(answer["id"]))
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        list_id = self._list_id(target.list_name)
        out: Outcomes = {}
        for contact in contacts:
            body = {"listId": list_id, "prospectId": int(str(contact.platform_id))}
            response = self._request(
                "POST", "/list-memberships", json_body=body, query={"fields": "id,listId,prospectId"}
            )
            if 400 <= response.status < 500 and response.status not in (401, 403, 429):
                if response.status == 404:
                    out[contact.customer_id] = stale("prospect not found")
                    continue
                # Already a member is refused with an error whose code is not documented: look instead.
                if self._membership(list_id, str(contact.platform_id)) is None:
                    raise Rejected(f"pardot add membership: {response.status} {response.text()}")
            else:
                check(response, "pardot add membership")
            out[contact.customer_id] = ok()
        return out

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        list_id = self._list_id(target.list_name)
        for contact in contacts:
            membership = self._membership(list_id, str(contact.platform_id))
            if membership is None or membership.get("optedOut"):
                continue  # not a member, or opted out of this list: that record is consent, kept as it is
            gone = self._request("DELETE", f"/list-memberships/{membership['id']}")
            if gone.status != 404:
                check(gone, "pardot remove membership")
        return {c.customer_id: ok() for c in contacts}

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("pardot members are not listed (SPEC.can_list is False)")


def create(config: Mapping[str, Any], http: Http) -> PardotAdapter:
    return PardotAdapter(config, http)
