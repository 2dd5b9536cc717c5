"""WooCommerce REST API v3: membership is a customer meta flag, one key per list (``_seg_<list>`` = "1"/"0").

Core WooCommerce has no segment entity and no marketing consent field; nothing here claims consent. Only
registered customers (WordPress users) exist at ``/customers``; guest buyers exist on orders only.

* Upsert (no native upsert): ``GET /customers?email=<address>&role=all`` (``role=all`` unverified). A customer
  found is written only when fields are mapped (``PUT /customers/{id}``). A customer not found is terminal
  unless ``create_customers`` is set, because creating one makes a WordPress account for that person; then
  ``POST /customers`` ``{"email", ...}``. Mapped fields: ``first_name``, ``last_name``.
* Add / remove: read-modify-write of one customer: ``GET /customers/{id}``, then, only when the flag differs,
  ``PUT /customers/{id}`` ``{"meta_data": [{"id": <meta id>, "key", "value"}]}`` (the meta entry's id when
  there is one, so it is updated in place instead of duplicated; other meta is left alone). Removal writes
  "0": deleting meta through REST is unverified, a value flag avoids the question. A 404 is a stale id on add
  and nothing to do on remove.
* Limits: none in core; hosts and firewalls may answer 429/503 with ``Retry-After``, which is honoured.

Secret ``<prefix>woocommerce``: ``{"store_url": "https://shop.example", "consumer_key": "ck_...",
"consumer_secret": "cs_...", "create_customers": false}`` (HTTPS only: Basic auth; ``base_url`` overrides
``<store_url>/wp-json/wc/v3``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Target,
    ok,
    stale,
    terminal,
)

SPEC = ChannelSpec(
    name="woocommerce",
    title="WooCommerce",
    representation="customer meta flag per list (_seg_<list> = 1/0, read-modify-write)",
    auth="HTTPS Basic (consumer key and secret)",
    throttle_signal="host-dependent 429/503 (Retry-After honoured when sent)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=1,
    remove_batch=1,
    rates={},  # core WooCommerce has no REST rate limit
    can_list=False,
    field_pattern=r"^(first_name|last_name)$",
    unverified=(
        "deleting meta through REST (removal writes the value 0 instead)",
        "role=all on the customer lookup for users with other roles",
    ),
)


def meta_key(list_name: str) -> str:
    return f"_seg_{list_name}"


class WooCommerceAdapter:
    spec = SPEC

    def __init__(self, base: str, key: str, secret: str, create_customers: bool, http: Http) -> None:
        if not base or not key or not secret:
            raise NotConfigured("woocommerce needs store_url, consumer_key and consumer_secret")
        self.base = base.rstrip("/")
        self.http = http
        self.headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}
        self.create_customers = create_customers

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"woocommerce {what}").json()

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            found = self._call("GET", "/customers", "find customer", query={"email": contact.email, "role": "all"})
            fields = dict(contact.fields)
            if found:
                customer_id = str(found[0]["id"])
                if fields:
                    self._call("PUT", f"/customers/{customer_id}", "update customer", json_body=fields)
            elif not self.create_customers:
                out[contact.customer_id] = terminal("no registered customer with this address")
                continue
            else:
                body = {"email": contact.email, **fields}
                customer_id = str(self._call("POST", "/customers", "create customer", json_body=body)["id"])
            out[contact.customer_id] = ok(customer_id)
        return out

    def _flag(self, contact: Contact, key: str, member: bool) -> bool:
        """Read the customer's meta, write our flag when it differs. False when the customer is gone."""
        from segmentation.sync.http import check

        response = self._request("GET", f"/customers/{contact.platform_id}")
        if response.status == 404:
            return False
        customer = check(response, "woocommerce read customer").json() or {}
        entry = next((m for m in customer.get("meta_data") or [] if m.get("key") == key), None)
        wanted = "1" if member else "0"
        if (entry is not None and str(entry.get("value")) == wanted) or (entry is None and not member):
            return True  # already as wanted: no write
        meta: dict[str, Any] = {"key": key, "value": wanted}
        if entry is not None and entry.get("id") is not None:
            meta = {"id": entry["id"], **meta}
        written = self._request("PUT", f"/customers/{contact.platform_id}", json_body={"meta_data": [meta]})
        if written.status == 404:
            return False
        check(written, "woocommerce write meta")
        return True

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        key = meta_key(target.list_name)
        return {c.customer_id: ok() if self._flag(c, key, True) else stale("customer not found") for c in contacts}

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        key = meta_key(target.list_name)
        for contact in contacts:
            self._flag(contact, key, False)  # a deleted customer carries no flag: done either way
        return {c.customer_id: ok() for c in contacts}

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("woocommerce members are not listed (SPEC.can_list is False)")


def create(config: Mapping[str, Any], http: Http) -> WooCommerceAdapter:
    store = str(config.get("store_url") or "").rstrip("/")
    base = str(config.get("base_url") or (f"{store}/wp-json/wc/v3" if store else ""))
    return WooCommerceAdapter(
        base,
        str(config.get("consumer_key") or ""),
        str(config.get("consumer_secret") or ""),
        bool(config.get("create_customers", False)),
        http,
    )
