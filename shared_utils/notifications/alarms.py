"""The platform's CloudWatch alarms for admins: a message of the stack's alarm topic (SNS, the
alarm's documented JSON: `AlarmName`, `NewStateValue`, `NewStateReason`, `StateChangeTime` ...)
-> one event per transition into ALARM or back to OK, with a stable id (the alarm's name, the
state and the time of the change: SNS delivering the same message twice gives the same id), and
its short text (`ALARM calendar-coverage: <reason> (since 10:05 IST)`).

Every alarm of the stack notifies that topic (calendar coverage, the market-data counts, the
dead-letter queues ...); all are admin-facing. INSUFFICIENT_DATA says nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from shared_utils.notifications.events import event_id
from shared_utils.notifications.texts import Rendered, clock_time

logger = Logger(child=True)

TOLD_STATES = ("ALARM", "OK")
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class AlarmEvent:
    event_id: str
    alarm: str  # the alarm's name without the environment's resource prefix
    state: str  # ALARM or OK
    reason: str
    at: datetime


def is_alarm_record(record: dict[str, Any]) -> bool:
    """An SNS record (Lambda's SNS event), not a stream record."""
    return record.get("EventSource") == "aws:sns" and isinstance(record.get("Sns"), dict)


def alarm_event(record: dict[str, Any], name_prefix: str = "") -> AlarmEvent | None:
    """The event of one SNS record; None for a state that is told nothing (INSUFFICIENT_DATA) or
    a message that is not an alarm's (logged: a retry would not make it readable)."""
    try:
        message = json.loads(record["Sns"]["Message"])
        name, state = str(message["AlarmName"]), str(message["NewStateValue"])
        changed = str(message["StateChangeTime"])
        at = datetime.fromisoformat(changed)
    except (KeyError, TypeError, ValueError) as error:
        logger.warning("Unreadable alarm message skipped", extra={"error": str(error)})
        return None
    if state not in TOLD_STATES:
        return None
    reason = " ".join(str(message.get("NewStateReason") or "").split())
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return AlarmEvent(
        event_id=event_id("ALARM", name, changed, state),
        alarm=name.removeprefix(name_prefix) if name_prefix else name,
        state=state,
        reason=reason,
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
    )


def render_alarm(event: AlarmEvent) -> Rendered:
    subject = f"{event.state} {event.alarm}"
    reason = f": {event.reason}" if event.reason else ""
    return Rendered(subject, f"{subject}{reason} (since {clock_time(event.at)})")
