"""How customer values become typed columns that a vectorised evaluator can compare exactly.

The per-customer evaluator looks at each stored value's Python type at run time: a custom attribute may hold
text for one customer and a number for the next, and a condition on the "wrong" kind is simply false. A column
has one type, so a value is encoded into one or more **facets**, one per way a rule can look at it: the text
facet holds the casefolded text when the value is text and is null otherwise, the number facet holds the number
when it is one, and so on. A condition reads the facet its per-customer twin would test, and a null facet makes
it false, exactly as a value of the wrong kind does.

Some values cannot be encoded faithfully: a NaN (columnar engines order it above every number, Python makes
every comparison with it false), an integer too large for a double, a string that is not valid Unicode, an
instant outside the calendar or in a daylight-saving fold where Python's equality has its own rule, an event
time without an offset. Encoders report the positions of such values as **exceptional**, and the bulk evaluator
decides those customers with the per-customer evaluator instead. Nothing here imports a columnar engine: the
output is plain Python lists that the caller turns into arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any

from segmentation.features.catalogue import AttrType
from segmentation.rules.evaluate import runtime_instant

_LISTS = (list, tuple, set, frozenset)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

MAX_EXACT_INT = 2**53
"""Integers beyond this magnitude are not all representable as doubles; they are exceptional values."""

MAX_SUMMED_INT = 2**32
"""Event properties may be summed: integers up to this size keep every partial sum of up to 2**21 events exact
in a double (as Python's integer sum is); larger ones are exceptional."""

MISSING_TIME = -(2**63)
"""The encoded time of a missing instant: the int64 that numpy reads as NaT and a columnar engine as null."""


class Facet(StrEnum):
    """One way of looking at a stored value, and so one typed column."""

    TEXT = "text"  # casefolded text (VARCHAR), when the value is text
    NUMBER = "number"  # a double, when the value is an int, a float or a Decimal (never a bool)
    BOOL = "bool"  # when the value is True or False
    TIME = "time"  # microseconds since the epoch (UTC), when the value is a date or a date-time
    LIST = "list"  # casefolded text elements (VARCHAR[]), when the value is a list; other elements dropped
    PRESENT = "present"  # whether the value is not None (BOOLEAN, never null)
    # A kind-tagged scalar ("s<text>", "n<number>", "b1"/"b0") for mixed-kind 'in' (a facet name, not a secret).
    TOKEN = "token"  # noqa: S105
    TOKENS = "tokens"  # kind-tagged elements of a list value, for mixed-kind 'in'


SQL_TYPES: dict[Facet, str] = {
    Facet.TEXT: "VARCHAR",
    Facet.NUMBER: "DOUBLE",
    Facet.BOOL: "BOOLEAN",
    Facet.TIME: "TIMESTAMP",
    Facet.LIST: "VARCHAR[]",
    Facet.PRESENT: "BOOLEAN",
    Facet.TOKEN: "VARCHAR",
    Facet.TOKENS: "VARCHAR[]",
}

# The facet a typed attribute is mostly read through; its column is named after the attribute alone.
PRIMARY: dict[AttrType, Facet] = {
    AttrType.STRING: Facet.TEXT,
    AttrType.NUMBER: Facet.NUMBER,
    AttrType.BOOLEAN: Facet.BOOL,
    AttrType.DATE: Facet.TIME,
    AttrType.DATETIME: Facet.TIME,
    AttrType.STRING_LIST: Facet.LIST,
}


def column_name(source: str, type_: AttrType, facet: Facet) -> str:
    """``country`` for the text of a text attribute, ``custom.tier#number`` for a facet that is not primary."""
    return source if PRIMARY.get(type_) is facet else f"{source}#{facet.value}"


class Exceptional(ValueError):
    """A value the columns cannot represent faithfully: its customer is decided per customer."""


def _utf8(text: str) -> str:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Exceptional("text that is not valid Unicode") from exc
    return text


def encode_text(value: Any, tz: tzinfo) -> str | None:
    return _utf8(value.casefold()) if isinstance(value, str) else None


def encode_number(value: Any, tz: tzinfo) -> float | None:
    kind = value.__class__
    if kind is float:
        if value != value:
            raise Exceptional("NaN")
        return value  # type: ignore[no-any-return]
    if kind is int:
        if -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
            return float(value)
        raise Exceptional("an integer beyond 2**53")
    if kind is Decimal:
        try:
            number = float(value)
        except ValueError as exc:  # a signalling NaN: the per-customer evaluator raises on it too
            raise Exceptional("a signalling NaN") from exc
        if number != number:
            raise Exceptional("NaN")
        return number
    return None


def encode_amount(value: Any, tz: tzinfo) -> float | None:
    """A numeric event property, which a behaviour condition may sum or average.

    Beyond :func:`encode_number`: an infinity is exceptional (inf + -inf is NaN, which SQL and Python compare
    differently), and so is an integer above :data:`MAX_SUMMED_INT` (a sum of large integers is exact in Python,
    rounded in a double).
    """
    number = encode_number(value, tz)
    if number is None:
        return None
    if number - number != 0.0:
        raise Exceptional("an infinite amount")
    if value.__class__ is int and not -MAX_SUMMED_INT <= value <= MAX_SUMMED_INT:
        raise Exceptional("an integer too large to sum exactly")
    return number


def encode_bool(value: Any, tz: tzinfo) -> bool | None:
    return value if value is True or value is False else None


def _fold_sensitive(value: datetime) -> bool:
    # Python never finds an inter-zone ``==`` true for an instant whose offset depends on ``fold``.
    zone = value.tzinfo
    if zone is None or zone is UTC or isinstance(zone, timezone):
        return False
    return value.replace(fold=1 - value.fold).utcoffset() != value.utcoffset()


def instant_micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since the epoch."""
    return (instant - _EPOCH) // _MICROSECOND


def encode_time(value: Any, tz: tzinfo) -> int:
    """Microseconds since the epoch (UTC), or :data:`MISSING_TIME` when the value is not a date or time."""
    if not isinstance(value, date):
        return MISSING_TIME
    try:
        instant = runtime_instant(value, tz)
        assert instant is not None
        if isinstance(value, datetime) and _fold_sensitive(value):
            raise Exceptional("an instant in a daylight-saving fold")
        return instant_micros(instant)
    except (OverflowError, ValueError) as exc:
        raise Exceptional("an instant outside the calendar") from exc


def encode_event_time(value: Any, tz: tzinfo) -> int:
    """An event's time: always present, and aware (the per-customer evaluator cannot compare anything else)."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise Exceptional("an event time that is not an aware date-time")
    try:
        return instant_micros(value)
    except OverflowError as exc:
        raise Exceptional("an event time outside the calendar") from exc


def encode_list(value: Any, tz: tzinfo) -> list[str] | None:
    if not isinstance(value, _LISTS):
        return None
    return [_utf8(item.casefold()) for item in value if isinstance(item, str)]


def encode_present(value: Any, tz: tzinfo) -> bool:
    return value is not None


def token(value: Any) -> str | None:
    """The kind-tagged form of a scalar for mixed-kind membership (``None`` for any other kind of value).

    Numbers are tagged by their double's ``repr``, so ``1``, ``1.0`` and ``Decimal("1")`` meet, and booleans
    have a tag of their own, so ``True`` never meets ``1``: the same matches as the per-customer evaluator's
    separate sets per kind.
    """
    if isinstance(value, str):
        return "s" + _utf8(value.casefold())
    if value is True:
        return "b1"
    if value is False:
        return "b0"
    number = encode_number(value, UTC)
    if number is None:
        return None
    return "n" + repr(number + 0.0)  # + 0.0 turns -0.0 into 0.0, which Python's sets take as equal


def encode_token(value: Any, tz: tzinfo) -> str | None:
    return None if isinstance(value, _LISTS) else token(value)


def encode_tokens(value: Any, tz: tzinfo) -> list[str] | None:
    if not isinstance(value, _LISTS):
        return None
    found = (token(item) for item in value)
    return [item for item in found if item is not None]


ENCODERS: dict[Facet, Callable[[Any, tzinfo], Any]] = {
    Facet.TEXT: encode_text,
    Facet.NUMBER: encode_number,
    Facet.BOOL: encode_bool,
    Facet.TIME: encode_time,
    Facet.LIST: encode_list,
    Facet.PRESENT: encode_present,
    Facet.TOKEN: encode_token,
    Facet.TOKENS: encode_tokens,
}

_MISSING: dict[Facet, Any] = {Facet.TIME: MISSING_TIME, Facet.PRESENT: False}


def encode_column(
    values: Sequence[Any], facet: Facet, tz: tzinfo, *, event: bool = False
) -> tuple[list[Any], list[int]]:
    """Encode ``values`` in ``facet``: the encoded list, and the positions of exceptional values.

    ``event`` marks event properties, whose numbers are amounts (:func:`encode_amount`). An exceptional position
    holds the facet's missing value; its customer must be decided per customer.
    """
    encode = encode_amount if event and facet is Facet.NUMBER else ENCODERS[facet]
    if facet is Facet.PRESENT:
        return [value is not None for value in values], []
    try:
        # The common case in one comprehension; a rare exceptional value sends the column down the slow path.
        return [encode(value, tz) for value in values], []
    except Exceptional:
        pass
    encoded: list[Any] = []
    exceptional: list[int] = []
    missing = _MISSING.get(facet)
    for position, value in enumerate(values):
        try:
            encoded.append(encode(value, tz))
        except Exceptional:
            encoded.append(missing)
            exceptional.append(position)
    return encoded, exceptional


def encode_event_times(values: Sequence[Any], tz: tzinfo) -> tuple[list[int], list[int]]:
    """Event times in microseconds, and the positions of exceptional ones (see :func:`encode_event_time`)."""
    try:
        return [encode_event_time(value, tz) for value in values], []
    except Exceptional:
        pass
    encoded: list[int] = []
    exceptional: list[int] = []
    for position, value in enumerate(values):
        try:
            encoded.append(encode_event_time(value, tz))
        except Exceptional:
            encoded.append(MISSING_TIME)
            exceptional.append(position)
    return encoded, exceptional
