"""Stream records -> the events a trader is told about, each with a stable id.

"What happened" has one definition: the live feed's translation of the same records
(`feed.translate`). A notification event is a feed message that matters to someone away from
the console: an order a broker rejected, a run that ended (filled, or partial / failed / not
entered), a risk exit starting, a kill switch pressed or re-armed, an account needing a login.
Order fills are told once per run (the run's legs together), not once per slice.

An event's id is a hash of the item's keys and of what makes this state of the item an event
(the run's status, the ledger entry's attempt, the switch's state and time, the account record's
stream sequence number): two invocations for the same record, or the same state written again (a
redelivered run rewrites its record with another attempt count), give the same id; a new state
gives a new one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from shared_utils.execution.models import (
    ExecutionRecord,
    ExecutionStatus,
    KillSwitchState,
    KillSwitchView,
    LedgerEntry,
    LedgerStatus,
)
from shared_utils.feed.messages import (
    BrokerAccountMessage,
    BrokerAccountUpdate,
    ExecutionMessage,
    KillSwitchMessage,
    OrderMessage,
    RiskExit,
    RiskExitMessage,
)
from shared_utils.feed.translate import account_deliveries, history_deliveries
from shared_utils.models.items import deserialize
from shared_utils.notifications.models import EventKind

logger = Logger(child=True)

Detail = ExecutionRecord | LedgerEntry | RiskExit | KillSwitchView | BrokerAccountUpdate


@dataclass(frozen=True)
class NotificationEvent:
    event_id: str
    kind: EventKind
    user_id: str | None  # None: every user who asked for it (the platform-wide kill switch)
    at: datetime
    detail: Detail

    @property
    def strategy_id(self) -> str | None:
        return getattr(self.detail, "strategy_id", None)


def event_id(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def _recorded_at(record: dict[str, Any], now: datetime) -> datetime:
    """When the stream took the record (epoch seconds on AWS, a datetime from moto)."""
    value = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return now


def _run_kind(run: ExecutionRecord) -> EventKind | None:
    if run.status is ExecutionStatus.COMPLETE:
        filled = any(order.filled_quantity for broker in run.brokers for order in broker.orders)
        return EventKind.FILLS if filled else None  # an exit with nothing left open says nothing
    if run.status is ExecutionStatus.NOT_ENTERED and not run.reason:
        return None
    return EventKind.PARTIAL_RUNS


def history_events(record: dict[str, Any], now: datetime) -> list[NotificationEvent]:
    """The events of one stream record of the execution-history table."""
    image = record.get("dynamodb", {}).get("NewImage")
    if not image:
        return []
    data = deserialize(image)
    pk, sk = str(data.get("pk", "")), str(data.get("sk", ""))
    events: list[NotificationEvent] = []
    try:
        for delivery in history_deliveries(record, now):
            message, user = delivery.message, delivery.user_id
            if isinstance(message, OrderMessage) and message.data.status is LedgerStatus.REJECTED:
                entry = message.data
                events.append(
                    NotificationEvent(
                        event_id(pk, sk, f"REJECTED#{entry.attempt}"),
                        EventKind.REJECTIONS,
                        user,
                        entry.updated_at,
                        entry,
                    )
                )
            elif isinstance(message, ExecutionMessage):
                # The feed's message leaves the per-broker detail out: the legs come from the record.
                run = ExecutionRecord.model_validate_json(data["record"])
                kind = _run_kind(run)
                if kind is not None:
                    events.append(
                        NotificationEvent(event_id(pk, sk, run.status.value), kind, user, run.updated_at, run)
                    )
            elif isinstance(message, RiskExitMessage):
                events.append(
                    NotificationEvent(
                        event_id(pk, sk, "RISK_EXIT"),
                        EventKind.EXITS,
                        user,
                        _recorded_at(record, now),
                        message.data,
                    )
                )
            elif isinstance(message, KillSwitchMessage):
                view = message.data
                at = view.triggered_at if view.state is KillSwitchState.TRIGGERED else view.rearmed_at
                at = at or _recorded_at(record, now)
                events.append(
                    NotificationEvent(
                        event_id(pk, sk, f"{view.state.value}#{at.isoformat()}"),
                        EventKind.KILL_SWITCH,
                        user,
                        at,
                        view,
                    )
                )
    except (KeyError, ValueError, ValidationError) as error:
        logger.warning("Unreadable history record skipped", extra={"sk": sk, "error": str(error)})
    return events


def account_events(record: dict[str, Any], now: datetime) -> list[NotificationEvent]:
    """A broker account that now needs a login (one event per state change: the stream's
    sequence number tells this morning's from yesterday's)."""
    stream = record.get("dynamodb", {})
    occurrence = str(stream.get("SequenceNumber") or record.get("eventID") or _recorded_at(record, now))
    events = []
    for delivery in account_deliveries(record, now):
        message = delivery.message
        if isinstance(message, BrokerAccountMessage) and message.data.login_needed and delivery.user_id:
            update = message.data
            events.append(
                NotificationEvent(
                    event_id(
                        "ACCOUNT", delivery.user_id, update.broker_account_id, f"NEEDS_LOGIN#{occurrence}"
                    ),
                    EventKind.LOGIN_NEEDED,
                    delivery.user_id,
                    _recorded_at(record, now),
                    update,
                )
            )
    return events
