"""Local fake platforms wired to a local stack: each fake's credentials stored as the channel's secret
(``<stack>/channels/<channel>``), exactly where ``ChannelSyncFunction`` looks for them in AWS."""

from __future__ import annotations

import json
from typing import Any

from local_runtime import fakes
from local_runtime.fakes.base import FakePlatform
from local_runtime.resources import LocalEnvironment
from segmentation.sync import adapters


def secret_name(env: LocalEnvironment, channel: str) -> str:
    return f"{env.stack_name}/channels/{channel}"


def put_channel_secret(env: LocalEnvironment, channel: str, value: dict[str, Any]) -> None:
    client = env.client("secretsmanager")
    name = secret_name(env, channel)
    try:
        client.create_secret(Name=name, SecretString=json.dumps(value))
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=json.dumps(value))


def start_fakes(
    env: LocalEnvironment, channels: list[str] | tuple[str, ...], *, unlimited: bool = False, **kwargs: Any
) -> dict[str, FakePlatform]:
    """Start a fake per channel and store its secret; stop them with ``stop_fakes``.

    ``unlimited`` lifts the documented rate limits on both sides (fake and adapter), for a demo that should
    not spend minutes waiting on a real clock; the benchmarks measure the limited case.
    """
    started: dict[str, FakePlatform] = {}
    for channel in channels:
        fake, config = fakes.start(channel, **kwargs)
        if unlimited:
            fake.rates = {}
            spec = adapters.spec(channel)
            config = {**config, "rates": {b: [{"requests": 10_000, "per_seconds": 1}] for b in spec.rates}}
        put_channel_secret(env, channel, config)
        started[channel] = fake
    return started


def stop_fakes(started: dict[str, FakePlatform]) -> None:
    for fake in started.values():
        fake.stop()
