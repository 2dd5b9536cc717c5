"""The training function's package on sys.path, as Lambda puts the function's folder there."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[3] / "functions" / "model_training"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))


def _cdnow_dir() -> Path:
    """The CDNOW data set: ``$CDNOW_DIR``, else ``shared/data/cdnow`` beside the checkout (or an ancestor)."""
    if os.environ.get("CDNOW_DIR"):
        return Path(os.environ["CDNOW_DIR"])
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "data" / "cdnow"
        if candidate.is_dir():
            return candidate
    return Path("shared/data/cdnow")


@pytest.fixture(scope="session")
def cdnow_sample() -> Path:
    sample = _cdnow_dir() / "CDNOW_sample.txt"
    if not sample.exists():
        pytest.skip(f"CDNOW data not found at {sample} (set CDNOW_DIR)")
    return sample
