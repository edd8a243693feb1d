"""A small HTTP forward proxy on 127.0.0.1 (port 0) whose outgoing connections leave from one
source address: a client's static-IP egress, on loopback.

On Linux every 127.x.y.z address is local, so one proxy per client bound to 127.0.0.2,
127.0.0.3, ... lets a stub broker tell the clients apart by the peer address it sees, as a
broker tells registered static IPs apart. It speaks:

- CONNECT host:port (what HTTPS through a proxy uses): a tunnel, relayed byte for byte;
- absolute-URI requests (`GET http://host:port/path`, what plain HTTP through a proxy uses):
  forwarded with the hop-by-hop headers dropped, the answer relayed back.

Whatever it cannot reach from its source address it answers with 502: it never falls back to
another address. `seen` records every request it was asked to carry (the client's address, the
method and the target), so a test can assert that nothing went through it.
"""

from __future__ import annotations

import http.client
import selectors
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Headers this proxy writes itself on relayed answers.
_OWN_HEADERS = frozenset({"content-length", "date", "server"})


@dataclass(frozen=True)
class Carried:
    client: str
    method: str
    target: str


@dataclass
class _State:
    source_ip: str
    timeout_s: float
    seen: list[Carried] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, client: str, method: str, target: str) -> None:
        with self.lock:
            self.seen.append(Carried(client, method, target))


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.state = state


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    @property
    def _state(self) -> _State:
        return self.server.state

    def _refuse(self, status: int, reason: str) -> None:
        self.send_response(status, reason)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_CONNECT(self) -> None:
        self._state.record(self.client_address[0], "CONNECT", self.path)
        host, _, port = self.path.rpartition(":")
        if not host or not port.isdigit():
            self._refuse(400, "Bad Request")
            return
        try:
            upstream = socket.create_connection(
                (host.strip("[]"), int(port)),
                timeout=self._state.timeout_s,
                source_address=(self._state.source_ip, 0),
            )
        except OSError:
            self._refuse(502, "Bad Gateway")
            return
        with upstream:
            self.send_response(200, "Connection Established")
            self.end_headers()
            self.wfile.flush()
            _relay(self.connection, upstream, self._state.timeout_s * 10)
        self.close_connection = True

    def _forward(self) -> None:
        self._state.record(self.client_address[0], self.command, self.path)
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self._refuse(400, "Bad Request")  # origin-form or https: not a forward-proxy request
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(501, "Not Implemented")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_BY_HOP}
        path = target.path or "/"
        if target.query:
            path = f"{path}?{target.query}"
        upstream = http.client.HTTPConnection(
            target.hostname,
            target.port or 80,
            timeout=self._state.timeout_s,
            source_address=(self._state.source_ip, 0),
        )
        try:
            upstream.request(self.command, path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        except OSError:
            self._refuse(502, "Bad Gateway")
            return
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP | _OWN_HEADERS:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _forward
    do_POST = _forward
    do_PUT = _forward
    do_PATCH = _forward
    do_DELETE = _forward


def _relay(client: socket.socket, upstream: socket.socket, idle_s: float) -> None:
    """Copy bytes both ways until either side closes (or nothing moves for `idle_s`)."""
    peers = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        while True:
            events = selector.select(timeout=idle_s)
            if not events:
                return
            for key, _ in events:
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
                except OSError:
                    return


class EgressProxy:
    """`with EgressProxy("127.0.0.2") as proxy:` a forward proxy at `proxy.url` whose outgoing
    connections leave from 127.0.0.2."""

    def __init__(self, source_ip: str, timeout_s: float = 2.0) -> None:
        self.source_ip = source_ip
        self._state = _State(source_ip, timeout_s)
        self._server = _ProxyServer(self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def seen(self) -> list[Carried]:
        with self._state.lock:
            return list(self._state.seen)

    def __enter__(self) -> EgressProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
