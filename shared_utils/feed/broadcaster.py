"""The broadcaster: feed messages to the connections of the user they belong to.

A message goes only to its own user's connections (looked up by user, never filtered after
the fact); a connection API Gateway reports gone (410) is removed at once; a send that fails
otherwise is counted and logged, and the rest of the batch still goes out: the feed is a view
of stored state, and the next message about the same thing replaces a lost one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from shared_utils.clock import Clock
from shared_utils.execution.marking import PriceSource, mark_positions
from shared_utils.execution.models import PositionView
from shared_utils.feed.connections import ConnectionDirectory
from shared_utils.feed.messages import Marks, MarksMessage, encode
from shared_utils.feed.translate import Delivery, account_deliveries, history_deliveries

logger = Logger(child=True)


class ConnectionGone(Exception):
    """The connection is closed (API Gateway's 410 GoneException)."""


class ConnectionSender(Protocol):
    def send(self, connection_id: str, payload: bytes) -> None:
        """Send one text frame; `ConnectionGone` when the connection no longer exists."""
        ...


class BroadcastReport(BaseModel):
    messages: int = 0
    sent: int = 0
    gone: int = Field(default=0, description="connections API Gateway reported closed, now removed")
    failed: int = 0
    users: set[str] = Field(default_factory=set, exclude=True)

    def plus(self, other: BroadcastReport) -> BroadcastReport:
        return BroadcastReport(
            messages=self.messages + other.messages,
            sent=self.sent + other.sent,
            gone=self.gone + other.gone,
            failed=self.failed + other.failed,
            users=self.users | other.users,
        )


class Broadcaster:
    def __init__(self, connections: ConnectionDirectory, sender: ConnectionSender, clock: Clock) -> None:
        self._connections = connections
        self._sender = sender
        self._clock = clock

    def changes(
        self, records: Iterable[dict[str, Any]], history_table: str, accounts_table: str
    ) -> BroadcastReport:
        """Stream records of either table, told apart by their event source ARN
        (`arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{label}`)."""
        history, accounts = [], []
        for record in records:
            table = str(record.get("eventSourceARN", "")).partition(":table/")[2].partition("/")[0]
            if table == history_table:
                history.append(record)
            elif table == accounts_table:
                accounts.append(record)
            else:
                logger.warning("Stream record of an unknown table skipped", extra={"table": table})
        return self.history_changes(history).plus(self.account_changes(accounts))

    def history_changes(self, records: Iterable[dict[str, Any]]) -> BroadcastReport:
        """Stream records of the execution-history table."""
        now = self._clock.now()
        return self.deliver([d for record in records for d in history_deliveries(record, now)])

    def account_changes(self, records: Iterable[dict[str, Any]]) -> BroadcastReport:
        """Stream records of the broker-accounts table."""
        now = self._clock.now()
        return self.deliver([d for record in records for d in account_deliveries(record, now)])

    def marks(
        self, open_positions: Callable[[], Sequence[PositionView]], prices: PriceSource
    ) -> BroadcastReport:
        """Every connected user's open positions at the latest quotes (one message per user);
        the positions are read only when someone is connected."""
        now = self._clock.now()
        connected = self._connections.everyone()
        if not connected:
            return BroadcastReport()
        held: dict[str, list[PositionView]] = {}
        for position in open_positions():
            if position.user_id in connected:
                held.setdefault(position.user_id, []).append(position)
        deliveries = []
        for user_id, positions in held.items():
            unpriced: set[str] = set()
            marked = mark_positions(positions, prices, unpriced)
            marks = Marks(
                positions=marked,
                realised_pnl=sum((p.realised_pnl for p in marked), Decimal("0")),
                unrealised_pnl=sum((p.unrealised_pnl or Decimal("0") for p in marked), Decimal("0")),
                unpriced=sorted(unpriced),
            )
            deliveries.append(Delivery(user_id, MarksMessage(at=now, data=marks)))
        return self._send(deliveries, connected)

    def deliver(self, deliveries: Sequence[Delivery]) -> BroadcastReport:
        if not deliveries:
            return BroadcastReport()
        if any(d.user_id is None for d in deliveries):
            connected = self._connections.everyone()
        else:
            connected = {
                user: self._connections.of_user(user) for user in {d.user_id for d in deliveries if d.user_id}
            }
        return self._send(deliveries, connected)

    def _send(self, deliveries: Sequence[Delivery], connected: dict[str, list[str]]) -> BroadcastReport:
        report = BroadcastReport(messages=len(deliveries))
        gone: set[tuple[str, str]] = set()
        for delivery in deliveries:
            users = list(connected) if delivery.user_id is None else [delivery.user_id]
            payload = encode(delivery.message)
            for user_id in users:
                for connection_id in connected.get(user_id, []):
                    if (user_id, connection_id) in gone:
                        continue
                    try:
                        self._sender.send(connection_id, payload)
                    except ConnectionGone:
                        gone.add((user_id, connection_id))
                        self._connections.remove(user_id, connection_id)
                        report.gone += 1
                    except Exception:
                        report.failed += 1
                        logger.exception(
                            "Feed message not sent",
                            extra={"connection_id": connection_id, "type": delivery.message.type.value},
                        )
                    else:
                        report.sent += 1
                        report.users.add(user_id)
        return report
