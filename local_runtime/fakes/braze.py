"""Fake Braze REST API: ``/users/track`` with array and boolean custom attributes, per-object errors, the
75-object limit and the 3,000-per-3-seconds rate with ``X-RateLimit-*`` headers on a 429."""

from __future__ import annotations

import math
import time
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

API_KEY = "fake-braze-rest-key-0000"
OBJECT_LIMIT = 75
ATTRIBUTE = "segments"


class FakeBraze(FakePlatform):
    channel = "braze"
    rates = {"default": (Rate(3000, 3.0),)}

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Authorization") == f"Bearer {API_KEY}"

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(status, {"message": message})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        # The reset is an epoch on the platform's (real-world) clock: the wait it implies is ``retry_after``.
        reset = math.ceil(time.time() + retry_after)
        headers = {"X-RateLimit-Limit": "3000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        return FakeResponse(429, {"message": "Too Many Requests"}, headers)

    def members(self, list_name: str) -> set[str]:
        return {
            uid
            for uid, user in self.contacts.items()
            if list_name in (user.get(ATTRIBUTE) or []) or user.get(list_name) is True
        }

    @route("POST", r"/users/track")
    def track(self, request: FakeRequest) -> FakeResponse:
        body = request.data()
        objects = [o for key in ("attributes", "events", "purchases") for o in body.get(key) or []]
        self.require(objects, "attributes, events or purchases is required")
        self.require(len(objects) <= OBJECT_LIMIT, f"at most {OBJECT_LIMIT} objects per request")
        attributes = body.get("attributes") or []
        failing = self.partial(attributes)
        errors: list[dict[str, Any]] = []
        for index, change in enumerate(attributes):
            problem = self._validate(change)
            if problem is None and index in failing:
                problem = "Temporary processing failure, please retry"
            if problem is not None:
                errors.append({"type": problem, "input_array": "attributes", "index": index})
                continue
            uid = change["external_id"]
            if change.get("_update_existing_only") and uid not in self.contacts:
                continue
            user = self.contacts.setdefault(uid, {"external_id": uid})
            for key, value in change.items():
                if key in ("external_id", "_update_existing_only"):
                    continue
                if isinstance(value, dict) and set(value) <= {"add", "remove"}:
                    current = list(user.get(key) or [])
                    current += [v for v in value.get("add") or [] if v not in current]
                    user[key] = [v for v in current if v not in (value.get("remove") or [])]
                else:
                    user[key] = value
        processed = len(attributes) - len(errors)
        if attributes and processed == 0:
            return FakeResponse(400, {"message": "All objects failed validation", "errors": errors})
        answer: dict[str, Any] = {"message": "success", "attributes_processed": processed}
        if errors:
            answer["errors"] = errors
        return FakeResponse(201, answer)

    @staticmethod
    def _validate(change: Any) -> str | None:
        if not isinstance(change, dict):
            return "Attributes object must be a JSON object"
        if not isinstance(change.get("external_id"), str) or not change["external_id"]:
            return "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"
        for key, value in change.items():
            if len(key) > 255:
                return f"Invalid attribute name '{key[:20]}...'"
            if isinstance(value, str) and len(value) > 255:
                return f"Value of '{key}' exceeds 255 characters"
        return None


FAKE = FakeBraze


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"api_key": API_KEY, "rest_endpoint": fake.url, "attribute": ATTRIBUTE}
