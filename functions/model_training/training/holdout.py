"""Holdout reports: purchases predicted for a holdout period from a calibration fit, against what happened.

Rows are grouped by the number of repeat purchases in the calibration period (the classic "conditional
expectations" check of the BG/NBD papers), with totals and the mean absolute error per customer.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+")


def report(
    x_calibration: np.ndarray,
    predicted: np.ndarray,
    actual: np.ndarray,
    *,
    model: str,
    calibration_end: str,
    holdout_end: str,
    holdout_days: float,
) -> dict[str, Any]:
    bucket = np.minimum(x_calibration, len(BUCKETS) - 1).astype(int)
    rows = []
    for b, name in enumerate(BUCKETS):
        mask = bucket == b
        n = int(mask.sum())
        rows.append(
            {
                "repeat_purchases": name,
                "customers": n,
                "actual": round(float(actual[mask].sum()), 4),
                "predicted": round(float(predicted[mask].sum()), 4),
                "actual_mean": round(float(actual[mask].mean()), 4) if n else None,
                "predicted_mean": round(float(predicted[mask].mean()), 4) if n else None,
            }
        )
    total_actual, total_predicted = float(actual.sum()), float(predicted.sum())
    return {
        "model": model,
        "calibration_end": calibration_end,
        "holdout_end": holdout_end,
        "holdout_days": holdout_days,
        "customers": len(actual),
        "predicted": round(total_predicted, 2),
        "actual": round(total_actual, 2),
        "error_pct": round(100 * (total_predicted - total_actual) / total_actual, 2) if total_actual else None,
        "mae_per_customer": round(float(np.abs(predicted - actual).mean()), 4) if len(actual) else None,
        "buckets": rows,
    }


def to_csv(holdout: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["repeat_purchases", "customers", "actual", "predicted", "actual_mean", "predicted_mean"])
    for row in holdout["buckets"]:
        writer.writerow([row[k] if row[k] is not None else "" for k in row])
    writer.writerow(["total", holdout["customers"], holdout["actual"], holdout["predicted"], "", ""])
    return out.getvalue()


def summary(holdout: dict[str, Any]) -> dict[str, Any]:
    """What ``metrics`` carries: the totals, without the per-bucket rows (those are in the stored report)."""
    return {k: v for k, v in holdout.items() if k != "buckets"}
