"""Environment read once into a typed settings object; logic receives plain values from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Settings:
    table_name: str = "segmentation"
    sync_queue_url: str = ""
    dead_letter_queue_url: str = ""
    event_bus_name: str = "segmentation"
    shop_time_zone: str = "UTC"
    segment_cache_seconds: float = 60.0
    model_cache_seconds: float = 300.0
    webhook_secret_arn: str = ""
    webhook_url: str = ""
    refresh_queue_url: str = ""
    refresh_shards: int = 16
    suppression_salt_arn: str = ""
    channel_secret_prefix: str = ""
    import_bucket: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.shop_time_zone)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the Lambda environment (names match template.yaml Globals)."""
    return Settings(
        table_name=_env("TABLE_NAME", "segmentation"),
        sync_queue_url=_env("SYNC_QUEUE_URL", ""),
        dead_letter_queue_url=_env("EVENTS_DLQ_URL", ""),
        event_bus_name=_env("EVENT_BUS_NAME", "segmentation"),
        shop_time_zone=_env("SHOP_TIME_ZONE", "UTC"),
        segment_cache_seconds=float(_env("SEGMENT_CACHE_SECONDS", "60")),
        model_cache_seconds=float(_env("MODEL_CACHE_SECONDS", "300")),
        webhook_secret_arn=_env("WEBHOOK_SECRET_ARN", ""),
        webhook_url=_env("WEBHOOK_URL", ""),
        refresh_queue_url=_env("REFRESH_QUEUE_URL", ""),
        refresh_shards=int(_env("REFRESH_SHARDS", "16")),
        suppression_salt_arn=_env("SUPPRESSION_SALT_ARN", ""),
        channel_secret_prefix=_env("CHANNEL_SECRET_PREFIX", ""),
        import_bucket=_env("IMPORT_BUCKET", ""),
    )
