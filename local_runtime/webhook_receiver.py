"""A local endpoint for the signed webhook channel: verifies every delivery and keeps what it received.

It plays the shop's own webhook consumer in the demo and the tests, and holds the membership state a real
destination would: ``members[list] = {customer_id, ...}``.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_runtime.aws import LOCALHOST
from segmentation.sync.adapters.webhook import SIGNATURE_HEADER, verify


class WebhookReceiver:
    def __init__(self, secret: str = "", port: int | None = None) -> None:
        self.secret = secret
        self.port = port or 0  # 0: the OS picks a free port when the server starts
        self.deliveries: list[dict[str, Any]] = []
        self.rejected = 0
        self.members: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/hooks/segments"

    def _handle(self, body: bytes, signature: str | None) -> int:
        if not signature or not verify(self.secret, body, signature):
            with self._lock:
                self.rejected += 1
            return 401
        payload = json.loads(body)
        key = payload.get("list") or payload["segment_id"]
        with self._lock:
            self.deliveries.append(payload)
            self.members[key].update(c["customer_id"] for c in payload["add"])
            self.members[key].difference_update(c["customer_id"] for c in payload["remove"])
        return 204

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(receiver._handle(body, self.headers.get(SIGNATURE_HEADER)))
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOCALHOST, self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
