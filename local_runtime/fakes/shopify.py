"""Fake Shopify Admin GraphQL API: customers with tags and consent, and the calculated-cost leaky bucket.

Only the mutations the adapter sends are understood (``customerSet``, ``tagsAdd``, ``tagsRemove``, aliased
several to a document, arguments passed as declared variables of the right type). The cost bucket is the real
throttle: a request whose requested cost exceeds what the bucket holds gets Shopify's THROTTLED answer in a
200 (and counts in ``over_limit``, since a well-paced client never sees it).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

TOKEN = "shpat_fake_0000000000000000"  # noqa: S105 - the fake's own test credential
VERSION = "2025-04"
MUTATION_COST = 10
RESTORE_RATE = 100.0  # Standard plan, points per second
BUCKET_SIZE = 1000.0
MAX_QUERY_COST = 1000

_HEADER = re.compile(r"^\s*mutation\s*\w*\s*\(([^)]*)\)\s*\{", re.S)
_DECLARATION = re.compile(r"\$(\w+)\s*:\s*([\w\[\]!]+)")
_FIELD = re.compile(r"(\w+)\s*:\s*(customerSet|tagsAdd|tagsRemove)\s*\(([^)]*)\)")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_ARGUMENT = re.compile(r"(\w+)\s*:\s*\$(\w+)")
_TYPES = {
    "customerSet": {"identifier": "CustomerSetIdentifiers!", "input": "CustomerSetInput!"},
    "tagsAdd": {"id": "ID!", "tags": "[String!]!"},
    "tagsRemove": {"id": "ID!", "tags": "[String!]!"},
}
_INPUT_FIELDS = {
    "email",
    "firstName",
    "lastName",
    "phone",
    "note",
    "locale",
    "taxExempt",
    "tags",
    "addresses",
    "emailMarketingConsent",
    "smsMarketingConsent",
}


class FakeShopify(FakePlatform):
    channel = "shopify"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by_email: dict[str, str] = {}
        self._ids = itertools.count(7001)
        self.available = BUCKET_SIZE
        self._refilled_at = self.clock.time()

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("X-Shopify-Access-Token") == TOKEN

    def error(self, status: int, message: str) -> FakeResponse:
        if status == 400:  # GraphQL validation errors come in a 200, without a path
            return FakeResponse(200, {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]})
        return FakeResponse(status, {"errors": message})

    def _cost(self, requested: float, available: float) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": BUCKET_SIZE,
                    "currentlyAvailable": available,
                    "restoreRate": RESTORE_RATE,
                },
            }
        }

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        requested = MUTATION_COST * max(1, len(_FIELD.findall(str(request.data().get("query") or ""))))
        available = max(0.0, requested - RESTORE_RATE * retry_after)
        return FakeResponse(
            200,
            {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": self._cost(requested, available),
            },
        )

    def members(self, list_name: str) -> set[str]:
        return {gid for gid, customer in self.contacts.items() if list_name in customer["tags"]}

    def customer(self, email: str, **fields: Any) -> str:
        """A customer created in the shop by someone else (tests set up tags and consent this way)."""
        gid = f"gid://shopify/Customer/{next(self._ids)}"
        self.contacts[gid] = {
            "id": gid,
            "email": email.lower(),
            "tags": [],
            "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"},
            **fields,
        }
        self.by_email[email.lower()] = gid
        return gid

    def _refill(self) -> None:
        now = self.clock.time()
        self.available = min(BUCKET_SIZE, self.available + (now - self._refilled_at) * RESTORE_RATE)
        self._refilled_at = now

    @route("POST", rf"/admin/api/{VERSION}/graphql\.json")
    def graphql(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        query, variables = body.get("query"), body.get("variables")
        self.require(isinstance(query, str) and isinstance(variables, dict), "query and variables are required")
        header = _HEADER.match(query)
        self.require(header is not None, "only mutation documents with declared variables are supported")
        assert header is not None
        declared = dict(_DECLARATION.findall(header.group(1)))
        fields = _FIELD.findall(query)
        self.require(fields, "no known mutation in the document")
        requested = MUTATION_COST * len(fields)
        self.require(requested <= MAX_QUERY_COST, f"query cost {requested} exceeds {MAX_QUERY_COST}")
        calls = []
        for alias, mutation, arguments in fields:
            args = dict(_ARGUMENT.findall(arguments))
            self.require(set(args) == set(_TYPES[mutation]), f"{alias}: arguments of {mutation}")
            for name, variable in args.items():
                self.require(declared.get(variable) == _TYPES[mutation][name], f"${variable} must be declared")
                self.require(variable in variables, f"variable ${variable} has no value")
            calls.append((alias, mutation, {name: variables[v] for name, v in args.items()}))
        self._refill()
        if requested > self.available:
            self.over_limit += 1
            return FakeResponse(
                200,
                {
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": self._cost(requested, self.available),
                },
            )
        self.available -= requested
        failing = self.partial(calls)
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for index, (alias, mutation, args) in enumerate(calls):
            if index in failing:
                data[alias] = None
                errors.append(
                    {"message": "Internal error", "path": [alias], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
                )
            elif mutation == "customerSet":
                data[alias] = self._customer_set(args["identifier"], args["input"])
            else:
                data[alias] = self._tags(mutation, args["id"], args["tags"])
        answer: dict[str, Any] = {"data": data, "extensions": self._cost(requested, self.available)}
        if errors:
            answer["errors"] = errors
        return FakeResponse(200, answer)

    def _customer_set(self, identifier: Any, values: Any) -> dict[str, Any]:
        self.require(isinstance(identifier, dict) and isinstance(values, dict), "identifier and input are objects")
        email = identifier.get("email")
        self.require(isinstance(email, str) and list(identifier) == ["email"], "identifier: {email}")
        unknown = set(values) - _INPUT_FIELDS
        self.require(not unknown, f"CustomerSetInput has no field {sorted(unknown)}")
        if "email" in values and str(values["email"]).lower() != email.lower():
            return {"customer": None, "userErrors": [{"field": ["input", "email"], "message": "Email mismatch"}]}
        if "@" not in email:
            return {"customer": None, "userErrors": [{"field": ["input", "email"], "message": "Email is invalid"}]}
        if "phone" in values and not _E164.fullmatch(str(values["phone"])):
            return {"customer": None, "userErrors": [{"field": ["input", "phone"], "message": "Phone is invalid"}]}
        gid = self.by_email.get(email.lower()) or self.customer(email)
        customer = self.contacts[gid]
        for key, value in values.items():
            customer[key] = value  # list fields (tags, addresses) replace what was there, as in Shopify
        return {"customer": {"id": gid}, "userErrors": []}

    def _tags(self, mutation: str, gid: Any, tags: Any) -> dict[str, Any]:
        self.require(isinstance(tags, list) and all(isinstance(t, str) for t in tags), "tags: [String!]!")
        customer = self.contacts.get(str(gid))
        if customer is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}
        if mutation == "tagsAdd":
            customer["tags"] += [t for t in tags if t not in customer["tags"]]
        else:
            customer["tags"] = [t for t in customer["tags"] if t not in tags]
        return {"node": {"id": gid}, "userErrors": []}


FAKE = FakeShopify


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"shop": "fake-shop.myshopify.com", "access_token": TOKEN, "api_version": VERSION, "base_url": fake.url}
