"""A segment's destinations are checked against the channels' specs, with the path of the bad field."""

from __future__ import annotations

import pytest

from segmentation.segments.models import Destination
from segmentation.sync import adapters
from segmentation.sync.destinations import DestinationError, validate_destinations


def test_every_adapter_module_registers_a_matching_spec():
    for channel in adapters.channel_names():
        spec = adapters.spec(channel)
        assert spec.name == channel and spec.title and spec.representation and spec.auth
        assert spec.upsert_batch >= 1 and spec.add_batch >= 1 and spec.remove_batch >= 1


def test_valid_destinations_pass():
    validate_destinations(
        [
            Destination(channel="mailchimp", list_name="seg:vip", fields={"FNAME": "first_name", "CITY": "city"}),
            Destination(channel="klaviyo", fields={"Scent": "custom.scent"}),
            Destination(channel="webhook", purpose=None),
        ]
    )


@pytest.mark.parametrize(
    ("destination", "path"),
    [
        (Destination(channel="nope"), "destinations[0].channel"),
        (Destination(channel="mailchimp", fields={"fname": "first_name"}), "destinations[0].fields.fname"),
        (Destination(channel="hubspot", fields={"firstname": "consent"}), "destinations[0].fields.firstname"),
        (Destination(channel="hubspot", purpose=None), "destinations[0].purpose"),
    ],
)
def test_invalid_destinations_name_the_bad_field(destination, path):
    with pytest.raises(DestinationError) as raised:
        validate_destinations([destination])
    assert str(raised.value).startswith(path)


def test_the_same_destination_twice_is_refused():
    with pytest.raises(DestinationError, match=r"destinations\[1\]"):
        validate_destinations(
            [Destination(channel="klaviyo", list_name="a"), Destination(channel="klaviyo", list_name="a")]
        )
