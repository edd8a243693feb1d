"""ScheduleStrategyTrigger: find the entries and exits due in the trigger's minute and hand each
(user, strategy, action, scheduled time) over to the executors exactly once; it runs nothing.

A re-emitted tick, a redelivered event or a recovered loop may see the same minute twice: a
claim keyed by trade date + strategy + action + scheduled time decides which one hands it over
(conditional puts, up to 100 in one transaction). The minute's runs are handed over together
(queued in batches); if that fails, every claim of the minute is given back and the trigger
fails, so the redelivery hands all of them over again (a run queued twice places nothing twice:
the executor's ledger keys are the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils import keys
from shared_utils.clock import to_ist
from shared_utils.execution.reports import REPORT_SAMPLE
from shared_utils.execution.requests import ExecutionRequest, ExecutionRequester
from shared_utils.keys import ScheduleKind
from shared_utils.models.common import StrategyStatus
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.repository.dynamo import (
    CONDITION_FAILED,
    cancellations,
    condition_lost,
)
from shared_utils.timer.envelope import TimerEnvelope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)

CLAIM_RETENTION = timedelta(days=3)
TRANSACTION_LIMIT = 100  # TransactWriteItems' maximum items
CLAIM_ATTEMPTS = 3


class TriggerReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tick: AwareDatetime
    trade_date: date
    due: int = 0
    requested_count: int = 0
    requested: list[str] = Field(default=[], description=f"the first {REPORT_SAMPLE} runs handed over")
    already_claimed: int = 0
    paused: int = 0
    not_today: int = 0
    skipped_reason: str | None = None


class DueSchedule(Protocol):
    def due_schedule_entries(self, start: datetime, end: datetime) -> Iterable[ScheduleEntry]:
        """Entries (every shard) whose time falls in the window, each with `due_at` set."""
        ...


class StrategyStatuses(Protocol):
    def statuses_of(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StrategyStatus]:
        """The status of each strategy that still exists, by (user_id, strategy_id)."""
        ...


class TradingDays(Protocol):
    def is_trading_day(self, day: date) -> bool: ...


class TriggerClaims(Protocol):
    def claim_all(self, requests: Sequence[ExecutionRequest]) -> list[ExecutionRequest]:
        """The requests this caller claimed: each (trade date, strategy, action, time) is claimed
        by one caller only."""
        ...

    def release_all(self, requests: Sequence[ExecutionRequest]) -> None:
        """Give claims back when the hand-over failed, so a retry can hand them over."""
        ...


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
    due = paused = not_today = 0
    weekday = trade_date.weekday()
    entries = [
        entry
        for entry in schedule.due_schedule_entries(envelope.window_start, envelope.window_end)
        if entry.due_at is not None and envelope.window_start <= entry.due_at < envelope.window_end
    ]
    firing = [entry for entry in entries if entry.fires_on(weekday)]
    statuses = (
        strategies.statuses_of((entry.user_id, entry.strategy_id) for entry in firing) if firing else {}
    )
    wanted: list[ExecutionRequest] = []
    for entry in entries:
        due += 1
        if not entry.fires_on(weekday):
            not_today += 1
            continue
        status = statuses.get((entry.user_id, entry.strategy_id))
        # A paused strategy enters nothing but keeps its exits until it is flat.
        if status is None or (status is not StrategyStatus.ACTIVE and entry.kind is ScheduleKind.ENTRY):
            paused += 1
            continue
        assert entry.due_at is not None
        wanted.append(
            ExecutionRequest(
                user_id=entry.user_id,
                strategy_id=entry.strategy_id,
                basket_id=entry.basket_id,
                action=entry.kind,
                scheduled_at=entry.due_at,
                trade_date=trade_date,
                strategy_version=entry.strategy_version,
                tick=envelope.tick,
            )
        )
    claimed = claims.claim_all(wanted) if wanted else []
    if claimed:
        try:
            requester.request_executions(claimed)
        except Exception:
            claims.release_all(claimed)
            logger.exception(
                "Hand-over failed: every claim of the minute given back", extra={"runs": len(claimed)}
            )
            raise
    report = TriggerReport(
        tick=envelope.tick,
        trade_date=trade_date,
        due=due,
        requested_count=len(claimed),
        requested=[
            f"{r.user_id}/{r.strategy_id}/{r.action.value}@{_hhmm_utc(r.scheduled_at)}"
            for r in claimed[:REPORT_SAMPLE]
        ],
        already_claimed=len(wanted) - len(claimed),
        paused=paused,
        not_today=not_today,
    )
    logger.info("Schedule trigger done", extra=report.model_dump(mode="json", exclude={"requested"}))
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

    def _item(self, request: ExecutionRequest) -> dict[str, dict[str, str]]:
        expires = int((request.scheduled_at + CLAIM_RETENTION).timestamp())
        return {
            **self._key(request),
            "claimed_by_tick": {"S": request.tick.astimezone(UTC).isoformat()},
            self._ttl_attribute: {"N": str(expires)},
        }

    def claim(self, request: ExecutionRequest) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(request),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_lost(error):
                return False
            raise
        return True

    def claim_all(self, requests: Sequence[ExecutionRequest]) -> list[ExecutionRequest]:
        """Up to 100 claims per TransactWriteItems. A cancelled transaction says which items were
        claimed already: the rest are claimed again without them; after repeated conflicts with
        another writer, one conditional put each."""
        claimed: list[ExecutionRequest] = []
        for start in range(0, len(requests), TRANSACTION_LIMIT):
            pending = list(requests[start : start + TRANSACTION_LIMIT])
            for _attempt in range(CLAIM_ATTEMPTS):
                if not pending:
                    break
                try:
                    self._client.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": self._table,
                                    "Item": self._item(request),
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            }
                            for request in pending
                        ]
                    )
                except ClientError as error:
                    reasons = cancellations(error)
                    if reasons is None or len(reasons) != len(pending):
                        raise
                    pending = [
                        r
                        for r, reason in zip(pending, reasons, strict=True)
                        if reason.code != CONDITION_FAILED
                    ]
                    continue
                claimed += pending
                pending = []
            claimed += [request for request in pending if self.claim(request)]
        return claimed

    def release_all(self, requests: Sequence[ExecutionRequest]) -> None:
        for request in requests:
            self._client.delete_item(TableName=self._table, Key=self._key(request))
