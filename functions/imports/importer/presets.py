"""Header presets of the platforms' exports, detected from the header row.

Headers are compared after folding: lowercased, trimmed, Shopify's leading apostrophe removed, runs of
spaces collapsed. A preset says what each known column means, which kind of file it is, and whether the
platform is accepted as a consent record by default (only when the export is one: Mailchimp's status files).
See docs/imports.md for the sources and which header sets are unverified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def fold(header: str) -> str:
    text = header.strip().lstrip("\ufeff").lstrip("'").strip().lower()
    return re.sub(r"\s+", " ", text)


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str
    columns: dict[str, str]
    # Detection: every column of ``requires`` and at least one of ``any_of`` (if given) in the header.
    requires: frozenset[str]
    any_of: frozenset[str] = frozenset()
    source_name: str = ""  # names the external-id namespace: X#<source_name>#<id>
    consent_source: bool = False
    settings: dict[str, object] = field(default_factory=dict)


_SHOPIFY_CUSTOMER_COLUMNS = {
    "customer id": "external_id",
    "first name": "first_name",
    "last name": "last_name",
    "email": "email",
    "accepts email marketing": "consent.email",
    "accepts marketing": "consent.email",
    "accepts sms marketing": "consent.sms",
    "default address city": "city",
    "default address province code": "region",
    "default address country code": "country",
    "default address zip": "postal_code",
    "default address phone": "phone_fallback",
    "phone": "phone",
    "tags": "tags",
    # the older import template
    "city": "city",
    "province code": "region",
    "country code": "country",
    "zip": "postal_code",
}

_SHOPIFY_ORDER_COLUMNS = {
    "name": "order.id",
    "email": "email",
    "currency": "order.currency",
    "total": "order.total",
    "created at": "order.placed_at",
    "lineitem quantity": "line.quantity",
    "lineitem name": "line.name",
    "lineitem price": "line.unit_price",
    "lineitem sku": "line.sku",
    "billing name": "full_name",
    "billing country": "country",
    "billing city": "city",
    "billing zip": "postal_code",
    "billing phone": "phone",
    "cancelled at": "order.cancelled_at",
}

_MAILCHIMP_COLUMNS = {
    "email address": "email",
    "first name": "first_name",
    "last name": "last_name",
    "phone number": "phone",
    "birthday": "birth_date",
    "optin_time": "consent_at",
    "confirm_time": "consent_at",
    "last_changed": "occurred_at",
    "unsub_time": "occurred_at",
    "clean_time": "occurred_at",
    "cc": "country",
    "leid": "external_id",
    "tags": "tags",
}

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="shopify_orders",
        kind="orders",
        columns=_SHOPIFY_ORDER_COLUMNS,
        requires=frozenset({"name", "email", "lineitem quantity", "lineitem price"}),
        source_name="shopify",
    ),
    Preset(
        name="shopify_customers",
        kind="contacts",
        columns=_SHOPIFY_CUSTOMER_COLUMNS,
        requires=frozenset({"first name", "last name", "email", "total spent"}),
        any_of=frozenset({"accepts email marketing", "accepts marketing"}),
        source_name="shopify",
    ),
    Preset(
        name="mailchimp_audience",
        kind="contacts",
        columns=_MAILCHIMP_COLUMNS,
        requires=frozenset({"email address"}),
        any_of=frozenset({"member_rating", "optin_time", "leid", "euid", "confirm_time"}),
        source_name="mailchimp",
        # Each Mailchimp file is one status list: the export is the audience's consent record.
        consent_source=True,
        settings={"time_zone": "UTC"},
    ),
    Preset(
        name="hubspot_contacts",
        kind="contacts",
        columns={
            "record id": "external_id",
            "first name": "first_name",
            "last name": "last_name",
            "email": "email",
            "phone number": "phone",
            "mobile phone number": "phone_fallback",
            "country/region": "country",
            "country": "country",
            "city": "city",
            "state/region": "region",
            "postal code": "postal_code",
            "create date": "registered_at",
        },
        requires=frozenset({"record id", "email"}),
        source_name="hubspot",
    ),
    Preset(
        name="woocommerce_customers",
        kind="contacts",
        columns={
            "name": "full_name",
            "email": "email",
            "date registered": "registered_at",
            "date registered (sign up)": "registered_at",
            "sign up": "registered_at",
            "country / region": "country",
            "country": "country",
            "city": "city",
            "region": "region",
            "postal code": "postal_code",
        },
        requires=frozenset({"email", "username"}),
        any_of=frozenset({"total spend", "aov", "last active"}),
        source_name="woocommerce",
    ),
    Preset(
        name="klaviyo_profiles",
        kind="contacts",
        columns={
            "klaviyo id": "external_id",
            "profile id": "external_id",
            "email": "email",
            "first name": "first_name",
            "last name": "last_name",
            "phone number": "phone",
            "city": "city",
            "state / region": "region",
            "country": "country",
            "zip code": "postal_code",
            "email marketing consent": "consent.email",
            "sms marketing consent": "consent.sms",
            "sms consent": "consent.sms",
        },
        requires=frozenset({"email"}),
        any_of=frozenset({"klaviyo id", "profile id", "email marketing consent"}),
        source_name="klaviyo",
    ),
)

# A spreadsheet kept by hand: the usual names of the usual columns.
GENERIC_CONTACT_COLUMNS = {
    "email": "email",
    "e-mail": "email",
    "email address": "email",
    "customer id": "external_id",
    "id": "external_id",
    "first name": "first_name",
    "firstname": "first_name",
    "given name": "first_name",
    "last name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family name": "last_name",
    "name": "full_name",
    "full name": "full_name",
    "phone": "phone",
    "phone number": "phone",
    "mobile": "phone",
    "telephone": "phone",
    "country": "country",
    "country code": "country",
    "city": "city",
    "town": "city",
    "region": "region",
    "state": "region",
    "county": "region",
    "postcode": "postal_code",
    "post code": "postal_code",
    "postal code": "postal_code",
    "zip": "postal_code",
    "birthday": "birth_date",
    "birth date": "birth_date",
    "date of birth": "birth_date",
    "gender": "gender",
    "tags": "tags",
    "email consent": "consent.email",
    "sms consent": "consent.sms",
    # consent-change and suppression files
    "status": "status",
    "reason": "reason",
}

MAILCHIMP_STATUSES = ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")


def detect(headers: list[str]) -> Preset | None:
    """The first preset whose signature the folded headers carry."""
    present = {fold(h) for h in headers}
    for preset in PRESETS:
        if preset.requires <= present and (not preset.any_of or preset.any_of & present):
            return preset
    return None


def by_name(name: str) -> Preset:
    for preset in PRESETS:
        if preset.name == name:
            return preset
    raise KeyError(name)


def mailchimp_status(key: str) -> str | None:
    """The status list a Mailchimp export file holds, from its name (``unsubscribed_members_export_...``)."""
    base = key.rsplit("/", 1)[-1].lower()
    for status in ("nonsubscribed", "unsubscribed", "cleaned", "subscribed"):
        if base.startswith(status) or f"_{status}" in base or f"-{status}" in base:
            return status
    return None
