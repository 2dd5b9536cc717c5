"""Fuzz every operation of the OpenAPI document against the real handlers, in-process, with Schemathesis.

The schema is the one `segmentation.api.openapi.document()` generates (docs/openapi.json). Each operation is its
own test item; Schemathesis generates valid and invalid requests for it (Hypothesis, a bounded number of examples,
no shrinking) and sends them through the local WSGI app (`local_runtime.serve.make_wsgi_app`), i.e. through the
same `Router.api_response` API Gateway emulation the other integration tests use, always with the API key.

Checks on every response:
- `not_a_server_error`: no 5xx (a handler exception is a 502 from the router, its traceback on stderr);
- `response_schema_conformance`: the body matches the schema wherever the document describes that status code
  (200 and 422 today; 400/403/404/409 are undocumented and so not validated);
- the request carried the API key and was not refused as unauthenticated.

A shared stack is built once for the module and seeded with a customer and a segment; path parameters are steered
towards those ids (and a real template id) half of the time so requests reach the handlers' happy paths rather
than stopping at "not found".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from local_runtime import LocalAws, Router
from local_runtime.serve import make_wsgi_app
from segmentation.api.openapi import document
from segmentation.segments.templates import TEMPLATES
from tests.integration.conftest import fresh_stack

API_KEY = "test-key"
API_KEY_HEADERS = {"x-api-key": API_KEY}
MAX_EXAMPLES = 25

DOCUMENT: dict[str, Any] = json.loads(document())

# Seeded by the `router` fixture; path parameters are steered towards these half of the time.
KNOWN_PATH_PARAMETERS = {
    "customer_id": "c1",
    "segment_id": "big_spenders",
    "template_id": TEMPLATES[0].template_id,
}


schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    if not path_parameters:
        return st.just(path_parameters)
    known = {name: KNOWN_PATH_PARAMETERS[name] for name in path_parameters if name in KNOWN_PATH_PARAMETERS}
    if not known:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


@pytest.fixture(scope="module")
def router(moto_server: LocalAws) -> Iterator[Router]:
    """One stack for the whole module (Hypothesis runs many examples per test item), seeded with known ids."""
    from segmentation import wiring

    with pytest.MonkeyPatch.context() as mp:
        for name, value in moto_server.environment().items():
            mp.setenv(name, value)
        mp.setenv("SEGMENTATION_FROZEN_NOW", "2026-11-20T12:00:00Z")
        router = fresh_stack(moto_server)

        def seed(method: str, path: str, body: Any) -> None:
            status, _, payload = router.api(method, path, body=body, headers=API_KEY_HEADERS)
            assert 200 <= status < 300, (method, path, status, payload)

        seed("PUT", "/customers/c1", {"email": "c1@example.com", "country": "FR"})
        seed(
            "POST",
            "/segments",
            {"name": "Big spenders", "rule": {"attr": "total_spent", "op": "gte", "value": 100}},
        )
        seed(
            "POST",
            "/customers/c1/orders",
            {
                "order_id": "o-1",
                "placed_at": "2026-11-19T10:00:00Z",
                "currency": "EUR",
                "total": 120.0,
                "lines": [{"sku": "EO-LAV", "category": "essential_oils", "quantity": 3, "unit_price": 40.0}],
            },
        )
        yield router
        wiring.reset()


@pytest.fixture(scope="module")
def wsgi_app(router: Router) -> Any:
    return make_wsgi_app(router, drain=False, log=lambda _line: None)


def api_key_sent_and_accepted(ctx: Any, response: Any, case: schemathesis.Case) -> bool:
    """Every request carries the key; a 403 would mean the gateway refused it (or no route matched the path)."""
    assert response.request.headers.get("x-api-key") == API_KEY, "request sent without the API key"
    assert response.status_code != 403, f"refused by the gateway: {response.text}"
    return True


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded runtime; failures print a curl reproducer
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    derandomize=True,
)
def test_api_fuzz(case: schemathesis.Case, wsgi_app: Any) -> None:
    case.call_and_validate(
        app=wsgi_app,
        headers=API_KEY_HEADERS,
        checks=[not_a_server_error, response_schema_conformance, api_key_sent_and_accepted],
    )


def test_validation_error_body_is_documented(router: Router) -> None:
    """A 422 from request validation matches the documented `HTTPValidationError` schema (with `msg`)."""
    status, _, payload = router.api("POST", "/segments", body=None, headers=API_KEY_HEADERS)
    assert status == 422, payload
    documented = DOCUMENT["paths"]["/segments"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**documented, "components": DOCUMENT["components"]})
    errors = [error.message for error in validator.iter_errors(payload)]
    assert not errors, f"422 body {payload} does not match the documented HTTPValidationError: {errors}"


ORDER_LINES = [{"sku": "s", "category": "c", "quantity": 1, "unit_price": 1.0}]


def test_order_at_the_start_of_year_one_is_not_a_server_error(router: Router) -> None:
    """Found by the fuzzer: a timestamp at the edge of what datetime can hold once moved to the shop's time zone
    used to be stored and then break every read of the customer. Timestamps outside 1900-2200 are rejected."""
    order = {"order_id": "o-1", "placed_at": "0001-01-01T00:00:00Z", "total": 1, "lines": ORDER_LINES}
    status, _, payload = router.api("POST", "/customers/fuzz-year-one/orders", body=order, headers=API_KEY_HEADERS)
    assert status == 422, f"POST /customers/fuzz-year-one/orders {order} -> {status} {payload}"
    status, _, payload = router.api("GET", "/customers/fuzz-year-one", headers=API_KEY_HEADERS)
    assert status < 500, f"GET /customers/fuzz-year-one -> {status} {payload}"


def test_refund_before_year_1000_leaves_the_customer_readable(router: Router) -> None:
    """A year below 1000 used to be stored unpadded and then unreadable; it is now rejected at the door."""
    order = {"order_id": "o-1", "placed_at": "2026-01-01T00:00:00Z", "total": 1, "lines": ORDER_LINES}
    status, _, payload = router.api("POST", "/customers/fuzz-refund/orders", body=order, headers=API_KEY_HEADERS)
    assert status == 200, payload  # precondition, not the bug
    refund = {"order_id": "o-1", "refunded_at": "0999-06-01T00:00:00Z", "amount": 1}
    status, _, payload = router.api("POST", "/customers/fuzz-refund/refunds", body=refund, headers=API_KEY_HEADERS)
    assert status in (200, 422), f"POST /customers/fuzz-refund/refunds {refund} -> {status} {payload}"
    status, _, payload = router.api("GET", "/customers/fuzz-refund", headers=API_KEY_HEADERS)
    assert status == 200, f"GET /customers/fuzz-refund after that refund -> {status} {payload}"
