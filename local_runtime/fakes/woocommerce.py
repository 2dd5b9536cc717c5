"""Fake WooCommerce REST API v3: registered customers found by email, meta_data entries with their own ids
(an entry sent with its id is updated in place, one sent without is added or updates the first of its key),
Basic auth with a consumer key and secret, and WordPress-style error bodies. No rate limit, as in core."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

KEY = "ck_fake0000000000000000000000000000000000"
SECRET = "cs_fake0000000000000000000000000000000000"  # noqa: S105 - the fake's own test credential
PREFIX = "/wp-json/wc/v3"
WRITABLE = {"email", "first_name", "last_name", "meta_data"}


class FakeWooCommerce(FakePlatform):
    channel = "woocommerce"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ids = itertools.count(2)
        self._meta_ids = itertools.count(100)

    def authorized(self, request: FakeRequest) -> bool:
        expected = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        return request.header("Authorization") == f"Basic {expected}"

    def error(self, status: int, message: str) -> FakeResponse:
        code = {401: "woocommerce_rest_cannot_view", 404: "woocommerce_rest_invalid_id"}.get(
            status, "rest_invalid_param"
        )
        return FakeResponse(status, {"code": code, "message": message, "data": {"status": status}})

    def members(self, list_name: str) -> set[str]:
        key = f"_seg_{list_name}"
        return {
            cid
            for cid, c in self.contacts.items()
            if any(m["key"] == key and m["value"] == "1" for m in c["meta_data"])
        }

    def customer(self, email: str, **fields: Any) -> str:
        """A customer who registered at the store."""
        cid = str(next(self._ids))
        self.contacts[cid] = {"id": int(cid), "email": email, "role": "customer", "meta_data": []} | fields
        return cid

    def _write(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        unknown = set(body) - WRITABLE
        self.require(not unknown, f"Invalid parameter(s): {', '.join(sorted(unknown))}")
        for entry in body.get("meta_data") or []:
            self.require(isinstance(entry.get("key"), str) and "value" in entry, "meta_data entries need key, value")
            if "id" in entry:
                same = next((m for m in record["meta_data"] if m["id"] == entry["id"]), None)
                self.require(same is not None, "meta_data id does not belong to this customer")
            else:
                same = next((m for m in record["meta_data"] if m["key"] == entry["key"]), None)
            if same is None:
                record["meta_data"].append({"id": next(self._meta_ids), "key": entry["key"], "value": entry["value"]})
            else:
                same.update(key=entry["key"], value=entry["value"])
        record.update({k: v for k, v in body.items() if k in ("first_name", "last_name")})

    @route("GET", PREFIX + r"/customers")
    def find(self, request: FakeRequest) -> FakeResponse:
        email = request.arg("email")
        self.require(email is not None, "email filter expected")
        roles = None if request.arg("role") == "all" else {"customer"}
        rows = [
            c
            for c in self.contacts.values()
            if c["email"].lower() == str(email).lower() and (not roles or c["role"] in roles)
        ]
        return FakeResponse(200, rows)

    @route("POST", PREFIX + r"/customers")
    def create_customer(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        self.require(isinstance(body.get("email"), str) and "@" in body["email"], "Invalid email")
        taken = any(c["email"].lower() == body["email"].lower() for c in self.contacts.values())
        self.require(not taken, "An account is already registered with your email address.")
        cid = self.customer(body["email"])
        self._write(self.contacts[cid], body)
        return FakeResponse(201, self.contacts[cid])

    @route("GET", PREFIX + r"/customers/(?P<cid>\d+)")
    def get_customer(self, request: FakeRequest, cid: str) -> FakeResponse:
        self.require(cid in self.contacts, "Invalid resource ID.", 404)
        return FakeResponse(200, self.contacts[cid])

    @route("PUT", PREFIX + r"/customers/(?P<cid>\d+)")
    def update_customer(self, request: FakeRequest, cid: str) -> FakeResponse:
        self.require(cid in self.contacts, "Invalid resource ID.", 404)
        self._write(self.contacts[cid], request.data())
        return FakeResponse(200, self.contacts[cid])


FAKE = FakeWooCommerce


def config(fake: FakePlatform) -> dict[str, Any]:
    # The shared contract syncs people the store has never seen, so this fake store lets customers be created.
    return {"consumer_key": KEY, "consumer_secret": SECRET, "create_customers": True, "base_url": fake.url + PREFIX}
