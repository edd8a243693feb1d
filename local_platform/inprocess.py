"""Calls the API's handlers in process, through the same proxy-event adapter the HTTP server uses
(the simulation creates its demo baskets through the API, as a user would)."""

from __future__ import annotations

import io
import json
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from local_platform.wsgi import ProxyEventWsgiApp, fixed_claims
from shared_utils.errors import DomainError


class ApiCallError(DomainError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(message=f"{method} {path} -> {status}: {body}", code="LOCAL_API_CALL_FAILED")


class InProcessApi:
    def __init__(self, user_id: str, groups: tuple[str, ...] = ()) -> None:
        self._app = ProxyEventWsgiApp(fixed_claims(user_id, groups))

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        raw = b"" if body is None else json.dumps(body).encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(query or {}),
            "CONTENT_TYPE": "application/json" if raw else "",
            "CONTENT_LENGTH": str(len(raw)),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(raw),
        }
        status: list[int] = []

        def start_response(line: str, _headers: list[tuple[str, str]], *_args: Any) -> None:
            status.append(int(line.split(" ", 1)[0]))

        payload = b"".join(self._app(environ, start_response)).decode()
        if status[0] >= HTTPStatus.BAD_REQUEST:
            raise ApiCallError(method, path, status[0], payload)
        return json.loads(payload) if payload else None
