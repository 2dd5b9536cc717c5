"""The OpenAPI document is generated from the code; docs/openapi.json must be that document, not a stale copy.

Regenerate with: .venv/bin/python -m segmentation.api.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
from pathlib import Path

from segmentation.api.openapi import document

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_document_matches_the_code():
    assert json.loads(DOC.read_text()) == json.loads(document()), "regenerate docs/openapi.json (see module doc)"


def test_every_route_is_documented_with_its_request_body():
    spec = json.loads(document())
    assert "/segments/{segment_id}/members" in spec["paths"]
    upsert = spec["paths"]["/customers/{customer_id}"]["put"]
    assert "requestBody" in upsert
