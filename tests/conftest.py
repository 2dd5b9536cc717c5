"""Shared test setup: the layer on sys.path (as /opt/python is in Lambda), fake AWS, moto fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "segmentation", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Never reach a real AWS account from tests, whatever the developer's shell has configured.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-west-1",
    POWERTOOLS_METRICS_NAMESPACE="Segmentation",
    POWERTOOLS_DEV="false",
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

EVENTS_DIR = ROOT / "events"


@pytest.fixture
def load_event():
    """The sample events in events/ are the ones `sam local invoke -e` uses; tests use the same files."""
    import json

    def _load(name: str) -> dict:
        return json.loads((EVENTS_DIR / name).read_text())

    return _load
