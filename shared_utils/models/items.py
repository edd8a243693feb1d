"""Stored items of the trading-configurations table, mapped explicitly to and from the domain.

Domain models know nothing of keys; these carry `pk`/`sk`/GSI attributes and internal state
(a basket being deleted), and convert to DynamoDB attribute maps (exact Decimals, UTC times).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, ClassVar, Self

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils import keys
from shared_utils.keys import ScheduleKind
from shared_utils.market.underlyings import Underlying
from shared_utils.market.weekdays import Weekday
from shared_utils.models.allocation import AllocationLimits, BrokerAllocation
from shared_utils.models.basket import Basket
from shared_utils.models.common import (
    AllocationScope,
    ClockTime,
    Description,
    EntityId,
    Name,
    Product,
    StrategyStatus,
    Visibility,
)
from shared_utils.models.risk import RiskSettings
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.models.strategy import (
    EntrySchedule,
    ExitSchedule,
    Legs,
    MoveToCost,
    ReEntry,
    RiskRules,
    Strategy,
)

IST_OFFSET = timedelta(hours=5, minutes=30)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_storable(value: Any) -> Any:
    """Plain values DynamoDB accepts: Decimals for numbers, ISO strings for times, no None in maps."""
    if isinstance(value, bool) or value is None or isinstance(value, int | Decimal):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime cannot be stored")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return to_storable(value.model_dump(exclude_none=True))
    if isinstance(value, dict):
        return {key: to_storable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [to_storable(item) for item in value]
    raise TypeError(f"cannot store {type(value).__name__}")


def serialize(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in to_storable(data).items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def utc_hhmm(ist_time: time) -> str:
    """The UTC clock minute of an IST clock time (India has no daylight saving: a fixed offset)."""
    minutes = (ist_time.hour * 60 + ist_time.minute - int(IST_OFFSET.total_seconds()) // 60) % 1440
    return f"{minutes // 60:02d}{minutes % 60:02d}"


class ItemState(StrEnum):
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"


class StoredItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity: ClassVar[str]
    pk: str
    sk: str

    def to_dynamo(self) -> dict[str, Any]:
        return serialize({**self.model_dump(exclude_none=True), "entity": self.entity})

    @classmethod
    def from_dynamo(cls, raw: dict[str, Any]) -> Self:
        data = deserialize(raw)
        data.pop("entity", None)
        return cls.model_validate(data)


class BasketItem(StoredItem):
    entity: ClassVar[str] = "BASKET"
    gsi1pk: str
    gsi1sk: str
    basket_id: EntityId
    user_id: EntityId
    name: Name
    description: Description = ""
    visibility: Visibility
    risk: RiskRules = Field(default_factory=RiskRules)  # absent on baskets stored before it existed
    strategy_count: int = Field(ge=0)
    default_allocation_count: int = Field(ge=0)
    state: ItemState = ItemState.ACTIVE
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, basket: Basket, state: ItemState = ItemState.ACTIVE) -> BasketItem:
        return cls(
            pk=keys.user_pk(basket.user_id),
            sk=keys.basket_sk(basket.basket_id),
            gsi1pk=keys.basket_gsi1pk(basket.basket_id),
            gsi1sk=keys.GSI1_BASKET_SELF,
            state=state,
            **basket.model_dump(),
        )

    def to_domain(self) -> Basket:
        return Basket.model_validate(self.model_dump(exclude={"pk", "sk", "gsi1pk", "gsi1sk", "state"}))


class StrategyItem(StoredItem):
    entity: ClassVar[str] = "STRATEGY"
    gsi1pk: str
    gsi1sk: str
    strategy_id: EntityId
    user_id: EntityId
    basket_id: EntityId
    name: Name
    underlying: Underlying
    product: Product
    status: StrategyStatus
    legs: Legs
    entry: EntrySchedule
    exit: ExitSchedule | None = None
    risk: RiskRules
    re_entry: ReEntry | None = None
    move_to_cost: MoveToCost | None = None
    allocation_count: int = Field(ge=0)
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, strategy: Strategy) -> StrategyItem:
        return cls(
            pk=keys.user_pk(strategy.user_id),
            sk=keys.strategy_sk(strategy.strategy_id),
            gsi1pk=keys.basket_gsi1pk(strategy.basket_id),
            gsi1sk=keys.basket_member_gsi1sk(strategy.strategy_id),
            **dict(strategy),
        )

    def to_domain(self) -> Strategy:
        return Strategy(**{name: getattr(self, name) for name in Strategy.model_fields})


class AllocationItem(StoredItem, AllocationLimits):
    entity: ClassVar[str] = "ALLOCATION"
    gsi1pk: str
    gsi1sk: str
    allocation_id: EntityId
    user_id: EntityId
    scope: AllocationScope
    scope_id: EntityId
    basket_id: EntityId
    broker_account_id: EntityId
    broker: str
    lots: int = Field(ge=1)
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, allocation: BrokerAllocation) -> AllocationItem:
        owner = (
            keys.strategy_gsi1pk(allocation.scope_id)
            if allocation.scope is AllocationScope.STRATEGY
            else keys.basket_gsi1pk(allocation.scope_id)
        )
        return cls(
            pk=keys.user_pk(allocation.user_id),
            sk=keys.allocation_sk(allocation.allocation_id),
            gsi1pk=owner,
            gsi1sk=keys.allocation_gsi1sk(allocation.broker, allocation.allocation_id),
            **dict(allocation),
        )

    def to_domain(self) -> BrokerAllocation:
        return BrokerAllocation(**{name: getattr(self, name) for name in BrokerAllocation.model_fields})


class ScheduleItem(StoredItem):
    entity: ClassVar[str] = "SCHEDULE"
    gsi2pk: str
    gsi2sk: str
    user_id: EntityId
    strategy_id: EntityId
    basket_id: EntityId
    underlying: Underlying
    kind: ScheduleKind
    at: ClockTime
    at_utc: str = Field(pattern=r"^\d{4}$")
    weekdays: list[Weekday]
    days_before_expiry: int | None = None
    strategy_version: int

    @classmethod
    def for_strategy(cls, strategy: Strategy, kind: ScheduleKind, shards: int) -> ScheduleItem:
        if kind is ScheduleKind.ENTRY:
            at, weekdays, days_before = strategy.entry.time, strategy.entry.weekdays, None
        else:
            if strategy.exit is None:
                raise ValueError("strategy has no exit schedule")
            at, days_before = strategy.exit.time, strategy.exit.days_before_expiry
            # Same-day exits follow the entry days; expiry-relative exits may fall on any weekday.
            weekdays = strategy.entry.weekdays if days_before is None else list(Weekday)
        hhmm = utc_hhmm(at)
        return cls(
            pk=keys.user_pk(strategy.user_id),
            sk=keys.schedule_sk(strategy.strategy_id, kind),
            gsi2pk=keys.schedule_gsi2pk(keys.schedule_shard(strategy.user_id, strategy.strategy_id, shards)),
            gsi2sk=keys.schedule_gsi2sk(hhmm, kind, strategy.user_id, strategy.strategy_id),
            user_id=strategy.user_id,
            strategy_id=strategy.strategy_id,
            basket_id=strategy.basket_id,
            underlying=strategy.underlying,
            kind=kind,
            at=at,
            at_utc=hhmm,
            weekdays=weekdays,
            days_before_expiry=days_before,
            strategy_version=strategy.version,
        )

    def to_domain(self, due_at: datetime | None = None) -> ScheduleEntry:
        return ScheduleEntry(
            **{name: getattr(self, name) for name in ScheduleEntry.model_fields if name != "due_at"},
            due_at=due_at,
        )


def schedule_items(strategy: Strategy, shards: int) -> list[ScheduleItem]:
    """The schedule entries an ACTIVE strategy projects (none while PAUSED)."""
    if strategy.status is not StrategyStatus.ACTIVE:
        return []
    kinds = [ScheduleKind.ENTRY] + ([ScheduleKind.EXIT] if strategy.exit is not None else [])
    return [ScheduleItem.for_strategy(strategy, kind, shards) for kind in kinds]


class RiskSettingsItem(StoredItem):
    """The user's portfolio rules (`USER#{user}` / `RISK_SETTINGS`)."""

    entity: ClassVar[str] = "RISK_SETTINGS"
    user_id: EntityId
    risk: RiskRules
    version: int = Field(ge=1)
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, settings: RiskSettings) -> RiskSettingsItem:
        if settings.updated_at is None:
            raise ValueError("stored risk settings carry their update time")
        return cls(
            pk=keys.user_pk(settings.user_id),
            sk=keys.RISK_SETTINGS_SK,
            user_id=settings.user_id,
            risk=settings.risk,
            version=settings.version,
            updated_at=settings.updated_at,
        )

    def to_domain(self) -> RiskSettings:
        return RiskSettings(
            user_id=self.user_id, risk=self.risk, version=self.version, updated_at=self.updated_at
        )
