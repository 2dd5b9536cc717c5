"""What the columns of a file mean: a preset detected from the header, or a manifest, turned into rows.

A manifest is JSON, in a sidecar object ``<key>.manifest.json`` or in the object's ``import-manifest``
metadata (see docs/imports.md). It names the kind of file, maps headers to targets, and declares whatever
cannot be guessed: whether the file is a consent record, the default country, the date order, the time zone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from importer import normalise as nz
from importer.presets import GENERIC_CONTACT_COLUMNS, MAILCHIMP_STATUSES, Preset, by_name, detect, fold
from importer.text import FormatError
from segmentation.imports import CHANNELS, Manifest


@dataclass(frozen=True)
class Reject:
    row: int
    column: str
    reason: str
    email: str | None = None  # recognisable address in the row, for the reject-report index
    group: str | None = None  # the order a rejected order line belonged to (the whole order is rejected)


@dataclass
class Row:
    """A normalised row: who it is about and what it says (``values`` keyed by target)."""

    row: int
    email: str | None
    external_id: str | None
    at: datetime
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> str:
        return f"e:{self.email}" if self.email else f"x:{self.external_id}"


@dataclass(frozen=True)
class Mapping:
    """A manifest or preset resolved against one header row: column indices per target, and the rules."""

    kind: str
    preset: str | None
    headers: tuple[str, ...]
    targets: tuple[tuple[str, tuple[int, ...]], ...]  # target -> candidate columns, first non-empty wins
    custom: tuple[tuple[int, str], ...]
    consent_source: bool
    source_name: str
    default_country: str | None
    tz: tzinfo
    day_first: bool
    date_format: str | None
    decimal_comma: bool
    as_of: datetime
    status: str | None
    channel: str
    suppression_reason: str
    jsonl: bool = False

    def to_plan(self) -> dict[str, Any]:
        """JSON-safe form, carried by the job so every chunk reads the file the same way."""
        return {
            "kind": self.kind,
            "preset": self.preset,
            "headers": list(self.headers),
            "targets": [[t, list(c)] for t, c in self.targets],
            "custom": [list(c) for c in self.custom],
            "consent_source": self.consent_source,
            "source_name": self.source_name,
            "default_country": self.default_country,
            "tz": str(self.tz),
            "day_first": self.day_first,
            "date_format": self.date_format,
            "decimal_comma": self.decimal_comma,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "channel": self.channel,
            "suppression_reason": self.suppression_reason,
            "jsonl": self.jsonl,
        }

    @staticmethod
    def from_plan(plan: dict[str, Any]) -> Mapping:
        return Mapping(
            kind=plan["kind"],
            preset=plan["preset"],
            headers=tuple(plan["headers"]),
            targets=tuple((t, tuple(c)) for t, c in plan["targets"]),
            custom=tuple((int(i), str(k)) for i, k in plan["custom"]),
            consent_source=plan["consent_source"],
            source_name=plan["source_name"],
            default_country=plan["default_country"],
            tz=ZoneInfo(plan["tz"]) if plan["tz"] != "UTC" else UTC,
            day_first=plan["day_first"],
            date_format=plan["date_format"],
            decimal_comma=plan["decimal_comma"],
            as_of=datetime.fromisoformat(plan["as_of"]),
            status=plan["status"],
            channel=plan["channel"],
            suppression_reason=plan["suppression_reason"],
            jsonl=plan["jsonl"],
        )


def resolve(
    headers: list[str],
    manifest: Manifest,
    *,
    key: str,
    as_of: datetime,
    shop_tz: tzinfo,
    jsonl: bool = False,
) -> Mapping:
    """The mapping for a file with these headers. FormatError when no row of it could ever be imported."""
    folded = [fold(h) for h in headers]
    preset: Preset | None = by_name(manifest.preset) if manifest.preset else detect(headers)
    columns: dict[str, str] = {}
    columns.update(preset.columns if preset is not None else GENERIC_CONTACT_COLUMNS)
    columns.update({fold(h): t for h, t in manifest.columns.items()})
    kind = manifest.kind or (preset.kind if preset else "contacts")
    status: str | None = manifest.status
    if preset is not None and preset.name == "mailchimp_audience" and status is None:
        from importer.presets import mailchimp_status

        status = mailchimp_status(key)
        if status is None:
            raise FormatError(
                "a Mailchimp export must say which status list it is: name it like the export "
                f"({', '.join(s + '_members_export_...' for s in MAILCHIMP_STATUSES)}) or set status in the manifest"
            )
    if status in ("unsubscribed", "cleaned") and manifest.kind is None:
        kind = "consent"
    targets: dict[str, list[int]] = {}
    custom: list[tuple[int, str]] = []
    custom_wanted = manifest.custom_columns
    listed = {fold(h) for h in custom_wanted} if isinstance(custom_wanted, list) else set()
    for index, name in enumerate(folded):
        target = columns.get(name)
        if target is None:
            if custom_wanted is True or name in listed:
                slug = _CUSTOM_KEY.sub("_", name).strip("_")[:64]
                if slug:
                    custom.append((index, slug))
            continue
        if target == "ignore":
            continue
        if target.startswith("custom."):
            custom.append((index, _CUSTOM_KEY.sub("_", target[7:].lower()).strip("_")[:64]))
            continue
        targets.setdefault(target, []).append(index)
    if "phone_fallback" in targets:  # the preferred phone column first, then the fallback
        targets.setdefault("phone", []).extend(targets.pop("phone_fallback"))
    if "email" not in targets and "external_id" not in targets:
        raise FormatError("the header has no email or customer id column (check the delimiter or the mapping)")
    if kind == "orders" and not {"order.id", "line.quantity", "line.unit_price"} <= targets.keys():
        raise FormatError("an orders file needs order id, line quantity and line price columns")
    if kind == "events" and not {"event.kind", "event.occurred_at"} <= targets.keys():
        raise FormatError("an events file needs event kind and time columns")
    if kind == "suppression" and "email" not in targets:
        raise FormatError("a suppression list needs an email column")
    zone_name = manifest.time_zone or (preset.settings.get("time_zone") if preset else None)
    tz: tzinfo = ZoneInfo(str(zone_name)) if zone_name else shop_tz
    consent_source = manifest.consent_source
    if consent_source is None:
        consent_source = bool(preset and preset.consent_source)
    return Mapping(
        kind=kind,
        preset=preset.name if preset else None,
        headers=tuple(headers),
        targets=tuple((t, tuple(c)) for t, c in targets.items()),
        custom=tuple(custom),
        consent_source=consent_source,
        source_name=manifest.source_name or (preset.source_name if preset else "") or "import",
        default_country=manifest.default_country.upper() if manifest.default_country else None,
        tz=tz,
        day_first=manifest.day_first,
        date_format=manifest.date_format,
        decimal_comma=manifest.decimal_comma,
        as_of=(manifest.exported_at or as_of).astimezone(UTC),
        status=status,
        channel=manifest.channel,
        suppression_reason=manifest.suppression_reason if status != "cleaned" else "bounced",
        jsonl=jsonl,
    )


# ---------------------------------------------------------------- rows

_CONSENT_VALUES = {
    "yes": "subscribed",
    "y": "subscribed",
    "true": "subscribed",
    "1": "subscribed",
    "subscribed": "subscribed",
    "opted in": "subscribed",
    "opt-in": "subscribed",
    "no": "unsubscribed",
    "n": "unsubscribed",
    "false": "unsubscribed",
    "0": "unsubscribed",
    "unsubscribed": "unsubscribed",
    "opted out": "unsubscribed",
    "opt-out": "unsubscribed",
    "cleaned": "unsubscribed",
    "pending": "pending",
    "never_subscribed": "never_asked",
    "never subscribed": "never_asked",
    "not_subscribed": "never_asked",
    "never_asked": "never_asked",
}
_GENDERS = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "m": "male",
    "male": "male",
    "man": "male",
    "non-binary": "non_binary",
    "non_binary": "non_binary",
    "nonbinary": "non_binary",
    "x": "non_binary",
    "unspecified": "unspecified",
    "prefer not to say": "unspecified",
}
_EVENT_KINDS = {
    "email_opened": "email_opened",
    "opened": "email_opened",
    "open": "email_opened",
    "email opened": "email_opened",
    "email_clicked": "email_clicked",
    "clicked": "email_clicked",
    "click": "email_clicked",
    "email clicked": "email_clicked",
    "site_visited": "site_visited",
    "visit": "site_visited",
    "visited": "site_visited",
    "page_view": "site_visited",
}
_CUSTOM_KEY = re.compile(r"[^a-z0-9_]+")
_TEXT_LIMITS = {"first_name": 100, "last_name": 100, "region": 100, "city": 100, "postal_code": 20}
_ID = re.compile(r"^[A-Za-z0-9_.:#-]{1,64}$")


class _Bad(Exception):
    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason


class RowReader:
    """Turns the fields of one record into a ``Row`` or a ``Reject``, following a ``Mapping``."""

    def __init__(self, mapping: Mapping) -> None:
        self.m = mapping
        self._targets = mapping.targets
        self._target_columns = dict(mapping.targets)
        self._json_index: dict[str, int] = {fold(h): i for i, h in enumerate(mapping.headers)}
        self._width = len(mapping.headers)
        # Only what this file maps is looked at per row (rows are many; targets are few).
        present = self._target_columns.keys()
        self._texts = [(name, limit) for name, limit in _TEXT_LIMITS.items() if name in present]
        self._lists = [name for name in ("tags", "preferred_scents", "preferred_categories") if name in present]
        self._consents = [(c, f"consent.{c}") for c in CHANNELS if f"consent.{c}" in present]
        self._single = [(t, c[0]) for t, c in mapping.targets if len(c) == 1]
        self._multi = [(t, c) for t, c in mapping.targets if len(c) > 1]

    def _column(self, target: str) -> str:
        indices = self._target_columns.get(target, ())
        return self.m.headers[indices[0]] if indices else target

    def read(self, row: int, fields: list[str]) -> Row | Reject:
        if self.m.jsonl:
            fields = self._align(fields)
        raw: dict[str, str] = {}
        width = len(fields)
        if width == self._width:
            for target, index in self._single:
                value = fields[index]
                if value:
                    if value[0] == "'":  # Shopify keeps spreadsheets from reformatting ids and phones
                        value = value[1:]
                    value = value.strip()
                    if value:
                        raw[target] = value
            multi: list[tuple[str, tuple[int, ...]]] = self._multi
        else:
            multi = list(self._targets)
        for target, indices in multi:
            for index in indices:
                if index < width:
                    value = fields[index]
                    if value and value[0] == "'":
                        value = value[1:]
                    value = value.strip()
                    if value:
                        raw[target] = value
                        break
        email_text = raw.get("email")
        try:
            if width != self._width and not self.m.jsonl:
                raise _Bad("", f"row has {width} fields, the header has {len(self.m.headers)}")
            return self._row(row, raw, fields)
        except _Bad as bad:
            seen = nz.looks_like_email(email_text) if email_text else None
            group = raw.get("order.id") if self.m.kind == "orders" else None
            return Reject(row, self._column(bad.target) if bad.target else "", bad.reason, seen, group)

    def _align(self, pairs: list[str]) -> list[str]:
        out = [""] * len(self.m.headers)
        for i in range(0, len(pairs) - 1, 2):
            index = self._json_index.get(fold(pairs[i]))
            if index is not None:
                out[index] = pairs[i + 1]
        return out

    def _row(self, number: int, raw: dict[str, str], fields: list[str]) -> Row:
        m = self.m
        email_text = raw.get("email")
        email = None
        if email_text is not None:
            try:
                email = nz.email(email_text)
            except nz.Invalid as exc:
                raise _Bad("email", str(exc)) from None
        external = raw.get("external_id")
        if external is not None and (len(external) > 64 or not external.isprintable()):
            raise _Bad("external_id", "customer id is longer than 64 characters or not printable")
        if email is None and external is None:
            raise _Bad("email", "row has neither an email address nor a customer id")
        at = self._instant("occurred_at", raw) if "occurred_at" in raw else m.as_of
        values: dict[str, Any] = {}
        kind = m.kind
        if kind == "contacts" or kind == "orders":
            self._contact(raw, values, fields)
        if kind == "orders":
            self._order(raw, values)
        elif kind == "events":
            self._event(raw, values, email or external or "")
        elif kind in ("consent", "suppression"):
            self._consent(raw, values)
        if "consent_at" in raw:
            values["consent_at"] = self._instant("consent_at", raw)
        return Row(number, email, external, at, values)

    def _contact(self, raw: dict[str, str], values: dict[str, Any], fields: list[str]) -> None:
        m = self.m
        for name, limit in self._texts:
            text = raw.get(name)
            if text is not None:
                if len(text) > limit:
                    raise _Bad(name, f"{name} is longer than {limit} characters")
                values[name] = text
        if "full_name" in raw and "first_name" not in values and "last_name" not in values:
            first, _, last = raw["full_name"].partition(" ")
            if len(first) > 100 or len(last) > 100:
                raise _Bad("full_name", "name is longer than 100 characters")
            values["first_name"] = first
            if last.strip():
                values["last_name"] = last.strip()
        country = raw.get("country")
        if country is not None:
            try:
                values["country"] = nz.country(country)
            except nz.Invalid as exc:
                raise _Bad("country", str(exc)) from None
        phone = raw.get("phone")
        if phone is not None:
            try:
                values["phone"] = nz.phone(phone, values.get("country") or m.default_country)
            except nz.Invalid as exc:
                raise _Bad("phone", str(exc)) from None
        if "birth_date" in raw:
            born = _field(
                "birth_date", lambda v: nz.day(v, m.tz, day_first=m.day_first, fmt=m.date_format), raw["birth_date"]
            )
            if not date(1900, 1, 1) <= born <= date.today():
                raise _Bad("birth_date", "birth date must be between 1900-01-01 and today")
            values["birth_date"] = born
        if "gender" in raw:
            gender = _GENDERS.get(raw["gender"].lower())
            if gender is None:
                raise _Bad("gender", "gender is not female, male, non-binary or unspecified")
            values["gender"] = gender
        for name in self._lists:
            if name in raw:
                values[name] = nz.slugs(raw[name])[:50]
        if "registered_at" in raw:
            values["registered_at"] = self._instant("registered_at", raw)
        consent: dict[str, str] = {}
        for channel, target in self._consents:
            text = raw.get(target)
            if text is not None:
                status = _CONSENT_VALUES.get(text.lower())
                if status is None:
                    raise _Bad(target, "consent is not yes/no, subscribed/unsubscribed or pending")
                consent[channel] = status
        if m.status == "subscribed":
            consent[m.channel] = "subscribed"
        if consent:
            values["consent"] = consent
        if m.custom:
            custom: dict[str, str] = {}
            for index, key in m.custom:
                if index < len(fields):
                    text = fields[index].strip()
                    if text:
                        if len(text) > 1000:
                            raise _Bad("", f"custom column {key} is longer than 1000 characters")
                        custom[key] = text
            if custom:
                values["custom"] = custom

    def _order(self, raw: dict[str, str], values: dict[str, Any]) -> None:
        m = self.m
        order_id = raw.get("order.id", "")
        if not _ID.match(order_id):
            raise _Bad("order.id", "order id is missing or has characters other than letters, digits and _.:#-")
        values["order_id"] = order_id
        if raw.get("order.cancelled_at"):
            raise _Bad("order.cancelled_at", "cancelled order: not a completed purchase")
        if "order.placed_at" in raw:
            values["placed_at"] = self._instant("order.placed_at", raw)
        if "order.total" in raw:
            total = _field("order.total", lambda v: nz.money(v, decimal_comma=m.decimal_comma), raw["order.total"])
            if not 0 <= total <= 10_000_000:
                raise _Bad("order.total", "order total must be between 0 and 10,000,000")
            values["total"] = total
        if "order.currency" in raw:
            currency = raw["order.currency"].upper()
            if not re.fullmatch(r"[A-Z]{3}", currency):
                raise _Bad("order.currency", "currency is not a 3-letter ISO 4217 code")
            values["currency"] = currency
        quantity = _field("line.quantity", nz.integer, raw.get("line.quantity", ""))
        if not 1 <= quantity <= 10_000:
            raise _Bad("line.quantity", "line quantity must be between 1 and 10,000")
        price = _field(
            "line.unit_price", lambda v: nz.money(v, decimal_comma=m.decimal_comma), raw.get("line.unit_price", "")
        )
        if not 0 <= price <= 1_000_000:
            raise _Bad("line.unit_price", "line price must be between 0 and 1,000,000")
        sku = raw.get("line.sku") or ("name:" + "_".join(nz.slugs(raw.get("line.name", "")))[:59])
        if sku == "name:" or len(sku) > 64:
            raise _Bad("line.sku", "line has neither a SKU nor a product name (or the SKU is over 64 characters)")
        category = nz.slugs(raw["line.category"])[0] if nz.slugs(raw.get("line.category", "")) else "uncategorised"
        scents = nz.slugs(raw.get("line.scent", ""))
        values["line"] = {
            "sku": sku,
            "category": category,
            "scent": scents[0] if scents else None,
            "quantity": quantity,
            "unit_price": price,
        }

    def _event(self, raw: dict[str, str], values: dict[str, Any], who: str) -> None:
        kind = _EVENT_KINDS.get(raw.get("event.kind", "").lower())
        if kind is None:
            raise _Bad("event.kind", "event kind is not email_opened, email_clicked or site_visited")
        at = self._instant("event.occurred_at", raw)
        event_id = raw.get("event.id")
        if event_id is None:
            # Deterministic, so importing the same events again stores nothing twice.
            basis = "|".join((who, kind, at.isoformat(), raw.get("event.campaign", ""), raw.get("event.url", "")))
            event_id = "imp-" + hashlib.sha256(basis.encode()).hexdigest()[:32]
        elif not re.fullmatch(r"[A-Za-z0-9_.:#-]{1,128}", event_id):
            raise _Bad("event.id", "event id has characters other than letters, digits and _.:#-")
        campaign = raw.get("event.campaign")
        url = raw.get("event.url")
        if campaign and len(campaign) > 128:
            raise _Bad("event.campaign", "campaign is longer than 128 characters")
        if url and len(url) > 2048:
            raise _Bad("event.url", "url is longer than 2048 characters")
        values["event"] = {"event_id": event_id, "kind": kind, "occurred_at": at, "campaign": campaign, "url": url}

    def _consent(self, raw: dict[str, str], values: dict[str, Any]) -> None:
        m = self.m
        consent: dict[str, str] = {}
        for channel in CHANNELS:
            text = raw.get(f"consent.{channel}")
            if text is not None:
                status = _CONSENT_VALUES.get(text.lower())
                if status is None:
                    raise _Bad(f"consent.{channel}", "consent is not yes/no, subscribed/unsubscribed or pending")
                consent[channel] = status
        if "status" in raw:
            status = _CONSENT_VALUES.get(raw["status"].lower())
            if status is None:
                raise _Bad("status", "status is not subscribed, unsubscribed, cleaned or pending")
            consent[m.channel] = status
        if m.status in ("unsubscribed", "cleaned"):
            consent[m.channel] = "unsubscribed"
        if m.kind == "suppression":
            consent.setdefault(m.channel, "unsubscribed")
            reason = raw.get("reason", m.suppression_reason).lower()
            values["reason"] = re.sub(r"[^a-z_]+", "_", reason)[:32] or "manual"
        if m.status in ("unsubscribed", "cleaned"):
            values["reason"] = m.suppression_reason
        if not consent:
            raise _Bad("status", "row states no consent change")
        values["consent"] = consent

    def _instant(self, target: str, raw: dict[str, str]) -> datetime:
        m = self.m
        return _field(target, lambda v: nz.instant(v, m.tz, day_first=m.day_first, fmt=m.date_format), raw[target])


def _field(target: str, fn: Any, value: str | None) -> Any:
    if value is None:
        raise _Bad(target, f"{target} is missing")
    try:
        return fn(value)
    except nz.Invalid as exc:
        raise _Bad(target, str(exc)) from None


def read_stream(
    raw: Any,
    manifest: Manifest,
    *,
    key: str,
    as_of: datetime,
    shop_tz: tzinfo,
    head: bytes,
) -> Iterator[Row | Reject]:
    """Every data row of a whole file as a ``Row`` or a ``Reject``, in constant memory, without AWS.

    ``raw`` is the file's byte stream and ``head`` its first bytes (for detection). FormatError when the
    file as a whole cannot be read. Used by tests and benchmarks; the pipeline does the same per chunk.
    """
    from importer.text import canonical, detect, read_records

    if not head:
        raise FormatError("the file is empty")
    layout = detect(head, declared=manifest.declared_layout(), name=key)
    records = read_records(canonical(raw, layout), layout)
    header = next(records, None)
    if header is None or not header.fields:
        raise FormatError("the file has no header row")
    jsonl = layout.format == "jsonl"
    headers = header.fields[0::2] if jsonl else header.fields
    mapping = resolve(headers, manifest, key=key, as_of=as_of, shop_tz=shop_tz, jsonl=jsonl)
    reader = RowReader(mapping)
    pending = [header] if jsonl else []
    for record in _chain(pending, records):
        if record.fields == []:
            continue
        if record.fields is None:
            yield Reject(record.row, "", record.error or "unreadable row")
        else:
            yield reader.read(record.row, record.fields)


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest
