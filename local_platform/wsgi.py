"""A WSGI application that turns HTTP requests into API Gateway REST (v1) proxy events.

It serves the real Lambda handlers (through `dispatch`) to the contract tests and to the local
platform. Identity comes from a `claims` callable standing in for the Cognito authorizer: it
receives the request headers and returns the claims API Gateway would pass (None: no identity).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from lambda_functions.option_baskets import LambdaHandler
from local_platform.dispatch import dispatch

Claims = Callable[[Mapping[str, str]], dict[str, Any] | None]
StartResponse = Callable[..., Any]


def fixed_claims(sub: str, groups: Iterable[str] = ()) -> Claims:
    """Every request is `sub` (tests, single-user local runs)."""
    claims = {"sub": sub, "cognito:groups": ",".join(groups)}
    return lambda _headers: dict(claims)


@dataclass(frozen=True)
class LocalContext:
    """The parts of the Lambda context the Powertools decorators read."""

    function_name: str = "options-api-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:options-api-local"
    aws_request_id: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = str(environ[key])
    return headers


def _body(environ: Mapping[str, Any]) -> tuple[str | None, bool]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def proxy_event(
    method: str,
    path: str,
    *,
    claims: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, list[str]] | None = None,
    body: str | None = None,
    is_base64: bool = False,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The REST (v1) proxy event API Gateway sends for this request (before route matching)."""
    headers = dict(headers or {})
    query = {key: list(values) for key, values in (query or {}).items()}
    context: dict[str, Any] = {
        "httpMethod": method.upper(),
        "path": f"/{stage}{path}",
        "resourcePath": path,
        "stage": stage,
        "requestId": str(uuid.uuid4()),
        "identity": {"sourceIp": source_ip},
    }
    if claims is not None:
        context["authorizer"] = {"claims": dict(claims)}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def to_proxy_event(environ: Mapping[str, Any], claims: Claims, stage: str = "local") -> dict[str, Any]:
    headers = _headers(environ)
    body, is_base64 = _body(environ)
    return proxy_event(
        str(environ.get("REQUEST_METHOD", "GET")),
        str(environ.get("PATH_INFO") or "/"),
        claims=claims(headers),
        headers=headers,
        query=parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True),
        body=body,
        is_base64=is_base64,
        stage=stage,
        source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
    )


class ProxyEventWsgiApp:
    """`docs` (optional) serves `docs_path`, e.g. Swagger UI in local mode; everything else
    goes to `handler`, by default the catalog dispatcher."""

    def __init__(
        self,
        claims: Claims,
        handler: LambdaHandler = dispatch,
        stage: str = "local",
        docs: LambdaHandler | None = None,
        docs_path: str = "/docs",
    ) -> None:
        self._claims = claims
        self._handler = handler
        self._stage = stage
        self._docs = docs
        self._docs_path = docs_path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        event = to_proxy_event(environ, self._claims, self._stage)
        handler = self._docs if self._docs is not None and event["path"] == self._docs_path else self._handler
        result = handler(event, LocalContext(aws_request_id=event["requestContext"]["requestId"]))
        status = HTTPStatus(int(result["statusCode"]))
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers: dict[str, str] = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(name)] = ", ".join(str(value) for value in values)
        headers["Content-Length"] = str(len(payload))
        start_response(f"{status.value} {status.phrase}", list(headers.items()))
        return [payload]


def local_app(claims: Claims) -> ProxyEventWsgiApp:
    """The API as the local platform serves it: every catalog route plus Swagger UI at /docs."""
    from shared_utils.api.openapi import DOCS_PATH, docs_handler

    return ProxyEventWsgiApp(claims, docs=docs_handler(), docs_path=DOCS_PATH)
