"""The per-platform table in docs/channels.md is generated from the adapters' specs and must not drift."""

from __future__ import annotations

from local_runtime.channels_doc import DOC, END, START, render
from segmentation.sync import adapters


def test_channels_doc_table_matches_the_adapter_specs():
    document = DOC.read_text()
    assert START in document and END in document
    assert render(document) == document, "run: python -m local_runtime channels-table --write docs/channels.md"


def test_every_unverified_item_of_every_adapter_is_in_the_doc():
    document = DOC.read_text()
    for channel in adapters.channel_names():
        for item in adapters.spec(channel).unverified:
            assert item.replace("|", "\\|") in document, (channel, item)
