"""Braze REST API: membership is a custom attribute on the user, written with ``POST /users/track``.

* Representation (``representation`` in the secret): ``"array"`` (default) adds / removes the list name in an
  array attribute (``attribute``, default ``segments``) with Braze's ``{"add": [...]}`` / ``{"remove": [...]}``
  operations, which need no read; ``"boolean"`` sets one boolean attribute named after the list.
  Subscription groups are consent state in Braze and are never written, nor ``email_subscribe`` /
  ``push_subscribe`` (a destination's field mapping cannot name them).
* Identity: ``external_id`` = our customer id. Tracking an unknown ``external_id`` creates the user, so an add
  is an upsert; mapped fields (e.g. ``email``) go with adds only, removes send just the change (data points).
  ``update_existing_only: true`` in the secret sends ``_update_existing_only`` so that no user is created.
* Limits: ``/users/track`` takes up to 75 objects per request (attributes, events and purchases combined) and
  3,000 requests per 3 seconds. A 429 carries ``X-RateLimit-Reset`` (UTC epoch seconds), waited out.
* Per-object failures come in a 2xx body's ``errors`` (``index`` into ``attributes``); when every object
  fails, the status is 400 with the same list. Validation errors are terminal, anything else is retried.

Secret ``<prefix>braze``: ``{"api_key": "...", "rest_endpoint": "https://rest.iad-01.braze.com",
"attribute": "segments", "representation": "array"}`` (``base_url`` is accepted for ``rest_endpoint``).
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
    Rate,
    Rejected,
    Target,
    Throttled,
    ok,
    retry,
    terminal,
)

BATCH = 75
_RESERVED = "email_subscribe|push_subscribe|subscription_groups|external_id|braze_id|user_alias|_update_existing_only"
# Words of Braze's validation messages: resending the same object cannot succeed.
_PERMANENT = ("invalid", "required", "must", "exceed", "too long", "not a valid", "not allowed")

SPEC = ChannelSpec(
    name="braze",
    title="Braze",
    representation="custom attribute on the user (array add/remove, or one boolean per list)",
    auth="Bearer REST API key (users.track permission); instance-specific host",
    throttle_signal="429 with X-RateLimit-Reset (epoch seconds)",
    identity="customer_id",
    needs_upsert=False,
    add_batch=BATCH,
    remove_batch=BATCH,
    rates={"default": (Rate(3000, 3.0),)},
    can_list=False,
    field_pattern=rf"^(?!({_RESERVED})$)[A-Za-z0-9_]{{1,255}}$",
    unverified=(
        "no Retry-After on REST 429s (the X-RateLimit-Reset epoch is used)",
        "_update_existing_only defaulting to false",
        "wording of per-object error messages (validation ones are taken as terminal, others retried)",
    ),
)


def reset_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (epoch; header names are lower-cased on HTTP/2)."""
    value = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None:
        return None
    return max(1.0, reset - (now if now is not None else time.time()))


class BrazeAdapter:
    spec = SPEC

    def __init__(
        self,
        api_key: str,
        endpoint: str,
        http: Http,
        *,
        attribute: str = "segments",
        representation: str = "array",
        update_existing_only: bool = False,
    ) -> None:
        if not api_key or not endpoint:
            raise NotConfigured("braze needs api_key and rest_endpoint (the instance's REST host)")
        if representation not in ("array", "boolean"):
            raise NotConfigured("braze representation must be 'array' or 'boolean'")
        self.url = f"{endpoint.rstrip('/')}/users/track"
        self.http = http
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.attribute = attribute
        self.representation = representation
        self.update_existing_only = update_existing_only

    def _object(self, target: Target, contact: Contact, member: bool) -> dict[str, Any]:
        change: dict[str, Any] = {**dict(contact.fields)} if member else {}
        change["external_id"] = contact.customer_id
        if self.representation == "array":
            change[self.attribute] = {"add" if member else "remove": [target.list_name]}
        else:
            change[target.list_name] = member
        if self.update_existing_only:
            change["_update_existing_only"] = True
        return change

    def _track(self, target: Target, contacts: list[Contact], member: bool) -> Outcomes:
        from segmentation.sync.http import check

        body = {"attributes": [self._object(target, c, member) for c in contacts]}
        response = self.http.request("POST", self.url, json_body=body, headers=self.headers)
        if response.status == 429:
            raise Throttled("braze users/track: 429", reset_wait(response.headers))
        parsed = response.json()
        answer: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        errors = [e for e in answer.get("errors") or [] if isinstance(e, dict) and "index" in e]
        if response.status == 400 and not errors:
            raise Rejected(f"braze users/track: 400 {str(answer.get('message') or '')[:120]}")
        if response.status != 400:
            check(response, "braze users/track")
        failed = {int(e["index"]): e for e in errors if e.get("input_array", "attributes") == "attributes"}
        out: Outcomes = {}
        for index, contact in enumerate(contacts):
            error = failed.get(index)
            if error is None:
                # On a 400 every object failed: an unlisted one has no answer and is retried.
                if response.status != 400:
                    out[contact.customer_id] = ok()
            else:
                out[contact.customer_id] = _per_object(error)
        return out

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        raise NotImplementedError("braze tracks users by external_id: nothing to upsert (needs_upsert is False)")

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._track(target, contacts, True)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._track(target, contacts, False)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("braze cannot list the users holding an attribute value (spec.can_list is False)")


def _per_object(error: Mapping[str, Any]) -> Outcome:
    text = str(error.get("type") or error.get("message") or "rejected")[:160]
    return terminal(text) if any(word in text.lower() for word in _PERMANENT) else retry(text)


def create(config: Mapping[str, Any], http: Http) -> BrazeAdapter:
    return BrazeAdapter(
        str(config.get("api_key") or ""),
        str(config.get("rest_endpoint") or config.get("base_url") or ""),
        http,
        attribute=str(config.get("attribute") or "segments"),
        representation=str(config.get("representation") or "array"),
        update_existing_only=bool(config.get("update_existing_only", False)),
    )
