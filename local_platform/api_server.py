"""The local HTTP API: the same handlers behind the HTTP -> API Gateway proxy-event adapter,
a Cognito-like bearer-token check in front of them, Swagger UI at /docs and /openapi.json, the
console at / (its files from console/src, as `make build` ships them) with its config.json, and
the live feed's WebSocket at /feed on the same port.

Swagger UI's assets are the ones Powertools ships inside its package, served from here: the page
works with no network.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from http import HTTPStatus
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, TextIO
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

import aws_lambda_powertools
from aws_lambda_powertools import Logger

from lambda_functions.option_baskets import LambdaHandler
from local_platform.backtest_jobs import FileResultStore, file_request
from local_platform.dispatch import dispatch, is_public
from local_platform.feed import FEED_PATH, LocalFeedServer
from local_platform.identity import TokenError, bearer_token, verify_token
from local_platform.timer import handler_output
from local_platform.wsgi import ProxyEventWsgiApp, StartResponse
from shared_utils.api.errors import ErrorBody
from shared_utils.api.openapi import DOCS_PATH, TITLE, openapi_document
from shared_utils.clock import Clock, SystemClock

logger = Logger(service="local-platform", child=False)

OPENAPI_PATH = "/openapi.json"
_ASSETS = Path(aws_lambda_powertools.__file__).parent / "event_handler" / "openapi" / "swagger_ui"
SWAGGER_ASSETS = {
    f"{DOCS_PATH}/swagger-ui-bundle.min.js": ("swagger-ui-bundle.min.js", "application/javascript"),
    f"{DOCS_PATH}/swagger-ui.min.css": ("swagger-ui.min.css", "text/css"),
}
RequestObserver = Callable[[str, str, int], None]
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console" / "src"
CONSOLE_CONFIG_PATH = "/config.json"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{docs}/swagger-ui.min.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.min.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{openapi}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true
}});
</script>
</body>
</html>
"""


class InvocationLock:
    """One invocation at a time, as one Lambda execution environment runs them: the handler
    modules keep per-invocation state (resolver event, logger keys) in module globals."""

    def __init__(self, stdout: TextIO | None = None) -> None:
        self.lock = threading.Lock()
        self.stdout = stdout

    def wrap(self, handler: LambdaHandler) -> LambdaHandler:
        def locked(event: dict[str, Any], context: Any) -> dict[str, Any]:
            with self.lock, handler_output(self.stdout):
                return handler(event, context)

        return locked


class TokenAuthorizer:
    """The Cognito authorizer's part: a valid bearer token becomes `requestContext.authorizer.claims`."""

    def __init__(self, secret: str, clock: Clock | None = None) -> None:
        """`clock`: real time by default (tokens are issued in real time, whatever the timer replays)."""
        self._secret = secret
        self._clock = clock or SystemClock()

    def claims(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        try:
            return self.verify(headers)
        except TokenError:
            return None

    def verify(self, headers: Mapping[str, str]) -> dict[str, Any]:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        return verify_token(bearer_token(authorization), self._secret, self._clock.now())


def _respond(
    start_response: StartResponse,
    status: HTTPStatus,
    body: bytes,
    content_type: str,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        f"{status.value} {status.phrase}",
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


def console_file(path: str, root: Path = CONSOLE_DIR) -> Path | None:
    """The console's file for a GET of `path` (`/` is index.html), None when it has none."""
    relative = "index.html" if path in ("", "/") else path.lstrip("/")
    candidate = (root / relative).resolve()
    if root.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def console_config(host: str, clock: Clock | None = None) -> bytes:
    """What the deployed console reads from its bucket, for this server: same-origin API, the
    feed on this port, local sign-in (the token command's tokens), and where the platform's clock
    stands and how fast it runs (a replayed or accelerated session is not this machine's time)."""
    config: dict[str, Any] = {
        "api_base_url": "",
        "feed_url": f"ws://{host}{FEED_PATH}",
        "auth": {"mode": "local"},
    }
    if clock is not None:
        config["clock"] = {"now": clock.now().isoformat(), "speed": float(getattr(clock, "speed", 1.0))}
    return json.dumps(config).encode()


def console_policy(host: str) -> str:
    """The console's Content-Security-Policy: nothing but this server (as CloudFront's deployed)."""
    return (
        f"default-src 'self'; connect-src 'self' ws://{host}; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


class LocalApi:
    """The WSGI application `make run` serves."""

    def __init__(
        self,
        authorizer: TokenAuthorizer,
        lock: InvocationLock,
        base_url: str,
        handler: LambdaHandler = dispatch,
        observer: RequestObserver | None = None,
        clock: Clock | None = None,
        backtest_files: FileResultStore | None = None,
    ) -> None:
        """`clock`: the platform's (the timer's), which the console is told; `backtest_files`:
        where the API's backtest jobs keep their results (served to their owner)."""
        self._clock = clock
        self._backtest_files = backtest_files
        self._authorizer = authorizer
        self._base_url = base_url
        self._api = ProxyEventWsgiApp(authorizer.claims, lock.wrap(handler))
        self._observer = observer

    @cached_property
    def _openapi(self) -> bytes:
        document = openapi_document()
        document["servers"] = [{"url": self._base_url, "description": "local platform"}]
        return json.dumps(document, indent=2).encode()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "/")
        status_seen: list[int] = []

        def observing_start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            status_seen.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, *args)

        body = self._route(method, path, environ, observing_start)
        if self._observer is not None and status_seen and not path.startswith(DOCS_PATH + "/"):
            self._observer(method, path, status_seen[0])
        return body

    def _route(
        self, method: str, path: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if method == "GET" and path in (DOCS_PATH, DOCS_PATH + "/"):
            page = SWAGGER_PAGE.format(title=TITLE, docs=DOCS_PATH, openapi=OPENAPI_PATH)
            return _respond(start_response, HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        if method == "GET" and path in SWAGGER_ASSETS:
            name, content_type = SWAGGER_ASSETS[path]
            return _respond(start_response, HTTPStatus.OK, (_ASSETS / name).read_bytes(), content_type)
        if method == "GET" and path == OPENAPI_PATH:
            return _respond(start_response, HTTPStatus.OK, self._openapi, "application/json")
        wanted = file_request(path) if method == "GET" else None
        if wanted is not None and self._backtest_files is not None:
            return self._backtest_file(self._backtest_files, *wanted, environ, start_response)
        if method == "GET" and not path.startswith("/options/"):
            host = str(environ.get("HTTP_HOST") or self._base_url.split("//", 1)[-1])
            policy = [("Content-Security-Policy", console_policy(host)), ("Cache-Control", "no-cache")]
            if path == CONSOLE_CONFIG_PATH:
                return _respond(
                    start_response,
                    HTTPStatus.OK,
                    console_config(host, self._clock),
                    "application/json",
                    policy,
                )
            found = console_file(path)
            if found is not None:
                content_type = _CONTENT_TYPES.get(found.suffix, "application/octet-stream")
                return _respond(start_response, HTTPStatus.OK, found.read_bytes(), content_type, policy)
        if is_public(method, path):
            # As deployed: no authorizer on the public routes (a chart alert's signal webhook).
            return self._api(environ, start_response)
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        try:
            self._authorizer.verify(headers)
        except TokenError as error:
            logger.info(
                "Unauthenticated request", extra={"method": method, "path": path, "reason": str(error)}
            )
            body = ErrorBody(code="UNAUTHORIZED", message="A valid bearer token is required")
            return _respond(
                start_response, HTTPStatus.UNAUTHORIZED, body.model_dump_json().encode(), "application/json"
            )
        return self._api(environ, start_response)

    def _backtest_file(
        self,
        files: FileResultStore,
        backtest_id: str,
        name: str,
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """A backtest job's file, to its owner only (another user's job is a 404, as the API's)."""
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        try:
            user_id = str(self._authorizer.verify(headers)["sub"])
        except TokenError:
            body = ErrorBody(code="UNAUTHORIZED", message="A valid bearer token is required")
            return _respond(
                start_response, HTTPStatus.UNAUTHORIZED, body.model_dump_json().encode(), "application/json"
            )
        found = files.file(user_id, backtest_id, name)
        if found is None:
            body = ErrorBody(code="NOT_FOUND", message="No such backtest file")
            return _respond(
                start_response, HTTPStatus.NOT_FOUND, body.model_dump_json().encode(), "application/json"
            )
        content_type = _CONTENT_TYPES.get(found.suffix, "application/octet-stream")
        return _respond(
            start_response, HTTPStatus.OK, found.read_bytes(), content_type, [("Cache-Control", "no-store")]
        )


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart must not wait for TIME_WAIT; a live listener still conflicts


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None

    def handle(self) -> None:
        """wsgiref's request handling, with a WebSocket upgrade of /feed handed to the feed."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        if not self.parse_request():
            return
        feed: LocalFeedServer | None = getattr(self.server, "feed", None)
        if feed is not None and LocalFeedServer.wants(self):
            feed.serve(self)
            self.close_connection = True
            return
        stdin: Any = self.rfile  # typeshed: BufferedIOBase, where ServerHandler wants IO[bytes]
        stdout: Any = self.wfile
        handler = ServerHandler(stdin, stdout, self.get_stderr(), self.get_environ(), multithread=False)
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


def serve(app: LocalApi, host: str, port: int, feed: LocalFeedServer | None = None) -> WSGIServer:
    """A threaded server bound to `host:port` (OSError when the port is taken); with `feed`, its
    WebSocket endpoint at /feed."""
    server = make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    server.feed = feed  # type: ignore[attr-defined]
    return server
