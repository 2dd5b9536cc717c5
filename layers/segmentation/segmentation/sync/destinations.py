"""Validation of a segment's destinations against the channels' specs (a 400 that names the bad field)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from segmentation.sync import adapters

if TYPE_CHECKING:
    from segmentation.segments.models import Destination

# Profile attributes a field mapping may send to a platform. Consent is deliberately absent: adapters never
# write consent state (a platform's opt-in is the customer's own act, not ours to set).
MAPPABLE = frozenset(
    {
        "customer_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "birth_date",
        "gender",
        "country",
        "region",
        "city",
        "postal_code",
        "registered_at",
    }
)
_CUSTOM = re.compile(r"^custom\.[a-z0-9_]{1,64}$")


class DestinationError(ValueError):
    """Raised with the path of the bad field, e.g. ``destinations[1].fields.FNAME: ...``."""


def validate_destinations(destinations: Sequence[Destination]) -> None:
    seen: set[tuple[str, str | None]] = set()
    for index, destination in enumerate(destinations):
        where = f"destinations[{index}]"
        try:
            spec = adapters.spec(destination.channel)
        except adapters.UnknownChannel as exc:
            raise DestinationError(f"{where}.channel: {exc}") from None
        key = (destination.channel, destination.list_name)
        if key in seen:
            raise DestinationError(f"{where}: channel {destination.channel!r} with this list_name is listed twice")
        seen.add(key)
        if destination.purpose is None and spec.requires_purpose:
            raise DestinationError(
                f"{where}.purpose: {destination.channel} sends marketing, so it needs a consent purpose (e.g. email)"
            )
        pattern = re.compile(spec.field_pattern)
        for platform_field, attribute in destination.fields.items():
            if not pattern.fullmatch(platform_field):
                raise DestinationError(
                    f"{where}.fields.{platform_field}: not a valid {spec.title} field name ({spec.field_pattern})"
                )
            if attribute not in MAPPABLE and not _CUSTOM.fullmatch(attribute):
                raise DestinationError(
                    f"{where}.fields.{platform_field}: unknown profile attribute {attribute!r}; use one of "
                    f"{', '.join(sorted(MAPPABLE))} or custom.<key>"
                )
