"""Default response classification and throttle hints."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from segmentation.sync.adapters.base import NotConfigured, Rejected, Retryable, Throttled
from segmentation.sync.http import HttpResponse, check, redact, retry_after


def response(status: int, body: bytes = b"", **headers: str) -> HttpResponse:
    return HttpResponse(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": formatdate(1_000_030, usegmt=True)}, now=1_000_000) == pytest.approx(30.0)
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, Throttled),
        (401, NotConfigured),
        (403, NotConfigured),
        (408, Retryable),
        (500, Retryable),
        (503, Retryable),
        (400, Rejected),
        (422, Rejected),
    ],
)
def test_check_classifies_whole_responses(status, error):
    with pytest.raises(error):
        check(response(status), "x")


def test_check_passes_2xx_and_carries_retry_after():
    assert check(response(204), "x").status == 204
    with pytest.raises(Throttled) as raised:
        check(response(429, Retry_After="3"), "x")
    assert raised.value.retry_after == 3.0


def test_error_texts_never_carry_an_address():
    with pytest.raises(Rejected) as raised:
        check(response(400, b'{"detail":"jo.bloggs+x@example.co.uk looks fake"}'), "x")
    assert "@" not in str(raised.value) and "<email>" in str(raised.value)
    assert redact("a@b.c and d@e.f") == "<email> and <email>"


def test_outcome_reasons_and_delivery_errors_are_redacted():
    from segmentation.sync.adapters.base import Retryable, retry, stale, terminal

    for outcome in (retry("jo@example.com is busy"), terminal("jo@example.com invalid"), stale("jo@example.com gone")):
        assert "jo@example.com" not in outcome.reason and "<email>" in outcome.reason
    assert "@" not in str(Retryable("timeout for jo@example.com"))
