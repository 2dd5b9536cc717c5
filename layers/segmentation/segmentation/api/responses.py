"""Documented error responses shared by the routers (every error body is ``{"message": ...}`` plus details)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

ERROR: OpenAPIResponse = {"description": "Error", "content": {"application/json": {"schema": {"type": "object"}}}}
CREATED: dict[int, OpenAPIResponse] = {
    201: {"description": "Created; the refresh run that computes its membership has started"},
    400: ERROR,
    409: ERROR,
}
