"""The live feed on the local platform: the WebSocket endpoint `/feed?token=` of its HTTP server,
and what stands in for the deployed feed's two AWS parts.

- API Gateway's WebSocket API: `LocalFeedServer` upgrades `/feed` requests on the same port,
  checks the token as the $connect authorizer does (a bad one gets 403 and no connection), keeps
  its connections in a `ConnectionRegistry` (the broadcaster's directory, where the deployed one
  reads the connections table: a query per lookup cost ~30 ms against the embedded server), and
  is the broadcaster's `ConnectionSender` (a closed connection is `ConnectionGone`, as a 410 is).
- The DynamoDB streams' Lambda trigger: `StreamTap` reads the embedded moto server's stream
  shards in process and `FeedPump` hands their records to the same broadcaster the deployed
  function runs, woken by every write (moto's streams API would create an iterator per poll and
  keep it forever; the tap also drops the records it has read, which moto never does).
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools import Logger
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb import models
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from local_platform.identity import TokenError, verify_token
from shared_utils.composition import platform
from shared_utils.feed.broadcaster import ConnectionGone
from shared_utils.feed.connections import ConnectionRegistry

logger = Logger(service="local-platform", child=False)
logging.getLogger("websockets").setLevel(logging.ERROR)

FEED_PATH = "/feed"
_changed = threading.Condition()
_dirty = False  # a record was appended since the pump last read (guarded by _changed)
_installed = False


class NoWebSocketServer:
    """The sender of a process that serves no WebSocket (`simulate`, tests): every connection
    it could be asked about is gone."""

    def send(self, connection_id: str, payload: bytes) -> None:
        raise ConnectionGone(connection_id)


class LocalFeedServer:
    """Holds its connections as API Gateway does, so its `directory` answers the broadcaster's
    lookups without a table."""

    def __init__(self, token_secret: str, clock: Callable[[], datetime]) -> None:
        """`clock`: real time, as tokens are issued (whatever the timer replays)."""
        self._secret = token_secret
        self._now = clock
        self._open: dict[str, Connection] = {}
        self._lock = threading.Lock()
        self.directory = ConnectionRegistry()

    @staticmethod
    def wants(handler: BaseHTTPRequestHandler) -> bool:
        return (
            urlsplit(handler.path).path == FEED_PATH
            and handler.headers.get("Upgrade", "").lower() == "websocket"
        )

    def send(self, connection_id: str, payload: bytes) -> None:
        with self._lock:
            connection = self._open.get(connection_id)
        if connection is None:
            raise ConnectionGone(connection_id)
        try:
            connection.send(payload.decode())
        except ConnectionClosed as error:
            raise ConnectionGone(connection_id) from error

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Upgrade the request `handler` has parsed, then hold the connection until it closes."""
        token = parse_qs(urlsplit(handler.path).query).get("token", [""])[0]
        protocol = ServerProtocol()
        sock: socket.socket = handler.connection
        try:
            user_id = str(verify_token(token, self._secret, self._now())["sub"])
        except TokenError as error:
            # As API Gateway answers a $connect its authorizer denies: 403, no connection.
            logger.info("Feed connection refused", extra={"reason": str(error)})
            response = protocol.reject(HTTPStatus.FORBIDDEN, "A valid token is required (?token=)\n")
        else:
            response = protocol.accept(Request(path=handler.path, headers=Headers(handler.headers.items())))
        protocol.send_response(response)
        sock.sendall(b"".join(protocol.data_to_send()))
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            return
        connection = Connection(sock, protocol, ping_interval=None)
        connection_id = uuid.uuid4().hex
        with self._lock:
            self._open[connection_id] = connection
        self.directory.add(user_id, connection_id, self._now())
        try:
            for _frame in connection:  # the console sends nothing it expects an answer to
                pass
        except ConnectionClosed:
            pass
        finally:
            self.directory.remove(user_id, connection_id)
            with self._lock:
                self._open.pop(connection_id, None)

    def close_all(self) -> None:
        with self._lock:
            open_now = list(self._open.values())
        for connection in open_now:
            connection.close()


def _install_notifier() -> None:
    """Wake the pump on every stream record moto appends (once per process)."""
    global _installed
    if _installed:
        return
    original = models.table.StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        global _dirty
        original(self, old, new)
        with _changed:
            _dirty = True
            _changed.notify_all()

    models.table.StreamShard.add = add  # type: ignore[method-assign]
    _installed = True


class StreamTap:
    """The records appended to one table's stream since the last read, in order."""

    def __init__(self, table_name: str, region: str) -> None:
        self._table = table_name
        self._region = region

    def read(self) -> list[dict[str, Any]]:
        backend = models.dynamodb_backends[DEFAULT_ACCOUNT_ID][self._region]
        shard = backend.get_table(self._table).stream_shard
        if shard is None:
            return []
        count = len(shard.items)
        records = [record.to_json() for record in shard.items[:count]]
        # moto numbers a record from the list's length and its start: keep both consistent.
        del shard.items[:count]
        shard.starting_sequence_number += count
        return records


class FeedPump:
    """The streams' trigger: every change stored reaches the broadcaster within milliseconds."""

    def __init__(
        self,
        history: StreamTap,
        accounts: StreamTap,
        stop: threading.Event,
        listeners: Sequence[Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]] = (),
    ) -> None:
        """`listeners` get every batch too (the notifier's trigger); each must return at once."""
        self._history = history
        self._accounts = accounts
        self._stop = stop
        self._listeners = tuple(listeners)
        _install_notifier()

    def run_forever(self) -> None:
        global _dirty
        while not self._stop.is_set():
            with _changed:
                if not _dirty:
                    _changed.wait(timeout=0.5)
                _dirty = False
            self.pump()

    def pump(self) -> None:
        history: list[dict[str, Any]] = []
        accounts: list[dict[str, Any]] = []
        try:
            history, accounts = self._history.read(), self._accounts.read()
            if history or accounts:
                broadcaster = platform().feed_broadcaster
                broadcaster.history_changes(history)
                broadcaster.account_changes(accounts)
        except Exception:
            logger.exception("Feed records not broadcast")
        for listener in self._listeners:
            listener(history, accounts)
