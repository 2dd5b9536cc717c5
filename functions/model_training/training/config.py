"""Training settings, read once from the function's environment (names match template.yaml)."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from training.replenishment import DEFAULT_CATEGORIES

# Below this many repeat buyers BG/NBD and Gamma-Gamma are not fitted (see docs/models.md, "Small data").
MIN_REPEAT_BUYERS = 200


class TrainingConfig(BaseModel):
    table_name: str = "segmentation"
    model_bucket: str = ""
    shop_time_zone: str = "UTC"
    min_repeat_buyers: int = Field(default=MIN_REPEAT_BUYERS, ge=2)
    holdout_days: int = Field(default=91, ge=7)
    consumable_categories: tuple[str, ...] = DEFAULT_CATEGORIES
    clv_horizon_days: int = Field(default=365, gt=0)
    annual_discount_rate: float = Field(default=0.10, ge=0)
    churn_low: float = Field(default=0.7, gt=0, le=1)
    churn_medium: float = Field(default=0.4, gt=0, le=1)
    time_unit_days: float = 7.0
    scan_segments: int = Field(default=4, ge=1, le=64)
    seed: int = 0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.shop_time_zone)

    @classmethod
    def from_environment(cls) -> TrainingConfig:
        env = os.environ
        values: dict[str, object] = {
            "table_name": env.get("TABLE_NAME", "segmentation"),
            "model_bucket": env.get("MODEL_BUCKET", ""),
            "shop_time_zone": env.get("SHOP_TIME_ZONE", "UTC"),
        }
        for name, key in (
            ("min_repeat_buyers", "MODEL_MIN_REPEAT_BUYERS"),
            ("holdout_days", "MODEL_HOLDOUT_DAYS"),
            ("clv_horizon_days", "MODEL_CLV_HORIZON_DAYS"),
            ("annual_discount_rate", "MODEL_ANNUAL_DISCOUNT_RATE"),
            ("scan_segments", "MODEL_SCAN_SEGMENTS"),
        ):
            if env.get(key):
                values[name] = env[key]
        if env.get("MODEL_CONSUMABLE_CATEGORIES"):
            values["consumable_categories"] = tuple(
                c.strip() for c in env["MODEL_CONSUMABLE_CATEGORIES"].split(",") if c.strip()
            )
        return cls.model_validate(values)
