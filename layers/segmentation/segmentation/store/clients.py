"""Lazily created, cached boto3 clients.

Never created at import time: that slows cold starts and breaks tests that start moto afterwards.
``AWS_ENDPOINT_URL`` (read by botocore itself) points every client at the local runtime.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3  # deferred: keeps handler import time close to bare boto3 when a path never needs AWS

    return boto3.session.Session().client(service)  # type: ignore[call-overload]  # name known at run time


@cache
def secrets() -> Any:
    """Powertools' Secrets Manager provider on our own cached client, so values are cached per container and
    the client follows the same endpoint configuration as every other."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def reset() -> None:
    """Forget cached clients and providers (tests start a fresh moto per test)."""
    client.cache_clear()
    secrets.cache_clear()
