"""Shopify Admin GraphQL API: membership is a customer tag (e.g. ``seg-vip``) on the shop's customers.

* Upsert: ``customerSet(identifier: {email}, input: {...})`` (API 2025-04 and later) gives the customer GID.
  The input never carries ``tags`` (a list field: it would replace every tag the customer has) nor any
  marketing-consent field, so an existing customer's tags and consent are left as they are.
* Add / remove: ``tagsAdd`` / ``tagsRemove(id, tags)``, which change only the named tag (never
  ``customerUpdate(input: {tags})``, which overwrites the whole set). Both are idempotent.
* Each mutation changes one resource, so one request carries up to ``BATCH`` aliased mutations; the answer
  is per alias: ``userErrors`` are terminal for that customer, a field error with a ``path`` is retried.
* Limits: calculated query cost in a leaky bucket per app and store, restored at 100 points/s on Standard
  (200 Advanced, 1,000 Plus, 2,000 Enterprise). A mutation costs 10 points (unverified), so a request of 10
  aliases costs about 100: one request per second on Standard. Higher plans raise the rate in the secret,
  e.g. ``"rates": {"default": [{"requests": 10, "per_seconds": 1}]}`` on Plus.
* Throttling comes as HTTP 200 with ``errors[].extensions.code == "THROTTLED"``; the wait is
  ``(requestedQueryCost - throttleStatus.currentlyAvailable) / restoreRate`` seconds.

Shopify customer segments are query-based and cannot be written; a segment on ``customer_tags CONTAINS
'<tag>'`` shows the synced members in Shopify (query syntax unverified).

Secret ``<prefix>shopify``: ``{"shop": "<name>.myshopify.com", "access_token": "shpat_...",
"api_version": "2025-04"}`` (``base_url`` overrides ``https://<shop>``, e.g. for the local fake).
"""

from __future__ import annotations

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
    Retryable,
    Target,
    Throttled,
    ok,
    retry,
    stale,
    terminal,
)

BATCH = 10  # aliased mutations per request: about 100 cost points, one second of a Standard shop's budget
DEFAULT_VERSION = "2025-04"  # the first version with customerSet

SPEC = ChannelSpec(
    name="shopify",
    title="Shopify",
    representation="customer tag (tagsAdd / tagsRemove)",
    auth="X-Shopify-Access-Token (Admin API token); per-shop host, API version in the path",
    throttle_signal="HTTP 200 with errors[].extensions.code THROTTLED; wait from cost.throttleStatus",
    identity="email",
    needs_upsert=True,
    upsert_batch=BATCH,
    add_batch=BATCH,
    remove_batch=BATCH,
    # Standard plan: 100 cost points restored per second, one request of <= 100 points per second.
    rates={"default": (Rate(1, 1.0),)},
    can_list=False,  # customer search by tag is eventually consistent, so it cannot prove drift
    # customerSet input fields that are single values; list fields (tags, addresses) and consent are excluded.
    field_pattern=r"^(firstName|lastName|phone|note|locale)$",
    unverified=(
        "cost of 10 points per mutation (the budget above assumes it)",
        "userErrors on tagsAdd for a customer id that no longer exists (taken as a stale id)",
        "segment query syntax customer_tags CONTAINS '<tag>' for a Shopify segment on the tag",
        "limits on tags per customer and tag length",
    ),
)

_SET = """{alias}: customerSet(identifier: ${alias}k, input: ${alias}i) {{
    customer {{ id }} userErrors {{ field message code }} }}"""
_TAGS = """{alias}: {mutation}(id: ${alias}, tags: $tags) {{ node {{ id }} userErrors {{ field message }} }}"""


def _code(error: Any) -> str:
    return str(((error.get("extensions") or {}) if isinstance(error, dict) else {}).get("code") or "")


def throttle_wait(body: Mapping[str, Any]) -> float:
    """Seconds until the bucket holds the requested cost again (1 s when Shopify did not say)."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, needed / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


class ShopifyAdapter:
    spec = SPEC

    def __init__(
        self, shop: str, token: str, http: Http, *, api_version: str = DEFAULT_VERSION, base_url: str | None = None
    ) -> None:
        if not token or not (shop or base_url):
            raise NotConfigured("shopify needs shop (<name>.myshopify.com) and access_token")
        host = shop if "." in shop else f"{shop}.myshopify.com"
        root = (base_url or f"https://{host}").rstrip("/")
        self.url = f"{root}/admin/api/{api_version}/graphql.json"
        self.http = http
        self.headers = {"X-Shopify-Access-Token": token}

    def _graphql(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        from segmentation.sync.http import check

        response = self.http.request(
            "POST", self.url, json_body={"query": query, "variables": variables}, headers=self.headers
        )
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if response.status == 200 and isinstance(errors, list):
            # The throttle signal is in a 200: look before the status check would call it a success.
            if any(_code(e) == "THROTTLED" for e in errors):
                raise Throttled(f"shopify {what}: THROTTLED", throttle_wait(body))
            whole = [e for e in errors if not (isinstance(e, dict) and e.get("path"))]
            if whole:
                codes = {_code(e) for e in whole}
                if codes & {"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"}:
                    raise NotConfigured(f"shopify {what}: {', '.join(sorted(codes))} (token scopes)")
                if codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}:
                    raise Retryable(f"shopify {what}: {', '.join(sorted(codes))}")
                # A query Shopify refused as a whole (too costly, malformed): split and isolate.
                raise Rejected(f"shopify {what}: {', '.join(sorted(codes)) or 'query error'}")
        check(response, f"shopify {what}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise Retryable(f"shopify {what}: no data in the answer")
        return body

    @staticmethod
    def _per_alias(body: dict[str, Any], aliases: dict[str, Contact], result: str) -> dict[str, tuple[Any, Any]]:
        """alias -> (result object or None, why it is missing): a field error carries the alias in its path."""
        failed = {
            str(e["path"][0]): str(e.get("message") or _code(e) or "field error")[:120]
            for e in body.get("errors") or []
            if isinstance(e, dict) and e.get("path")
        }
        out: dict[str, tuple[Any, Any]] = {}
        for alias in aliases:
            node = body["data"].get(alias)
            out[alias] = (node, failed.get(alias, f"no {result} in the answer"))
        return out

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        aliases = {f"c{i}": c for i, c in enumerate(contacts)}
        header = ", ".join(f"${a}k: CustomerSetIdentifiers!, ${a}i: CustomerSetInput!" for a in aliases)
        query = f"mutation Upsert({header}) {{\n" + "\n".join(_SET.format(alias=a) for a in aliases) + "\n}"
        variables: dict[str, Any] = {}
        for alias, contact in aliases.items():
            variables[f"{alias}k"] = {"email": contact.email}
            # Only single-value fields from the mapping: never tags, addresses or marketing consent.
            variables[f"{alias}i"] = {"email": contact.email, **dict(contact.fields)}
        body = self._graphql(query, variables, "upsert customers")
        out: Outcomes = {}
        for alias, (node, why) in self._per_alias(body, aliases, "customer").items():
            cid = aliases[alias].customer_id
            if node is None:
                out[cid] = retry(why)
            elif node.get("userErrors"):
                out[cid] = terminal(_user_errors(node["userErrors"]))
            elif (node.get("customer") or {}).get("id"):
                out[cid] = ok(str(node["customer"]["id"]))
            else:
                out[cid] = retry("no customer id in the answer")
        return out

    def _tags(self, mutation: str, target: Target, contacts: list[Contact]) -> Outcomes:
        aliases = {f"t{i}": c for i, c in enumerate(contacts)}
        header = ", ".join([*(f"${a}: ID!" for a in aliases), "$tags: [String!]!"])
        body_lines = [_TAGS.format(alias=a, mutation=mutation) for a in aliases]
        query = f"mutation Tags({header}) {{\n" + "\n".join(body_lines) + "\n}"
        variables: dict[str, Any] = {a: c.platform_id for a, c in aliases.items()}
        variables["tags"] = [target.list_name]
        body = self._graphql(query, variables, mutation)
        out: Outcomes = {}
        for alias, (node, why) in self._per_alias(body, aliases, "node").items():
            contact = aliases[alias]
            if node is None:
                out[contact.customer_id] = retry(why)
            elif node.get("userErrors"):
                out[contact.customer_id] = _tag_error(mutation, node["userErrors"])
            else:
                out[contact.customer_id] = ok()
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._tags("tagsAdd", target, contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._tags("tagsRemove", target, contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("shopify cannot list tag members reliably (spec.can_list is False)")


def _user_errors(errors: list[Any]) -> str:
    return "; ".join(str(e.get("message") or e.get("code") or "user error") for e in errors if isinstance(e, dict))[
        :160
    ]


def _gone(errors: list[Any]) -> bool:
    # A customer deleted in Shopify: the error names the id field or says it does not exist (unverified).
    for error in errors:
        if not isinstance(error, dict):
            continue
        message = str(error.get("message") or "").lower()
        if "not exist" in message or "not found" in message or list(error.get("field") or []) == ["id"]:
            return True
    return False


def _tag_error(mutation: str, errors: list[Any]) -> Outcome:
    if _gone(errors):
        # Removing a tag from a customer that no longer exists leaves nothing to remove.
        return ok() if mutation == "tagsRemove" else stale(_user_errors(errors))
    return terminal(_user_errors(errors))


def create(config: Mapping[str, Any], http: Http) -> ShopifyAdapter:
    return ShopifyAdapter(
        str(config.get("shop") or ""),
        str(config.get("access_token") or ""),
        http,
        api_version=str(config.get("api_version") or DEFAULT_VERSION),
        base_url=config.get("base_url"),
    )
