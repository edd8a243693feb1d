"""Order rate limits and the circuit breaker shared by every container that sends for an account.

`OrderRateLimiter` and `CircuitBreaker` keep their state in one process; on Lambda many warm
containers send orders for the same client at once and each would spend the whole budget. These
two keep the same state in one DynamoDB item each and change it only by compare-and-swap: a write
names the version token it read (`#token = :seen`) and sets a fresh random one, so the item's
history is a single sequence of transitions, each computed from exactly the state before it. That
is the in-process state machine, applied in one order every container agrees on. A losing write
gets the winner's item back (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) and recomputes from it
without another read. A random token (not a counter) cannot come back after TTL deletes the item
and it is created again, so a stale copy can never pass for the current one.

Both take the same calls as the in-process classes (`GuardedBroker` can take them unchanged);
`guards.OrderLimiter` and `guards.Circuit` name that interface.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from shared_utils import keys
from shared_utils.brokers.circuit import CircuitSnapshot, CircuitState
from shared_utils.brokers.rate_limit import RateLimit
from shared_utils.clock import Clock
from shared_utils.repository.dynamo import condition_lost
from shared_utils.tables import TRADING_CONFIGURATIONS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(child=True)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_S = 1_000_000
DEFAULT_TTL_ATTRIBUTE = TRADING_CONFIGURATIONS.ttl_attribute or "expires_at"

# A limit allowing more sends per window than this is kept in batches (see `_Ring`): the item
# stays near 1 KB (one or two write units per send) whatever the daily limit.
MAX_RING_SLOTS = 50
# Lost compare-and-swap rounds before a call gives up for now (each loss means another won).
CAS_ROUNDS = 4
# What `try_acquire` asks the caller to wait after CAS_ROUNDS losses, or when DynamoDB failed.
CONTENTION_WAIT_S = 0.001
ERROR_WAIT_S = 0.2
# Kept after the last send leaves every window, so a late clock cannot meet a deleted item.
TTL_SLACK_S = 60
CIRCUIT_RETENTION = timedelta(days=1)

ORDER_RATE_ENTITY = "ORDER_RATE"
CIRCUIT_ENTITY = "CIRCUIT"
_TOKEN = "token"


def micros(instant: datetime) -> int:
    """Integer microseconds since the epoch: exact, unlike a float of epoch seconds."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return (instant - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


# --- Compare-and-swap on one item ---------------------------------------------------------------


class _Lost(Exception):
    """Another writer changed the item first; `item` is what it holds now (None: no item)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("compare-and-swap lost")
        self.item = item


def _swap(
    client: DynamoDBClient,
    table: str,
    key: dict[str, Any],
    seen_token: str | None,
    values: dict[str, Any],
    remove: Sequence[str] = (),
) -> str:
    """Write `values` (AttributeValues) and a new token if the item still holds `seen_token`
    (None: no token yet). Returns the new token; raises `_Lost` with the current item."""
    token = uuid.uuid4().hex
    names = {"#token": _TOKEN}
    attribute_values: dict[str, Any] = {":token": {"S": token}}
    sets = ["#token = :token"]
    for n, (name, value) in enumerate(values.items()):
        names[f"#a{n}"] = name
        attribute_values[f":a{n}"] = value
        sets.append(f"#a{n} = :a{n}")
    removes = []
    for n, name in enumerate(remove):
        names[f"#r{n}"] = name
        removes.append(f"#r{n}")
    if seen_token is None:
        condition = "attribute_not_exists(#token)"
    else:
        condition = "#token = :seen"
        attribute_values[":seen"] = {"S": seen_token}
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attribute_values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if condition_lost(error):
            item: Any = error.response.get("Item")  # ALL_OLD: absent when there is no item
            raise _Lost(dict(item) if item else None) from None
        raise
    return token


def _number(item: dict[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else default


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else None


# --- Rate limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ring:
    """How one limit is kept: `slots` slots of `batch` sends each, slots x batch <= count.

    Sends are numbered j = 0, 1, 2 ... in the item's write order, and their instants never go
    back (a write needs `now >= last`). Send j may go only if send j - count went at least `per`
    (+ margin) earlier. Then no half-open window of length `per` (each calendar second included)
    holds more than `count`: count + 1 sends in one would be consecutive, j .. j + count, with
    t[j + count] - t[j] < per. With batch 1 the slots are the last `count` send instants and slot
    j mod count is checked, then overwritten, by send j: exact. A larger limit (400/min,
    5000/day) would make the item large and every send pays a write unit per KB, so its slots
    hold batches: a slot holds the instant of its batch's latest send, and each send of a batch
    checks what the slot held before the batch began (kept in `floor`). That instant is no earlier
    than t[j - slots x batch], so the bound holds for slots x batch <= count; a send may wait
    up to the spread of one batch longer than an exact log would make it.
    """

    count: int
    per_us: int
    slots: int
    batch: int

    @classmethod
    def of(cls, limit: RateLimit, max_slots: int) -> _Ring:
        batch = -(-limit.count // max_slots)
        return cls(limit.count, limit.per // _MICROSECOND, limit.count // batch, batch)

    @property
    def attribute(self) -> str:
        return f"w{self.count}_{self.per_us}"

    @property
    def capacity(self) -> int:
        return self.slots * self.batch


@dataclass(frozen=True)
class _RingState:
    position: int  # sends so far, modulo capacity
    floor: int  # the current batch's slot before the batch began
    times: tuple[int, ...]  # per slot, the latest send instant (0: never)

    @classmethod
    def empty(cls, ring: _Ring) -> _RingState:
        return cls(0, 0, (0,) * ring.slots)

    @classmethod
    def parse(cls, ring: _Ring, value: dict[str, Any] | None) -> _RingState:
        if not value or "M" not in value:
            return cls.empty(ring)
        stored = value["M"]
        times = tuple(int(entry["N"]) for entry in stored.get("times", {}).get("L", []))
        position = _number(stored, "pos")
        floor = _number(stored, "floor")
        if len(times) == ring.slots and 0 <= position < ring.capacity:
            return cls(position, floor, times)
        # Kept with another slot count: every stored send counts as the latest one (never fewer).
        latest = max((*times, floor))
        return cls(0, latest, (latest,) * ring.slots)

    def bound(self, ring: _Ring) -> int:
        """The instant the next send must be `per` after."""
        slot, offset = divmod(self.position, ring.batch)
        return self.times[slot] if offset == 0 else self.floor

    def sent(self, ring: _Ring, now_us: int) -> _RingState:
        slot, offset = divmod(self.position, ring.batch)
        floor = self.times[slot] if offset == 0 else self.floor
        times = (*self.times[:slot], now_us, *self.times[slot + 1 :])
        return _RingState((self.position + 1) % ring.capacity, floor, times)

    def value(self) -> dict[str, Any]:
        return {
            "M": {
                "pos": {"N": str(self.position)},
                "floor": {"N": str(self.floor)},
                "times": {"L": [{"N": str(t)} for t in self.times]},
            }
        }


@dataclass(frozen=True)
class _Windows:
    """The scope's item as last seen: its token, latest send, expiry and one ring per limit."""

    token: str | None
    last_us: int
    expires: int
    rings: tuple[_RingState, ...]

    @classmethod
    def parse(cls, rings: Sequence[_Ring], item: dict[str, Any] | None, ttl_attribute: str) -> _Windows:
        item = item or {}
        return cls(
            token=_string(item, _TOKEN),
            last_us=_number(item, "last_sent"),
            expires=_number(item, ttl_attribute),
            rings=tuple(_RingState.parse(ring, item.get(ring.attribute)) for ring in rings),
        )

    def wait_us(self, rings: Sequence[_Ring], now_us: int, margin_us: int) -> int:
        wait = self.last_us - now_us
        for ring, state in zip(rings, self.rings, strict=True):
            wait = max(wait, state.bound(ring) + ring.per_us + margin_us - now_us)
        return max(wait, 0)


class SharedOrderRateLimiter:
    """`OrderRateLimiter` across processes: every window of `limits` holds for `scope` whichever
    container sends, counted on one DynamoDB item (see `_Ring` for why no window is exceeded).

    A send costs one conditional write when this container's copy of the item is current (it
    always is while one container sends for the scope); each send another container made since
    costs at most one lost write, which returns the item. A wait the copy already shows needs no
    request: the copy can only miss sends, so its wait is never longer than the true one.

    The instants are each container's clock when it decides, read before the write; the order
    leaves after the write returns, and reaches the exchange after the broker's own latency.
    `margin` keeps every window `per + margin` wide, so jitter of that path up to `margin` keeps
    the exchange's count within the limit too. Instants never go back: a container whose clock is
    behind the latest send waits out the difference. A DynamoDB error never lets an order through:
    `try_acquire` asks for a short wait and `acquire` gives up after `max_wait` (fail closed).
    Sends are counted towards a limit from when a limiter holding it first writes the item.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        scope: str,
        limits: Sequence[RateLimit],
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: timedelta = timedelta(seconds=5),
        *,
        margin: timedelta = timedelta(0),
        ttl_attribute: str = DEFAULT_TTL_ATTRIBUTE,
        max_slots: int = MAX_RING_SLOTS,
    ) -> None:
        if not limits:
            raise ValueError("at least one rate limit")
        if margin < timedelta(0) or max_slots < 1:
            raise ValueError("margin must not be negative and max_slots must be positive")
        self._client = client
        self._table = table_name
        self._scope = scope
        self._key = {"pk": {"S": keys.order_rate_pk(scope)}, "sk": {"S": keys.ORDER_RATE_SK}}
        self._rings = tuple(_Ring.of(limit, max_slots) for limit in dict.fromkeys(limits))
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait.total_seconds()
        self._margin_us = margin // _MICROSECOND
        self._ttl_attribute = ttl_attribute
        self._lock = threading.Lock()
        self._seen = _Windows.parse(self._rings, None, ttl_attribute)
        self._last_granted: datetime | None = None

    @property
    def last_granted_at(self) -> datetime | None:
        """The instant recorded for this limiter's latest send (the one every window counts)."""
        return self._last_granted

    def try_acquire(self) -> float:
        """Record a send and return 0 if every window has room; else the seconds to wait."""
        with self._lock:
            for _round in range(CAS_ROUNDS):
                now = self._clock.now()
                now_us = micros(now)
                wait = self._seen.wait_us(self._rings, now_us, self._margin_us)
                if wait > 0:
                    return wait / _US_PER_S
                try:
                    self._seen = self._send(now_us)
                except _Lost as lost:
                    self._seen = _Windows.parse(self._rings, lost.item, self._ttl_attribute)
                    continue
                except (ClientError, BotoCoreError) as error:
                    # The write may have landed: that counts a send that never left (never more).
                    logger.warning(
                        "Shared order rate limit unavailable: order held",
                        extra={"scope": self._scope, "error": str(error)},
                    )
                    return ERROR_WAIT_S
                self._last_granted = now
                return 0.0
            return CONTENTION_WAIT_S

    def acquire(self) -> bool:
        """Block (via `sleep`) until an order may go; False if that would exceed `max_wait` in total."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait == 0:
                return True
            if waited + wait > self._max_wait:
                return False
            self._sleep(wait)
            waited += wait

    def _send(self, now_us: int) -> _Windows:
        rings = tuple(
            state.sent(ring, now_us) for ring, state in zip(self._rings, self._seen.rings, strict=True)
        )
        longest = max(ring.per_us for ring in self._rings) + self._margin_us
        expires = max(self._seen.expires, math.ceil((now_us + longest) / _US_PER_S) + TTL_SLACK_S)
        values: dict[str, Any] = {
            "entity": {"S": ORDER_RATE_ENTITY},
            "last_sent": {"N": str(now_us)},
            self._ttl_attribute: {"N": str(expires)},
        }
        for ring, state in zip(self._rings, rings, strict=True):
            values[ring.attribute] = state.value()
        token = _swap(self._client, self._table, self._key, self._seen.token, values)
        return _Windows(token=token, last_us=now_us, expires=expires, rings=rings)


# --- Circuit breaker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _CircuitItem:
    """An account's breaker as last seen. `trial_until`: the half-open trial call's lease."""

    token: str | None = None
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: int | None = None
    trial_until: int | None = None
    last_code: str | None = None

    @classmethod
    def parse(cls, item: dict[str, Any] | None) -> _CircuitItem:
        if not item:
            return cls()
        state = _string(item, "state")
        return cls(
            token=_string(item, _TOKEN),
            state=CircuitState(state)
            if state is not None and state in CircuitState.__members__
            else CircuitState.CLOSED,
            failures=_number(item, "failures"),
            opened_at=_number(item, "opened_at") if "opened_at" in item else None,
            trial_until=_number(item, "trial_until") if "trial_until" in item else None,
            last_code=_string(item, "last_code"),
        )

    def allow(self, now_us: int, cool_down_us: int, lease_us: int) -> tuple[bool, _CircuitItem | None]:
        """The answer, and the state to write when this call takes the half-open trial."""
        if self.state is CircuitState.CLOSED:
            return True, None
        if self.state is CircuitState.OPEN and (
            self.opened_at is not None and now_us < self.opened_at + cool_down_us
        ):
            return False, None
        if (
            self.state is CircuitState.HALF_OPEN
            and self.trial_until is not None
            and now_us < self.trial_until
        ):
            return False, None
        return True, replace(self, state=CircuitState.HALF_OPEN, trial_until=now_us + lease_us)

    def succeeded(self) -> _CircuitItem:
        return replace(self, state=CircuitState.CLOSED, failures=0, opened_at=None, trial_until=None)

    def failed(self, now_us: int, code: str, threshold: int) -> _CircuitItem:
        failures = self.failures + 1
        opens = self.state is CircuitState.HALF_OPEN or failures >= threshold
        return replace(
            self,
            failures=failures,
            last_code=code,
            trial_until=None,
            state=CircuitState.OPEN if opens else self.state,
            opened_at=now_us if opens else self.opened_at,
        )


class SharedCircuitBreaker:
    """`CircuitBreaker` across processes: one item per account, every transition a
    compare-and-swap, so all containers see one breaker and one half-open trial at a time.

    `allow` reads the item (one consistent read); taking the half-open trial is one conditional
    write that only one container wins. The trial is a lease of `trial_lease`: a container that
    dies during its trial blocks the others only that long. `record_failure` is one conditional
    write; `record_success` writes only when the breaker it saw in `allow` had something to reset.

    Fail safe: if DynamoDB cannot be read or written in `allow`, no call goes (False: the caller
    reports the circuit open). `record_*` never raise (the broker already answered; an error here
    must not hide that answer or make a placed order look failed): they log and drop the event.
    `snapshot` falls back to the state this instance saw last.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        account_id: str,
        clock: Clock,
        failure_threshold: int = 5,
        cool_down: timedelta = timedelta(seconds=30),
        *,
        trial_lease: timedelta = timedelta(seconds=30),
        ttl_attribute: str = DEFAULT_TTL_ATTRIBUTE,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if trial_lease <= timedelta(0):
            raise ValueError("trial_lease must be positive")
        self._client = client
        self._table = table_name
        self._account_id = account_id
        self._key = {"pk": {"S": keys.circuit_pk(account_id)}, "sk": {"S": keys.CIRCUIT_SK}}
        self._clock = clock
        self._threshold = failure_threshold
        self._cool_down_us = cool_down // _MICROSECOND
        self._lease_us = trial_lease // _MICROSECOND
        self._retention_us = (cool_down + trial_lease + CIRCUIT_RETENTION) // _MICROSECOND
        self._ttl_attribute = ttl_attribute
        self._lock = threading.Lock()
        self._seen = _CircuitItem()

    def allow(self) -> bool:
        """May a call go now? In HALF_OPEN only one trial call at a time, across containers."""
        with self._lock:
            try:
                self._seen = self._read()
                for _round in range(CAS_ROUNDS):
                    allowed, claim = self._seen.allow(self._now_us(), self._cool_down_us, self._lease_us)
                    if claim is None:
                        return allowed
                    try:
                        self._seen = self._write(claim)
                        return True
                    except _Lost as lost:
                        self._seen = _CircuitItem.parse(lost.item)
                return False
            except (ClientError, BotoCoreError) as error:
                logger.warning(
                    "Shared circuit unavailable: call refused",
                    extra={"account_id": self._account_id, "error": str(error)},
                )
                return False

    def record_success(self) -> None:
        with self._lock:
            self._apply(lambda seen: seen.succeeded(), "success")

    def record_failure(self, code: str) -> None:
        with self._lock:
            self._apply(lambda seen: seen.failed(self._now_us(), code, self._threshold), "failure")

    def snapshot(self) -> CircuitSnapshot:
        with self._lock:
            try:
                self._seen = self._read()
            except (ClientError, BotoCoreError) as error:
                logger.warning(
                    "Shared circuit unreadable: last seen state reported",
                    extra={"account_id": self._account_id, "error": str(error)},
                )
            seen = self._seen
            state = seen.state
            retry_at = seen.opened_at + self._cool_down_us if seen.opened_at is not None else None
            if state is CircuitState.OPEN and retry_at is not None and self._now_us() >= retry_at:
                state = CircuitState.HALF_OPEN
            return CircuitSnapshot(
                account_id=self._account_id,
                state=state,
                consecutive_failures=seen.failures,
                opened_at=from_micros(seen.opened_at) if seen.opened_at is not None else None,
                retry_at=from_micros(retry_at) if retry_at is not None else None,
                last_failure_code=seen.last_code,
            )

    def _now_us(self) -> int:
        return micros(self._clock.now())

    def _apply(self, transition: Callable[[_CircuitItem], _CircuitItem], event: str) -> None:
        try:
            for _round in range(CAS_ROUNDS):
                after = transition(self._seen)
                if after == self._seen:
                    return  # nothing to change (a success on a healthy breaker): no write
                try:
                    self._seen = self._write(after)
                    return
                except _Lost as lost:
                    self._seen = _CircuitItem.parse(lost.item)
            logger.warning(
                "Shared circuit contended: event dropped",
                extra={"account_id": self._account_id, "event": event},
            )
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "Shared circuit unavailable: event dropped",
                extra={"account_id": self._account_id, "event": event, "error": str(error)},
            )

    def _read(self) -> _CircuitItem:
        response = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        return _CircuitItem.parse(dict(response["Item"]) if "Item" in response else None)

    def _write(self, after: _CircuitItem) -> _CircuitItem:
        expires = math.ceil((self._now_us() + self._retention_us) / _US_PER_S)
        values: dict[str, Any] = {
            "entity": {"S": CIRCUIT_ENTITY},
            "state": {"S": after.state.value},
            "failures": {"N": str(after.failures)},
            self._ttl_attribute: {"N": str(expires)},
        }
        optional = {
            "opened_at": None if after.opened_at is None else {"N": str(after.opened_at)},
            "trial_until": None if after.trial_until is None else {"N": str(after.trial_until)},
            "last_code": None if after.last_code is None else {"S": after.last_code},
        }
        values.update({name: value for name, value in optional.items() if value is not None})
        remove = [name for name, value in optional.items() if value is None]
        token = _swap(self._client, self._table, self._key, self._seen.token, values, remove)
        return replace(after, token=token)
