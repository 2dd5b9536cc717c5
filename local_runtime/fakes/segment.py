"""Fake Twilio Segment HTTP Tracking API: ``/v1/batch`` of ``identify`` calls merged into user traits, with
the 32 KB per event and 500 KB per batch limits and ``messageId`` de-duplication."""

from __future__ import annotations

import base64
import json
from typing import Any

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route

WRITE_KEY = "fakeWriteKey0000000000000000"
EVENT_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024


class FakeSegment(FakePlatform):
    channel = "segment"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message_ids: set[str] = set()
        self.duplicates = 0
        self.calls: list[dict[str, Any]] = []

    def authorized(self, request: FakeRequest) -> bool:
        header = request.header("Authorization")
        try:
            decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        except ValueError:
            return False
        return header.startswith("Basic ") and decoded == f"{WRITE_KEY}:"

    def error(self, status: int, message: str) -> FakeResponse:
        return FakeResponse(status, {"success": False, "message": message})

    def members(self, list_name: str) -> set[str]:
        return {uid for uid, user in self.contacts.items() if user["traits"].get(list_name) is True}

    @route("POST", r"/v1/batch")
    def batch(self, request: FakeRequest) -> FakeResponse:
        self.require(len(request.raw) <= BATCH_LIMIT, "batch larger than 500 KB")
        calls = request.data().get("batch")
        self.require(isinstance(calls, list) and calls, "batch must be a non-empty list")
        for call in calls:
            self.require(len(json.dumps(call, separators=(",", ":"))) <= EVENT_LIMIT, "event larger than 32 KB")
            self.require(call.get("type") == "identify", "only identify calls are expected here")
            self.require(isinstance(call.get("userId"), str) and call["userId"], "userId is required")
            self.require(isinstance(call.get("traits"), dict), "traits must be an object")
            self.require(isinstance(call.get("messageId"), str) and call["messageId"], "messageId is expected")
        for call in calls:
            if call["messageId"] in self.message_ids:
                self.duplicates += 1  # a resend of a call already received: Segment drops it
                continue
            self.message_ids.add(call["messageId"])
            self.calls.append(call)
            user = self.contacts.setdefault(call["userId"], {"userId": call["userId"], "traits": {}})
            user["traits"].update(call["traits"])
        return FakeResponse(200, {"success": True})


FAKE = FakeSegment


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"write_key": WRITE_KEY, "base_url": f"{fake.url}/v1"}
