"""A stub of Telegram's Bot API on 127.0.0.1: `POST /bot{token}/sendMessage` with a JSON body,
answered in the documented shapes (`{"ok": true, "result": Message}` or `{"ok": false,
"error_code", "description", "parameters": {"retry_after"}}`). Every call is recorded; answers
can be scripted (a 500, a 429 with `retry_after`, a 403 for a blocked bot) before the default 200.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Call:
    token: str
    chat_id: str
    text: str
    status: int


def failure(status: int, description: str, retry_after: int | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body


class TelegramStub:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                token, _, method = self.path.removeprefix("/bot").partition("/")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                status, answer = stub._answer(token, method, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _answer(self, token: str, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if method != "sendMessage":
                return failure(404, "Not Found: method not found")
            status, answer = self.script.pop(0) if self.script else (200, {})
            if status == 200:
                answer = {
                    "ok": True,
                    "result": {
                        "message_id": len(self.calls) + 1,
                        "date": 1764043200,
                        "chat": {"id": body.get("chat_id"), "type": "private"},
                        "text": body.get("text"),
                    },
                }
            self.calls.append(Call(token, str(body.get("chat_id")), str(body.get("text")), status))
            return status, answer

    @property
    def delivered(self) -> list[Call]:
        """The messages Telegram accepted (what a chat shows)."""
        with self._lock:
            return [call for call in self.calls if call.status == 200]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
