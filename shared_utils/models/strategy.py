"""Strategies: legs (1-6), schedules and risk rules, as the API accepts them and the domain uses them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared_utils.errors import FieldIssue
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market.weekdays import Weekday
from shared_utils.models.common import (
    ClockTime,
    EntityId,
    Name,
    Product,
    Rupees,
    StopLossKind,
    StrategyStatus,
    StrikeMethod,
)

if TYPE_CHECKING:
    from shared_utils.market.calendar import TradingCalendar
    from shared_utils.market.expiries import ExpiryKind

MAX_LEGS = 6
MAX_STRATEGIES_PER_BASKET = 10
STRATEGY_LIMIT = "STRATEGY_LIMIT"  # the error code of a full basket


class ExpirySelection(StrEnum):
    """Which listed expiry a leg trades; resolved to a date by the market calendar at entry time."""

    CURRENT_WEEKLY = "CURRENT_WEEKLY"
    NEXT_WEEKLY = "NEXT_WEEKLY"
    CURRENT_MONTHLY = "CURRENT_MONTHLY"
    NEXT_MONTHLY = "NEXT_MONTHLY"

    @property
    def kind(self) -> ExpiryKind:
        """The market calendar's name for the same choice (same member names)."""
        from shared_utils.market.expiries import ExpiryKind

        return ExpiryKind[self.name]


_METHOD_FIELD: dict[StrikeMethod, str] = {
    StrikeMethod.ATM_OFFSET: "steps",
    StrikeMethod.PREMIUM: "target_premium",
    StrikeMethod.DELTA: "target_delta",
    StrikeMethod.FIXED: "strike",
}


class StrikeSelection(BaseModel):
    """How a leg's strike is chosen at entry. Exactly the field of its `method` is set.

    ATM_OFFSET: `steps` strike steps from the at-the-money strike (+ is higher strike, - lower).
    PREMIUM: the strike whose premium is closest to `target_premium` (rupees per unit).
    DELTA: the strike whose absolute delta is closest to `target_delta`.
    FIXED: exactly `strike`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: StrikeMethod
    steps: int | None = Field(default=None, ge=-50, le=50, validate_default=True)
    target_premium: Decimal | None = Field(
        default=None, gt=0, max_digits=10, decimal_places=2, validate_default=True
    )
    target_delta: float | None = Field(default=None, gt=0, lt=1, validate_default=True)
    strike: Decimal | None = Field(default=None, gt=0, max_digits=10, decimal_places=2, validate_default=True)

    @field_validator("steps", "target_premium", "target_delta", "strike")
    @classmethod
    def _matches_method(cls, value: Any, info: ValidationInfo) -> Any:
        method = info.data.get("method")
        if method is None:
            return value
        wanted = _METHOD_FIELD[method]
        if info.field_name == wanted and value is None:
            raise ValueError(f"required when method is {method.value}")
        if info.field_name != wanted and value is not None:
            raise ValueError(f"not allowed when method is {method.value} (use {wanted})")
        return value

    @classmethod
    def atm(cls, steps: int = 0) -> StrikeSelection:
        return cls(method=StrikeMethod.ATM_OFFSET, steps=steps)

    @classmethod
    def premium(cls, target: Decimal | int | str) -> StrikeSelection:
        return cls(method=StrikeMethod.PREMIUM, target_premium=Decimal(str(target)))

    @classmethod
    def delta(cls, target: float) -> StrikeSelection:
        return cls(method=StrikeMethod.DELTA, target_delta=target)

    @classmethod
    def fixed(cls, strike: Decimal | int | str) -> StrikeSelection:
        return cls(method=StrikeMethod.FIXED, strike=Decimal(str(strike)))


class LegStopLoss(BaseModel):
    """Exit the leg when its premium moves against it by `value` percent or points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: StopLossKind
    value: Decimal = Field(gt=0, max_digits=10, decimal_places=2)


class Leg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    option_type: OptionType
    strike: StrikeSelection
    expiry: ExpirySelection
    lots: int = Field(default=1, ge=1, le=100, description="Ratio: lots of this leg per allocated lot")
    stop_loss: LegStopLoss | None = None


class EntrySchedule(BaseModel):
    """Enter at `time` (IST) on each of `weekdays` that is a trading day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: ClockTime
    weekdays: list[Weekday] = Field(min_length=1, max_length=7)

    @field_validator("weekdays")
    @classmethod
    def _unique_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("weekdays must not repeat")
        return sorted(days, key=lambda day: day.iso_index)


class ExitSchedule(BaseModel):
    """Exit at `time` (IST): on the entry day, or `days_before_expiry` trading days before expiry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: ClockTime
    days_before_expiry: int | None = Field(default=None, ge=0, le=30)


class TrailingStopLoss(BaseModel):
    """Once MTM profit reaches `activate_at`, exit if it falls `trail_by` rupees from its peak."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activate_at: Rupees
    trail_by: Rupees


class RiskRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mtm_stop_loss: Rupees | None = None
    mtm_target: Rupees | None = None
    trailing_stop_loss: TrailingStopLoss | None = None


Legs = Annotated[list[Leg], Field(min_length=1, max_length=MAX_LEGS)]


class StrategyCreate(BaseModel):
    """Body of `POST .../baskets/{basket_id}/strategies`."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    underlying: Underlying
    product: Product = Product.MIS
    status: StrategyStatus = StrategyStatus.ACTIVE
    legs: Legs
    entry: EntrySchedule
    exit: ExitSchedule | None = None
    risk: RiskRules = Field(default_factory=RiskRules)


class StrategyUpdate(BaseModel):
    """Body of `PATCH .../strategies/{id}`: only the fields given change; `version` must be current."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    name: Name | None = None
    underlying: Underlying | None = None
    product: Product | None = None
    status: StrategyStatus | None = None
    legs: Legs | None = None
    entry: EntrySchedule | None = None
    exit: ExitSchedule | None = None
    risk: RiskRules | None = None

    def changes(self) -> dict[str, Any]:
        """Fields the caller set; null means "unchanged" except for `exit`, where it removes the
        exit schedule (every other field is required on a strategy)."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if name != "version" and (getattr(self, name) is not None or name == "exit")
        }


class Strategy(BaseModel):
    """A strategy as the domain and the API see it, complete with its legs."""

    model_config = ConfigDict(frozen=True)

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
    risk: RiskRules = Field(default_factory=RiskRules)
    allocation_count: int = Field(default=0, ge=0, description="Own allocations (0: inherits the basket's)")
    version: int = Field(ge=1)
    created_at: AwareDatetime
    updated_at: AwareDatetime

    def with_changes(self, changes: dict[str, Any], now: datetime) -> Strategy:
        """The strategy after an update, re-validated as a whole."""
        data = self.model_dump()
        data.update(changes)
        data.update(version=self.version + 1, updated_at=now)
        return Strategy.model_validate(data)


def schedule_issues(strategy: StrategyCreate | Strategy) -> list[FieldIssue]:
    """An intraday (MIS) strategy must exit after it enters the same day, or its position would be
    left for the square-off (or overnight)."""
    exit_ = strategy.exit
    intraday = strategy.product is Product.MIS and exit_ is not None and exit_.days_before_expiry is None
    if intraday and exit_ is not None and exit_.time <= strategy.entry.time:
        entry = f"{strategy.entry.time:%H:%M}"
        return [FieldIssue("exit.time", f"an intraday (MIS) strategy must exit after its entry at {entry}")]
    return []


def expiry_issues(
    underlying: Underlying, legs: list[Leg], trade_date: date, calendar: TradingCalendar | None = None
) -> list[FieldIssue]:
    """Legs asking for an expiry the index does not list (a weekly on a monthly-only index) or,
    given the calendar, one that cannot be resolved on the next trading day: either would only
    fail at entry time, leaving the strategy silently not entered."""
    from shared_utils.errors import DomainError
    from shared_utils.market.expiries import expiry_for, valid_kinds

    offered = set(valid_kinds(underlying, trade_date))
    issues = [
        FieldIssue(f"legs.{index}.expiry", f"{underlying.value} has no {leg.expiry.value} expiry")
        for index, leg in enumerate(legs)
        if leg.expiry.kind not in offered
    ]
    if calendar is None or issues:
        return issues
    for index, leg in enumerate(legs):
        try:
            day = trade_date if calendar.is_trading_day(trade_date) else calendar.next_trading_day(trade_date)
            expiry_for(underlying, day, leg.expiry.kind, calendar)
        except DomainError as error:
            issues.append(FieldIssue(f"legs.{index}.expiry", f"cannot be resolved: {error.message}"))
    return issues


WEEKEND = frozenset({Weekday.SAT, Weekday.SUN})


def door_issues(
    strategy: StrategyCreate | Strategy, trade_date: date, calendar: TradingCalendar | None = None
) -> list[FieldIssue]:
    """What the platform would accept but could never run, found when the strategy is saved:
    entry days the exchange never trades (SAT, SUN), an entry or exit time outside the session of
    the next trading day, a FIXED strike off the index's strike grid (26033 on NIFTY)."""
    from shared_utils.errors import DomainError
    from shared_utils.market.calendar import TradingCalendar
    from shared_utils.market.expiries import expiry_for
    from shared_utils.market.specs import default_specs
    from shared_utils.market.underlyings import EXCHANGE_OF

    calendar = calendar or TradingCalendar.default()
    exchange = EXCHANGE_OF[strategy.underlying]
    days = calendar.for_exchange(exchange.value)
    issues = [
        FieldIssue("entry.weekdays", f"{day.value} is not a trading day on {exchange.value}")
        for day in strategy.entry.weekdays
        if day in WEEKEND  # a Saturday's special session (budget day) is not a schedule
    ]
    day = trade_date if days.is_trading_day(trade_date) else days.next_trading_day(trade_date)
    session = days.session(day)
    if session is not None:
        opens, closes = session.open.time(), session.close.time()
        hours = f"{opens:%H:%M}-{closes:%H:%M}"
        if not opens <= strategy.entry.time < closes:
            issues.append(FieldIssue("entry.time", f"outside {exchange.value}'s session {hours} IST"))
        if strategy.exit is not None and not opens <= strategy.exit.time < closes:
            issues.append(FieldIssue("exit.time", f"outside {exchange.value}'s session {hours} IST"))
    specs = default_specs()
    for index, leg in enumerate(strategy.legs):
        if leg.strike.method is not StrikeMethod.FIXED or leg.strike.strike is None:
            continue
        try:
            expiry = expiry_for(strategy.underlying, day, leg.expiry.kind, calendar)
        except DomainError:
            continue  # expiry_issues names it
        step = Decimal(str(specs.spec_for(strategy.underlying, expiry).strike_step))
        if leg.strike.strike % step:
            issues.append(
                FieldIssue(
                    f"legs.{index}.strike.strike",
                    f"{leg.strike.strike} is off {strategy.underlying.value}'s strike grid (steps of {step})",
                )
            )
    return issues


def refuse_unrunnable(
    strategy: StrategyCreate | Strategy, trade_date: date, calendar: TradingCalendar
) -> None:
    """What would only fail at entry or leave a position open, refused when saved (and when
    previewed, the same way), naming the fields: an intraday exit not after the entry, an expiry
    the index does not list or the calendar cannot resolve, and the `door_issues`."""
    from shared_utils.errors import InvalidInputError

    schedule = schedule_issues(strategy)
    if schedule:
        raise InvalidInputError("an intraday strategy must exit after it enters", schedule)
    issues = expiry_issues(strategy.underlying, strategy.legs, trade_date, calendar)
    if issues:
        raise InvalidInputError(f"{strategy.underlying.value} does not list every expiry asked for", issues)
    door = door_issues(strategy, trade_date, calendar)
    if door:
        raise InvalidInputError("the strategy could never run as it stands", door)
