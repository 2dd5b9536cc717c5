"""Normalisation rules for imported values (docs/imports.md, "Normalisation")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from importer import normalise as nz

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Ana@Example.COM ", "ana@example.com"), ("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk")],
)
def test_email_is_trimmed_lowercased_and_accepted(raw: str, expected: str) -> None:
    assert nz.email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ana",
        "ana@",
        "@example.com",
        "ana@example",
        "a b@example.com",
        "ana@@example.com",
        "ana@example..com",
        "x" * 65 + "@example.com",
    ],
)
def test_email_invalid_is_rejected(raw: str) -> None:
    with pytest.raises(nz.Invalid):
        nz.email(raw)


def test_email_international_goes_through_the_validator() -> None:
    assert nz.email("José@Example.com") == "josé@example.com"


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+44 7946 000111", None, "+447946000111"),
        ("07946 000111", "GB", "+447946000111"),
        ("0044 7946 000111", None, "+447946000111"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("(212) 555-0142", "US", "+12125550142"),
        ("030 1234567", "DE", "+49301234567"),
    ],
)
def test_phone_goes_to_e164_with_the_rows_country(raw: str, country: str | None, expected: str) -> None:
    assert nz.phone(raw, country) == expected


@pytest.mark.parametrize(("raw", "country"), [("07946 000111", None), ("+44 12", None), ("call me", "GB")])
def test_phone_without_country_or_impossible_is_rejected(raw: str, country: str | None) -> None:
    with pytest.raises(nz.Invalid):
        nz.phone(raw, country)


def test_phone_fast_path_agrees_with_phonenumbers() -> None:
    import phonenumbers

    for raw in ("+447946000111", "+33612345678", "+12125550142", "+4930123456", "+353851234567", "+390612345678"):
        parsed = phonenumbers.parse(raw, None)
        slow = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        assert nz.phone(raw, None) == slow


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("GB", "GB"),
        ("gb", "GB"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("GBR", "GB"),
        ("826", "GB"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("France", "FR"),
        ("united states", "US"),
        ("USA", "US"),
        ("Côte d'Ivoire", "CI"),
        ("Netherlands", "NL"),
    ],
)
def test_country_becomes_iso_3166_alpha_2(raw: str, code: str) -> None:
    assert nz.country(raw) == code


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "", "G"])
def test_country_unknown_is_rejected(raw: str) -> None:
    with pytest.raises(nz.Invalid):
        nz.country(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01 10:00:00 +0100", datetime(2026, 11, 1, 9, tzinfo=UTC)),  # Shopify
        ("2026-07-01 10:00", datetime(2026, 7, 1, 9, tzinfo=UTC)),  # naive: the time zone given (BST)
        ("2026-11-01", datetime(2026, 11, 1, 0, tzinfo=UTC)),
        ("1793527200", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("1793527200000", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("03/04/2026", datetime(2026, 4, 3, 0, tzinfo=UTC) - (datetime(2026, 4, 3, tzinfo=LONDON).utcoffset() or 0)),
    ],
)
def test_instant_rules(raw: str, expected: datetime) -> None:
    assert nz.instant(raw, LONDON) == expected


def test_instant_slashed_dates_follow_the_declared_order_and_never_guess() -> None:
    assert nz.instant("04/03/2026", UTC, day_first=False) == datetime(2026, 4, 3, tzinfo=UTC)
    with pytest.raises(nz.Invalid, match="month/day/year"):
        nz.instant("13/03/2026", UTC, day_first=False)
    assert nz.instant("13/03/2026", UTC) == datetime(2026, 3, 13, tzinfo=UTC)


def test_instant_explicit_format_is_the_only_one_tried() -> None:
    assert nz.instant("01.11.2026 10:00", UTC, fmt="%d.%m.%Y %H:%M") == datetime(2026, 11, 1, 10, tzinfo=UTC)
    with pytest.raises(nz.Invalid):
        nz.instant("2026-11-01", UTC, fmt="%d.%m.%Y %H:%M")


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01", "31/02/2026", "1800-01-01", ""])
def test_instant_invalid_is_rejected(raw: str) -> None:
    with pytest.raises(nz.Invalid):
        nz.instant(raw, UTC)


def test_day_keeps_the_written_date() -> None:
    assert nz.day("1990-05-17", LONDON) == date(1990, 5, 17)
    assert nz.day("17/05/1990", LONDON) == date(1990, 5, 17)


@pytest.mark.parametrize(
    ("raw", "comma", "amount"),
    [
        ("12.50", False, 12.5),
        ("£1,234.50", False, 1234.5),
        ("EUR 9.99", False, 9.99),
        ("1.234,50 €", True, 1234.5),
        ("(3.00)", False, -3.0),
        ("10", False, 10.0),
        ("2.345", False, 2.34),
    ],
)
def test_money_rules(raw: str, comma: bool, amount: float) -> None:
    assert nz.money(raw, decimal_comma=comma) == amount


@pytest.mark.parametrize("raw", ["", "abc", "1.2.3", "NaN", "Infinity", "12,50 EUR"])
def test_money_invalid_is_rejected(raw: str) -> None:
    with pytest.raises(nz.Invalid):
        nz.money(raw)


def test_slugs_and_flags() -> None:
    assert nz.slugs("VIP Customer, Newsletter; Éte") == ["vip_customer", "newsletter", "ete"]
    assert nz.flag("Yes") is True and nz.flag("no") is False
    with pytest.raises(nz.Invalid):
        nz.flag("maybe")
