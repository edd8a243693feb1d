"""One writer per strategy: a lease item taken with a conditional write before a run reads
positions or places anything, renewed before each order, given back when the run ends.

Every command that moves a strategy's positions (entry, scheduled exit, stop-loss and leg exits,
square-off, kill switch, the retry sweep, subscriber runs) holds it, in Lambda and on the local
platform alike, so two of them never plan from the same positions. A process that dies holding
it blocks the strategy for at most one lease period; the run it left is then resumed by the
minute's sweep. Holding is re-entrant within a thread (a scheduled exit calling the exit).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.clock import Clock
from shared_utils.errors import StrategyBusyError
from shared_utils.repository.dynamo import condition_lost

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)


@dataclass(frozen=True)
class LeaseConfig:
    # Longer than the longest gap between two renewals (one order: the broker's timeout, a lookup
    # and the fill polls), shorter than the sweep's minute plus the Lambda timeout.
    period: timedelta = timedelta(seconds=60)
    # How long a command waits for another run of the strategy to end before giving up.
    wait_s: float = 10.0
    poll_s: float = 0.25


# For callers that have other strategies to get on with (the minute's check, the kill switch): a
# busy strategy is left to the next minute rather than holding everyone else up.
BRIEF_WAIT_S = 2.0


class RunLease(Protocol):
    def renew(self, user_id: str, strategy_id: str) -> bool:
        """Extend the lease this process holds; False when it was lost (the run must stop)."""
        ...


class LeaseHolder(RunLease, Protocol):
    """What a command takes before it reads positions (`StrategyLeases`; in memory for backtests)."""

    def hold(
        self, user_id: str, strategy_id: str, *, wait_s: float | None = None
    ) -> AbstractContextManager[None]: ...


@dataclass
class _Held:
    thread: int
    token: str
    depth: int
    renewed_at: datetime


class StrategyLeases:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Clock,
        *,
        config: LeaseConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._config = config or LeaseConfig()
        self._sleep = sleep
        self._held: dict[tuple[str, str], _Held] = {}
        self._lock = threading.Lock()

    def _key(self, user_id: str, strategy_id: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": keys.user_pk(user_id)}, "sk": {"S": keys.lease_sk(strategy_id)}}

    def _until(self) -> str:
        return str(int((self._clock.now() + self._config.period).timestamp()))

    @contextmanager
    def hold(self, user_id: str, strategy_id: str, *, wait_s: float | None = None) -> Iterator[None]:
        """Run the block as the strategy's only writer; `StrategyBusyError` when another run
        still holds it after `wait_s` seconds."""
        wanted = (user_id, strategy_id)
        me = threading.get_ident()
        with self._lock:
            held = self._held.get(wanted)
            if held is not None and held.thread == me:
                held.depth += 1
                reentered = True
            else:
                reentered = False
        if reentered:
            try:
                yield
            finally:
                with self._lock:
                    self._held[wanted].depth -= 1
            return
        token = uuid.uuid4().hex
        self._acquire(user_id, strategy_id, token, self._config.wait_s if wait_s is None else wait_s)
        with self._lock:
            self._held[wanted] = _Held(thread=me, token=token, depth=1, renewed_at=self._clock.now())
        try:
            yield
        finally:
            with self._lock:
                del self._held[wanted]
            self._release(user_id, strategy_id, token)

    def _acquire(self, user_id: str, strategy_id: str, token: str, wait_s: float) -> None:
        polls = max(0, int(wait_s / self._config.poll_s)) if self._config.poll_s > 0 else 0
        for poll in range(polls + 1):
            now = str(int(self._clock.now().timestamp()))
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **self._key(user_id, strategy_id),
                        "entity": {"S": "LEASE"},
                        "owner": {"S": token},
                        "expires_at": {"N": self._until()},
                    },
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                    ExpressionAttributeValues={":now": {"N": now}},
                )
                return
            except ClientError as error:
                if not condition_lost(error):
                    raise
            if poll < polls:
                self._sleep(self._config.poll_s)
        logger.info("Strategy busy", extra={"user_id": user_id, "strategy_id": strategy_id})
        raise StrategyBusyError(f"{strategy_id}: another run of this strategy is in progress")

    def renew(self, user_id: str, strategy_id: str) -> bool:
        with self._lock:
            held = self._held.get((user_id, strategy_id))
        if held is None:
            return False
        now = self._clock.now()
        if now - held.renewed_at < self._config.period / 3:
            return True  # renewed recently enough: no request
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(user_id, strategy_id),
                UpdateExpression="SET expires_at = :until",
                ConditionExpression="#owner = :token",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":until": {"N": self._until()}, ":token": {"S": held.token}},
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
            logger.error("Strategy lease lost", extra={"user_id": user_id, "strategy_id": strategy_id})
            return False
        held.renewed_at = now
        return True

    def _release(self, user_id: str, strategy_id: str, token: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(user_id, strategy_id),
                ConditionExpression="#owner = :token",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
