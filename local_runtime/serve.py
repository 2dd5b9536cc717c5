"""`serve` (like `sam local start-api`) and `invoke` (like `sam local invoke`), without Docker.

`serve` answers HTTP on 127.0.0.1 through `Router.api_response` and drains the queues after every request, so
an API call's downstream events (EventBridge -> SQS -> functions -> sync queue -> ...) have all run by the time
the response is sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local_runtime.cli import Command, add_stack_arguments, local_stack
from local_runtime.router import DrainStats, Router

LOCALHOST = "127.0.0.1"


def describe(stats: DrainStats) -> str:
    """One line summarising a drain, for the console."""
    if not stats.invocations:
        return "no queued events"
    per_function = ", ".join(f"{name} x{count}" for name, count in sorted(stats.invocations_by_function.items()))
    text = f"{stats.processed} events processed ({per_function})"
    if stats.retried:
        text += f", {stats.retried} retried"
    if stats.errors:
        text += f", {len(stats.errors)} handler errors"
    return text


def make_wsgi_app(router: Router, *, drain: bool = True, log: Callable[[str], None] = print) -> Any:
    """A WSGI application that sends every request through the router, as API Gateway would."""

    @Request.application  # type: ignore[arg-type]
    def application(request: Request) -> Response:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        query = {name: request.args.getlist(name) for name in request.args}
        response = router.api_response(
            request.method, request.path, body=request.get_data() or None, headers=headers, query=query
        )
        line = f"{request.method} {request.full_path.rstrip('?')} -> {response.status}"
        if drain:
            stats = router.drain()
            line += f"; {describe(stats)}"
            for error in stats.errors:
                log(error)
        log(line)
        return Response(response.body, status=response.status, headers=response.headers)

    return application


def serve(router: Router, *, host: str = LOCALHOST, port: int = 3000, log: Callable[[str], None] = print) -> None:
    """Serve the API until interrupted. Requests are handled one at a time, as handlers share this process."""
    server = make_server(host, port, make_wsgi_app(router, log=log), threaded=False)
    log(f"API:     http://{host}:{server.server_port}/")
    log(f"API key: {router.api_key}   (send it as the x-api-key header)")
    log("Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    add_stack_arguments(parser)
    parser.add_argument("-p", "--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000)")
    parser.add_argument("--api-key", default=None, help="API key to accept (default: LOCAL_API_KEY or a new one)")


def _run_serve(args: argparse.Namespace) -> int:
    with local_stack(args) as (_, env):
        serve(Router(env, api_key=args.api_key), port=args.port)
    return 0


def _configure_invoke(parser: argparse.ArgumentParser) -> None:
    add_stack_arguments(parser)
    parser.add_argument("function", help="logical id of the function, e.g. CustomerEventsFunction")
    parser.add_argument("-e", "--event", default=None, help="JSON event file, or - for stdin (default: {})")
    parser.add_argument("--no-drain", action="store_true", help="do not deliver the events the invocation queued")


def _read_event(source: str | None) -> Any:
    if source is None:
        return {}
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def _run_invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    with local_stack(args) as (_, env):
        router = Router(env)
        try:
            result = router.invoke(args.function, event)
        except Exception as exc:
            print(
                json.dumps(
                    {
                        "errorMessage": str(exc),
                        "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_tb(exc.__traceback__),
                    },
                    indent=2,
                )
            )
            return 1
        if not args.no_drain:
            stats = router.drain()
            print(f"after invoke: {describe(stats)}", file=sys.stderr)
            for error in stats.errors:
                print(error, file=sys.stderr)
    print(json.dumps(result, indent=2, default=str))
    return 0


SERVE_COMMAND = Command(
    help="serve the API on 127.0.0.1 against local AWS built from the template",
    configure=_configure_serve,
    run=_run_serve,
)
INVOKE_COMMAND = Command(
    help="invoke one function with an event file against local AWS built from the template",
    configure=_configure_invoke,
    run=_run_invoke,
)
