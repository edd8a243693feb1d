"""Strategies: legs (1-6), schedules and risk rules, as the API accepts them and the domain uses them."""

from __future__ import annotations

from datetime import date, datetime, time
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
    StrikeMethod.PREMIUM_AT_LEAST: "target_premium",
    StrikeMethod.PREMIUM_AT_MOST: "target_premium",
    StrikeMethod.DELTA: "target_delta",
    StrikeMethod.FIXED: "strike",
    StrikeMethod.STRADDLE_WIDTH: "straddle_multiple",
}


class StrikeSelection(BaseModel):
    """How a leg's strike is chosen at entry, on the option chain of the leg's expiry. Exactly the
    one field of its `method` is set (several methods share `target_premium`).

    ATM_OFFSET: `steps` strike steps from the at-the-money strike (+ is higher strike, - lower).
    PREMIUM: the strike whose premium is closest to `target_premium` (rupees per unit), above or
    below it.
    PREMIUM_AT_LEAST: the strike whose premium is closest to `target_premium` among those at or
    above it (the cheapest premium >= target).
    PREMIUM_AT_MOST: the strike whose premium is closest to `target_premium` among those at or
    below it (the dearest premium <= target).
    DELTA: the strike whose absolute delta is closest to `target_delta`.
    STRADDLE_WIDTH: ATM + `straddle_multiple` x (ATM CE premium + ATM PE premium), rounded to the
    nearest strike on the index's grid (a tie to the one nearer ATM); it must be listed. 0 is the
    ATM strike itself, as ATM_OFFSET 0.
    FIXED: exactly `strike`.

    Premiums are skipped where the chain has no quote; a choice the chain cannot make (no strike
    qualifies, no ATM price, a strike not listed) leaves the strategy unentered with the reason.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"method": "ATM_OFFSET", "steps": -2},
                {"method": "PREMIUM", "target_premium": 50},
                {"method": "PREMIUM_AT_LEAST", "target_premium": 50},
                {"method": "PREMIUM_AT_MOST", "target_premium": 50},
                {"method": "DELTA", "target_delta": 0.25},
                {"method": "STRADDLE_WIDTH", "straddle_multiple": 0.5},
                {"method": "FIXED", "strike": 25000},
            ]
        },
    )

    method: StrikeMethod
    steps: int | None = Field(
        default=None,
        ge=-50,
        le=50,
        validate_default=True,
        description="ATM_OFFSET: strike steps from ATM (+ higher strike, - lower)",
        examples=[-2],
    )
    target_premium: Decimal | None = Field(
        default=None,
        gt=0,
        max_digits=10,
        decimal_places=2,
        validate_default=True,
        description="PREMIUM, PREMIUM_AT_LEAST, PREMIUM_AT_MOST: the premium sought, rupees per unit",
        examples=[50],
    )
    target_delta: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        validate_default=True,
        description="DELTA: the absolute delta sought (0.25 for a CE or a PE)",
        examples=[0.25],
    )
    straddle_multiple: Decimal | None = Field(
        default=None,
        ge=-5,
        le=5,
        decimal_places=2,
        validate_default=True,
        description=(
            "STRADDLE_WIDTH: multiples of the ATM straddle premium from ATM (+ higher strike, "
            "- lower; 0 is ATM)"
        ),
        examples=[0.5],
    )
    strike: Decimal | None = Field(
        default=None,
        gt=0,
        max_digits=10,
        decimal_places=2,
        validate_default=True,
        description="FIXED: the strike itself, on the index's strike grid",
        examples=[25000],
    )

    @field_validator(*dict.fromkeys(_METHOD_FIELD.values()))
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
    def premium_at_least(cls, target: Decimal | int | str) -> StrikeSelection:
        return cls(method=StrikeMethod.PREMIUM_AT_LEAST, target_premium=Decimal(str(target)))

    @classmethod
    def premium_at_most(cls, target: Decimal | int | str) -> StrikeSelection:
        return cls(method=StrikeMethod.PREMIUM_AT_MOST, target_premium=Decimal(str(target)))

    @classmethod
    def delta(cls, target: float) -> StrikeSelection:
        return cls(method=StrikeMethod.DELTA, target_delta=target)

    @classmethod
    def straddle_width(cls, multiple: Decimal | int | str) -> StrikeSelection:
        return cls(method=StrikeMethod.STRADDLE_WIDTH, straddle_multiple=Decimal(str(multiple)))

    @classmethod
    def fixed(cls, strike: Decimal | int | str) -> StrikeSelection:
        return cls(method=StrikeMethod.FIXED, strike=Decimal(str(strike)))


class LegStopLoss(BaseModel):
    """Exit the leg when its premium moves against it by `value` percent or points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: StopLossKind
    value: Decimal = Field(gt=0, max_digits=10, decimal_places=2)


MAX_RE_ENTRIES = 10  # a day's re-entries of one strategy (or one leg)


class ReEntryMode(StrEnum):
    RE_ENTER = "RE_ENTER"  # the same contract again (the original strike)
    RE_EXECUTE = "RE_EXECUTE"  # strikes selected afresh, as at the scheduled entry


class ReEntryWhen(StrEnum):
    IMMEDIATELY = "IMMEDIATELY"  # at the next minute after the exit
    PREMIUM_RETURNS = "PREMIUM_RETURNS"  # once the exited contracts are back at their entry prices


class ReEntryAfter(StrEnum):
    STOP_LOSS = "STOP_LOSS"  # a stop-loss exit (a leg's, or the strategy's MTM or trailing stop)
    TARGET = "TARGET"  # the strategy's MTM target


class ReEntry(BaseModel):
    """Enter again after a stop-loss (or target) exit, at most `max_per_day` times, never at or
    after `until` (IST), never once the day has ended for the strategy (its scheduled exit, the
    square-off, the kill switch, a portfolio exit)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"mode": "RE_ENTER", "when": "IMMEDIATELY", "max_per_day": 2, "until": "14:30"},
                {
                    "mode": "RE_EXECUTE",
                    "when": "PREMIUM_RETURNS",
                    "max_per_day": 1,
                    "until": "13:00",
                    "after": ["STOP_LOSS", "TARGET"],
                },
            ]
        },
    )

    mode: ReEntryMode = Field(
        default=ReEntryMode.RE_ENTER, description="RE_ENTER: the same contract; RE_EXECUTE: strikes afresh"
    )
    when: ReEntryWhen = Field(
        default=ReEntryWhen.IMMEDIATELY,
        description="at the next minute, or once the exited contracts are back at their entry prices",
    )
    max_per_day: int = Field(default=1, ge=1, le=MAX_RE_ENTRIES, description="re-entries a day, at most")
    until: ClockTime = Field(description="no re-entry at or after this time (IST)", examples=["14:30"])
    after: list[ReEntryAfter] = Field(
        default_factory=lambda: [ReEntryAfter.STOP_LOSS],
        min_length=1,
        description="the exits it follows (a leg: STOP_LOSS only)",
    )

    @field_validator("after")
    @classmethod
    def _unique(cls, after: list[ReEntryAfter]) -> list[ReEntryAfter]:
        if len(set(after)) != len(after):
            raise ValueError("must not repeat")
        return after


class MoveDirection(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class WaitAndTrade(BaseModel):
    """Enter the leg only once its premium has moved `direction` by `value` percent or points from
    its price at the scheduled time; not entered (with the reason) if that has not happened within
    `timeout_minutes`."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"direction": "UP", "kind": "PERCENT", "value": 10, "timeout_minutes": 30},
                {"direction": "DOWN", "kind": "POINTS", "value": 15, "timeout_minutes": 45},
            ]
        },
    )

    direction: MoveDirection = Field(description="the premium must rise (UP) or fall (DOWN)")
    kind: StopLossKind = Field(default=StopLossKind.PERCENT, description="`value` in percent or points")
    value: Decimal = Field(gt=0, le=1000, max_digits=8, decimal_places=2, examples=[10])
    timeout_minutes: int = Field(
        default=30, ge=1, le=375, description="not entered (reason recorded) if it has not moved by then"
    )


class Leg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    option_type: OptionType
    strike: StrikeSelection
    expiry: ExpirySelection
    lots: int = Field(default=1, ge=1, le=100, description="Ratio: lots of this leg per allocated lot")
    stop_loss: LegStopLoss | None = None
    re_entry: ReEntry | None = Field(
        default=None, description="enter this leg again after its stop-loss (needs `stop_loss`)"
    )
    wait_and_trade: WaitAndTrade | None = Field(
        default=None, description="enter this leg only once its premium has moved (scheduled entry only)"
    )


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

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [{"activate_at": 2000, "trail_by": 800}]}
    )

    activate_at: Rupees
    trail_by: Rupees


class RiskRules(BaseModel):
    """MTM rules in rupees (realised + marked, across brokers): a strategy's own, a basket's or
    the user's (portfolio exits). Each optional; none set: no rule."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"mtm_stop_loss": 4000, "mtm_target": 6000},
                {"trailing_stop_loss": {"activate_at": 2000, "trail_by": 800}},
            ]
        },
    )

    mtm_stop_loss: Rupees | None = None
    mtm_target: Rupees | None = None
    trailing_stop_loss: TrailingStopLoss | None = None


class MoveToCost(BaseModel):
    """Move the stop-loss of every leg still open to its entry price (cost): once any leg's
    stop-loss fires (`after_leg_stop`), and/or once the strategy's MTM reaches `at_profit`. Only
    legs with their own stop-loss move: a hedge without one keeps none."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"after_leg_stop": True}, {"after_leg_stop": False, "at_profit": 3000}]
        },
    )

    after_leg_stop: bool = Field(default=True, description="once any leg's stop-loss fires")
    at_profit: Rupees | None = Field(default=None, description="once the strategy's MTM reaches this")


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
    re_entry: ReEntry | None = Field(
        default=None, description="enter every leg again after the strategy's stop-loss or target exit"
    )
    move_to_cost: MoveToCost | None = Field(
        default=None, description="move the legs' stop-losses to their entry prices"
    )


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
    re_entry: ReEntry | None = None
    move_to_cost: MoveToCost | None = None

    def changes(self) -> dict[str, Any]:
        """Fields the caller set; null means "unchanged" except for the optional rules (`exit`,
        `re_entry`, `move_to_cost`), where it removes them (every other field is required)."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if name != "version" and (getattr(self, name) is not None or name in _REMOVABLE)
        }


_REMOVABLE = frozenset({"exit", "re_entry", "move_to_cost"})


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
    re_entry: ReEntry | None = None
    move_to_cost: MoveToCost | None = None
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
    issues += builder_issues(strategy, session.close.time() if session is not None else None)
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


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def builder_issues(strategy: StrategyCreate | Strategy, closes: time | None) -> list[FieldIssue]:
    """Re-entry, wait-and-trade and move-to-cost settings that could never act: re-entry on a
    strategy that holds overnight (its day never ends on its own), a cut-off outside the time the
    strategy is in the market, a leg re-entry without the leg stop-loss that triggers it, a
    wait that outlasts the day, a move to cost after a leg stop no leg has."""
    issues: list[FieldIssue] = []
    exit_ = strategy.exit
    intraday = strategy.product is Product.MIS and exit_ is not None and exit_.days_before_expiry is None
    last = exit_.time if intraday and exit_ is not None else closes
    entry = strategy.entry.time

    def cut_off(field: str, rule: ReEntry) -> None:
        if not intraday:
            issues.append(FieldIssue(field, "re-entry needs an intraday strategy (MIS, exit on the day)"))
        elif not entry < rule.until <= (last or rule.until):
            window = f"after the entry at {entry:%H:%M}" + (
                f" and by the exit at {last:%H:%M}" if last else ""
            )
            issues.append(FieldIssue(f"{field}.until", f"must be {window}"))

    if strategy.re_entry is not None:
        cut_off("re_entry", strategy.re_entry)
    for index, leg in enumerate(strategy.legs):
        field = f"legs.{index}"
        if leg.re_entry is not None:
            if leg.stop_loss is None:
                issues.append(
                    FieldIssue(f"{field}.re_entry", "a leg re-enters after its stop-loss: set stop_loss")
                )
            if ReEntryAfter.TARGET in leg.re_entry.after:
                issues.append(FieldIssue(f"{field}.re_entry.after", "a leg has no target: only STOP_LOSS"))
            cut_off(f"{field}.re_entry", leg.re_entry)
        wait = leg.wait_and_trade
        if wait is not None:
            if (
                wait.kind is StopLossKind.PERCENT
                and wait.direction is MoveDirection.DOWN
                and wait.value >= 100
            ):
                issues.append(
                    FieldIssue(f"{field}.wait_and_trade.value", "a premium cannot fall 100% or more")
                )
            if last is not None and _minutes(entry) + wait.timeout_minutes > _minutes(last):
                issues.append(
                    FieldIssue(
                        f"{field}.wait_and_trade.timeout_minutes",
                        f"the wait must end by {last:%H:%M} (the exit, or the close)",
                    )
                )
    move = strategy.move_to_cost
    if move is not None:
        if not move.after_leg_stop and move.at_profit is None:
            issues.append(FieldIssue("move_to_cost", "set after_leg_stop or at_profit"))
        if move.after_leg_stop and all(leg.stop_loss is None for leg in strategy.legs):
            issues.append(FieldIssue("move_to_cost.after_leg_stop", "no leg has a stop-loss to fire"))
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
