"""Fuzz every operation of the OpenAPI document against the real handlers, in-process (draft)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import response_schema_conformance

from local_runtime import LocalAws, Router
from local_runtime.serve import make_wsgi_app
from segmentation.api.openapi import document
from tests.integration.conftest import fresh_stack

API_KEY_HEADERS = {"x-api-key": "test-key"}

schema = schemathesis.openapi.from_dict(json.loads(document()))


@pytest.fixture(scope="module")
def wsgi_app(moto_server: LocalAws) -> Iterator[Any]:
    from segmentation import wiring

    with pytest.MonkeyPatch.context() as mp:
        for name, value in moto_server.environment().items():
            mp.setenv(name, value)
        mp.setenv("SEGMENTATION_FROZEN_NOW", "2026-11-20T12:00:00Z")
        router: Router = fresh_stack(moto_server)
        yield make_wsgi_app(router, drain=False, log=lambda _line: None)
        wiring.reset()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_fuzz(case: schemathesis.Case, wsgi_app: Any) -> None:
    case.call_and_validate(
        app=wsgi_app,
        headers=API_KEY_HEADERS,
        checks=[not_a_server_error, response_schema_conformance],
    )
