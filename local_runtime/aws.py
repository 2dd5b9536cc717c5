"""An in-process moto server on 127.0.0.1 that plays AWS for this process and everything it imports.

The real handlers create ordinary boto3 clients; botocore honours `AWS_ENDPOINT_URL`, so pointing that variable
at the local server (plus fake credentials) is all the wiring the code needs.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local_runtime import moto_speedups
from local_runtime.template import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

LOCALHOST = "127.0.0.1"

# Fake credentials: moto accepts anything, and real ones from the machine must never be picked up.
_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}
# A named profile would win over the variables above, or fail when it does not exist locally.
_REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class LocalAws:
    """moto on a free localhost port, with this process's AWS environment pointed at it while it runs.

    Use as a context manager; `stop()` shuts the server down and restores the environment exactly. With
    `patch_environment=False` the process environment is left alone and `environment()` says what to set.
    """

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        host: str = LOCALHOST,
        port: int | None = None,
        patch_environment: bool = True,
    ) -> None:
        self.region = region
        self.patch_environment = patch_environment
        self.account_id = DEFAULT_ACCOUNT_ID
        self.host = host
        self.port = port
        self._requested_port = port
        self._server: ThreadedMotoServer | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._saved_log_level: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("local AWS is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalAws:
        if self._server is not None:
            return self
        moto_speedups.apply()
        # Port 0 lets the OS pick a free port atomically; the server reports which one it got.
        server = ThreadedMotoServer(ip_address=self.host, port=self.port or 0, verbose=False)
        # The server logs every request through the "werkzeug" logger; that is noise in a demo or test run.
        self._quiet_werkzeug()
        server.start()
        self.port = server.get_host_and_port()[1]
        self._server = server
        # moto keeps its state per process, not per server: start every run from an empty account.
        self.reset()
        if self.patch_environment:
            self._apply_environment()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._restore_environment()
        self._server.stop()
        self._server = None
        self.port = self._requested_port
        if self._saved_log_level is not None:
            logging.getLogger("werkzeug").setLevel(self._saved_log_level)
            self._saved_log_level = None

    def _quiet_werkzeug(self) -> None:
        logger = logging.getLogger("werkzeug")
        self._saved_log_level = logger.level
        logger.setLevel(max(logger.level, logging.WARNING))

    def reset(self) -> None:
        """Forget every resource and message (moto's reset endpoint), e.g. between demo runs."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310 - localhost
        # Never through a proxy from the environment: the server is on this machine.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10):
            pass

    def client(self, service: str) -> Any:
        """A boto3 client for `service` bound to the local endpoint."""
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def environment(self) -> dict[str, str]:
        """The variables a process needs to talk to this server."""
        # A proxy configured on the machine must not intercept calls to the local server.
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), self.host, "localhost"]))
        return {
            **_FAKE_ENVIRONMENT,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }

    def _apply_environment(self) -> None:
        wanted: dict[str, str | None] = {**self.environment(), **dict.fromkeys(_REMOVED_VARIABLES)}
        self._saved_environment = {name: os.environ.get(name) for name in wanted}
        for name, value in wanted.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def local_aws(*, region: str = DEFAULT_REGION, port: int | None = None) -> Iterator[LocalAws]:
    """`with local_aws() as aws:` starts moto and points AWS_ENDPOINT_URL at it until the block ends."""
    with LocalAws(region=region, port=port) as aws:
        yield aws
