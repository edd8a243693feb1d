"""ScheduleStrategyTrigger: find the entries and exits due in the trigger's window and hand each
(user, strategy, action, scheduled time) to the execution engine exactly once.

Windows overlap (a re-emitted tick, a redelivered event, a recovered loop): a conditional-put
claim keyed by trade date + strategy + action + scheduled time decides which one hands it over.
A hand-over that fails (a strategy busy with another run, a broker registry error) gives its claim
back and the others go on; the trigger then fails with the first error, so the redelivery hands
over only what was given back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared_utils import keys
from shared_utils.clock import to_ist
from shared_utils.keys import ScheduleKind
from shared_utils.models.common import StrategyStatus
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.timer.envelope import TimerEnvelope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)

CLAIM_RETENTION = timedelta(days=3)


class ExecutionRequest(BaseModel):
    """What the execution engine receives for one due schedule entry."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    strategy_id: str
    basket_id: str
    action: ScheduleKind
    scheduled_at: AwareDatetime
    trade_date: date
    strategy_version: int
    tick: AwareDatetime


class TriggerReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tick: AwareDatetime
    trade_date: date
    due: int = 0
    requested: list[str] = []
    already_claimed: int = 0
    paused: int = 0
    not_today: int = 0
    skipped_reason: str | None = None


class DueSchedule(Protocol):
    def due_schedule_entries(self, start: datetime, end: datetime) -> Iterable[ScheduleEntry]:
        """Entries (every shard) whose time falls in the window, each with `due_at` set."""
        ...


class StrategyStatuses(Protocol):
    def status_of(self, user_id: str, strategy_id: str) -> StrategyStatus | None:
        """The strategy's status, None when it no longer exists."""
        ...


class TradingDays(Protocol):
    def is_trading_day(self, day: date) -> bool: ...


class TriggerClaims(Protocol):
    def claim(self, request: ExecutionRequest) -> bool:
        """True for the one caller that claims this (trade date, strategy, action, time)."""
        ...

    def release(self, request: ExecutionRequest) -> None:
        """Give a claim back when the hand-over failed, so a retry can hand it over."""
        ...


class ExecutionRequester(Protocol):
    def request_execution(self, request: ExecutionRequest) -> None: ...


def _hhmm_utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%H%M")


def trigger_due_strategies(
    envelope: TimerEnvelope,
    schedule: DueSchedule,
    strategies: StrategyStatuses,
    days: TradingDays,
    claims: TriggerClaims,
    requester: ExecutionRequester,
) -> TriggerReport:
    trade_date = to_ist(envelope.tick).date()
    if not days.is_trading_day(trade_date):
        logger.info("No triggers on a non-trading day", extra={"trade_date": trade_date.isoformat()})
        return TriggerReport(tick=envelope.tick, trade_date=trade_date, skipped_reason="not a trading day")
    due = requested_total = claimed = paused = not_today = 0
    requested: list[str] = []
    failed: list[Exception] = []
    weekday = trade_date.weekday()
    for entry in schedule.due_schedule_entries(envelope.window_start, envelope.window_end):
        if entry.due_at is None or not envelope.window_start <= entry.due_at < envelope.window_end:
            continue
        due += 1
        if not entry.fires_on(weekday):
            not_today += 1
            continue
        status = strategies.status_of(entry.user_id, entry.strategy_id)
        # A paused strategy enters nothing but keeps its exits until it is flat.
        if status is None or (status is not StrategyStatus.ACTIVE and entry.kind is ScheduleKind.ENTRY):
            paused += 1
            continue
        request = ExecutionRequest(
            user_id=entry.user_id,
            strategy_id=entry.strategy_id,
            basket_id=entry.basket_id,
            action=entry.kind,
            scheduled_at=entry.due_at,
            trade_date=trade_date,
            strategy_version=entry.strategy_version,
            tick=envelope.tick,
        )
        if not claims.claim(request):
            claimed += 1
            continue
        try:
            requester.request_execution(request)
        except Exception as error:
            claims.release(request)
            logger.exception(
                "Hand-over failed: left to the redelivery",
                extra={"strategy_id": entry.strategy_id, "action": entry.kind.value},
            )
            failed.append(error)
            continue
        requested_total += 1
        requested.append(f"{entry.user_id}/{entry.strategy_id}/{entry.kind.value}@{_hhmm_utc(entry.due_at)}")
    report = TriggerReport(
        tick=envelope.tick,
        trade_date=trade_date,
        due=due,
        requested=requested,
        already_claimed=claimed,
        paused=paused,
        not_today=not_today,
    )
    logger.info("Schedule trigger done", extra=report.model_dump(mode="json"))
    if failed:
        raise failed[0]
    return report


class DynamoTriggerClaims:
    """Claims as conditional puts in the trading table; they expire through its TTL attribute."""

    def __init__(self, client: DynamoDBClient, table_name: str, ttl_attribute: str = "expires_at") -> None:
        self._client = client
        self._table = table_name
        self._ttl_attribute = ttl_attribute

    @staticmethod
    def _key(request: ExecutionRequest) -> dict[str, dict[str, str]]:
        return {
            "pk": {"S": keys.trigger_claim_pk(request.trade_date)},
            "sk": {
                "S": keys.trigger_claim_sk(
                    request.user_id, request.strategy_id, request.action, _hhmm_utc(request.scheduled_at)
                )
            },
        }

    def claim(self, request: ExecutionRequest) -> bool:
        expires = int((request.scheduled_at + CLAIM_RETENTION).timestamp())
        item = {
            **self._key(request),
            "claimed_by_tick": {"S": request.tick.astimezone(UTC).isoformat()},
            self._ttl_attribute: {"N": str(expires)},
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, request: ExecutionRequest) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(request))


class LoggingExecutionRequester:
    """Hands execution requests to the log until the execution engine (execution issue) plugs in
    its own `ExecutionRequester`."""

    def request_execution(self, request: ExecutionRequest) -> None:
        logger.info("Execution requested", extra=request.model_dump(mode="json"))
