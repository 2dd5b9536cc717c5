"""Normalisation of imported values, with explicit, documented rules (docs/imports.md, "Normalisation").

Each function returns the normalised value or raises ``Invalid`` with a reason that names the rule, never the
value (reasons end up in logs and reject reports; values may be personal data). They are called once per cell
of every imported row, so the common cases take a fast path and the libraries handle the rest.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cache


class Invalid(ValueError):
    """A value that breaks a normalisation rule; the message says which rule."""


# -- email ---------------------------------------------------------------------------------------------------

# The RFC 5322 dot-atom form that every mail provider accepts, with a dotted domain of letters, digits and
# hyphens. Anything else (quoted local parts, non-ASCII addresses) goes through email_validator.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


def email(value: str) -> str:
    """Trimmed and lowercased; a valid address (local part at most 64 characters, whole at most 254)."""
    text = value.strip().lower()
    if not text:
        raise Invalid("email is empty")
    if len(text) <= 254 and _EMAIL.fullmatch(text) and text.index("@") <= 64:
        return text
    if text.isascii():
        raise Invalid("email is not a valid address")
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Invalid("email is not a valid address") from None


def looks_like_email(value: str) -> str | None:
    """The trimmed, lowercased text if it has the shape local@domain, even when otherwise invalid.

    Used to index rejected rows by address, so that an erasure can find every report that mentions a person.
    """
    text = value.strip().lower()
    at = text.find("@")
    return text if 0 < at < len(text) - 1 and " " not in text and len(text) <= 320 else None


# -- phone ---------------------------------------------------------------------------------------------------

_PHONE_JUNK = str.maketrans("", "", " -.()/\u00a0")


def phone(value: str, country: str | None) -> str:
    """E.164, using ``country`` (ISO 3166 alpha-2) for national numbers; rejected if not a possible number."""
    text = value.strip()
    if not text:
        raise Invalid("phone is empty")
    compact = text if text[1:].isdigit() else text.translate(_PHONE_JUNK)  # translate is slow; most are compact
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+") and compact[1:].isdigit():
        fast = _e164_fast(compact)
        if fast is not None:
            return fast
    import phonenumbers  # here, not above: even a cached import costs more than the fast path

    try:
        number = phonenumbers.parse(text, country or None)
    except phonenumbers.NumberParseException:
        raise Invalid("phone is not a number (a national number needs a country)") from None
    if not phonenumbers.is_possible_number(number):
        raise Invalid("phone has an impossible length for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _e164_fast(compact: str) -> str | None:
    """An already international number checked against phonenumbers' own metadata (country calling code and
    possible national lengths) without a full parse; None sends it through ``phonenumbers.parse``."""
    digits = compact[1:]
    for size in (1, 2, 3):
        lengths = _LENGTHS.get(digits[:size], _MISSING)
        if lengths is _MISSING:
            lengths = _LENGTHS[digits[:size]] = _possible_lengths(digits[:size])
        if lengths is not None:
            national = digits[size:]
            if national and national[0] != "0" and len(national) in lengths:
                return compact
            return None
    return None


_MISSING = frozenset({-1})
_LENGTHS: dict[str, frozenset[int] | None] = {}


def _possible_lengths(calling_code: str) -> frozenset[int] | None:
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(calling_code))
    if not regions:
        return None
    lengths: set[int] = set()
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(int(calling_code), region)
        if metadata is None or metadata.general_desc is None:
            return None
        lengths.update(metadata.general_desc.possible_length or ())
    return frozenset(lengths) if lengths else None


# -- country -------------------------------------------------------------------------------------------------

# Names people write that are not ISO 3166 names.
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "united states of america": "US",
    "america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "deutschland": "DE",
    "espana": "ES",
    "españa": "ES",
    "italia": "IT",
    "eire": "IE",
    "éire": "IE",
    "south korea": "KR",
    "russia": "RU",
    "czech republic": "CZ",
    "turkey": "TR",
    "vietnam": "VN",
}


@cache
def _countries() -> dict[str, str]:
    import pycountry

    table: dict[str, str] = {}
    for entry in pycountry.countries:
        code = entry.alpha_2
        for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            name = getattr(entry, attribute, None)
            if name:
                table[_fold(name)] = code
        table[str(entry.numeric).lstrip("0")] = code
    table["uk"] = "GB"  # Shopify and others write "UK"; ISO reserves it for the United Kingdom
    for alias, code in _COUNTRY_ALIASES.items():
        table[_fold(alias)] = code
    return table


def _fold(text: str) -> str:
    stripped = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in stripped if not unicodedata.combining(c))


def country(value: str) -> str:
    """ISO 3166-1 alpha-2 from an alpha-2 or alpha-3 code, the numeric code, or an English name."""
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        upper = text.upper()
        if upper == "UK":
            return "GB"
        if upper in _alpha2():
            return upper
    code = _countries().get(_fold(text))
    if code is None:
        raise Invalid("country is not an ISO 3166 code or a known country name")
    return code


@cache
def _alpha2() -> frozenset[str]:
    import pycountry

    return frozenset(entry.alpha_2 for entry in pycountry.countries)


# -- dates ---------------------------------------------------------------------------------------------------

_SHOPIFY_OFFSET = re.compile(r" ([+-]\d{2}):?(\d{2})$")
_SLASHED = re.compile(r"(\d{1,4})[/.](\d{1,2})[/.](\d{1,4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def instant(value: str, tz: tzinfo, *, day_first: bool = True, fmt: str | None = None) -> datetime:
    """A UTC instant. Rules, in order:

    1. an explicit ``fmt`` (strptime) from the mapping is the only format tried;
    2. ISO 8601 (``T`` or space, optional seconds, fraction, ``Z`` or offset; ``+0000`` as Shopify writes it);
    3. Unix epoch seconds (10 digits) or milliseconds (13 digits);
    4. ``d/m/y`` or ``m/d/y`` with ``/`` or ``.`` as the mapping's ``day_first`` says (default day first);
       a date impossible under that order is rejected, never silently read the other way round.
    A time without an offset is in ``tz`` (the mapping's time zone, else the shop's).
    """
    text = value.strip()
    if not text:
        raise Invalid("date is empty")
    if fmt:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            raise Invalid("date does not match the mapping's date_format") from None
        return _aware(parsed, tz)
    if text[0].isdigit() and len(text) >= 10 and text[4] == "-":
        iso_text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        iso_text = _SHOPIFY_OFFSET.sub(r"\1:\2", iso_text)
        try:
            return _aware(datetime.fromisoformat(iso_text), tz)
        except ValueError:
            raise Invalid("date is not valid ISO 8601") from None
    if text.isdigit() and len(text) in (10, 13):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return _bounded(datetime.fromtimestamp(seconds, UTC))
    match = _SLASHED.fullmatch(text)
    if match:
        a, b, c, hh, mm, ss = match.groups()
        if len(a) == 4:
            year, month, day = int(a), int(b), int(c)
        else:
            first, second, year = int(a), int(b), int(c)
            if len(c) == 2:
                year += 2000 if year < 70 else 1900
            day, month = (first, second) if day_first else (second, first)
        try:
            parsed = datetime(year, month, day, int(hh or 0), int(mm or 0), int(ss or 0))
        except ValueError:
            order = "day/month/year" if day_first else "month/day/year"
            raise Invalid(f"date is impossible when read as {order}") from None
        return _aware(parsed, tz)
    raise Invalid("date is in no recognised format (ISO 8601, epoch, d/m/y)")


def _aware(parsed: datetime, tz: tzinfo) -> datetime:
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return _bounded(parsed.astimezone(UTC))


_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _bounded(value: datetime) -> datetime:
    if not _EARLIEST <= value <= _LATEST:
        raise Invalid("date is before 1900 or after 2200")
    return value


def day(value: str, tz: tzinfo, *, day_first: bool = True, fmt: str | None = None) -> date:
    """A calendar date (birthdays): the same rules as ``instant``, keeping the written date."""
    text = value.strip()
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise Invalid("date is not valid ISO 8601") from None
    moment = instant(text, UTC if tz is None else tz, day_first=day_first, fmt=fmt)
    return moment.astimezone(tz).date()


# -- money, numbers, flags, lists ------------------------------------------------------------------------------

_CURRENCY = re.compile(r"^(?:[A-Z]{3}\s*)?[£$€¥]?\s*|\s*[£$€¥]?\s*(?:[A-Z]{3})?$")


_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_AMOUNT_COMMA = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")


def money(value: str, *, decimal_comma: bool = False) -> float:
    """An amount: a currency symbol or ISO code around it is ignored; ``.`` is the decimal point and ``,``
    separates thousands in groups of three (with ``decimal_comma`` the other way round); anything else, such
    as ``12,50`` without ``decimal_comma``, is rejected rather than guessed. Rounded half-even to 2 decimals."""
    text = _CURRENCY.sub("", value.strip()).replace(" ", "")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    pattern = _AMOUNT_COMMA if decimal_comma else _AMOUNT
    if not pattern.fullmatch(text):
        raise Invalid("amount is not a number in the file's number format")
    text = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Invalid("amount is not a number in the file's number format") from None
    return float(round(amount, 2))


def integer(value: str) -> int:
    text = value.strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid("not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Invalid("not a whole number")
    return int(number)


_TRUE = frozenset({"yes", "y", "true", "t", "1", "subscribed", "opted in", "opt-in", "x"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "unsubscribed", "opted out", "opt-out", ""})


def flag(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid("not a yes/no value")


_SLUG_JUNK = re.compile(r"[^a-z0-9_-]+")


def slugs(value: str) -> list[str]:
    """A comma- or semicolon-separated list as lowercase slugs (``"VIP Customer"`` -> ``"vip_customer"``)."""
    out = []
    for part in _LIST_SPLIT.split(value):
        folded = part.strip().lower() if part.isascii() else _fold(part)
        slug = _SLUG_JUNK.sub("_", folded).strip("_")[:64]
        if slug:
            out.append(slug)
    return out


_LIST_SPLIT = re.compile(r"[,;]")


def midnight(value: date, tz: tzinfo) -> datetime:
    return datetime.combine(value, time(0), tz).astimezone(UTC)


ONE_DAY = timedelta(days=1)
