"""Planning (pure): a due strategy + action + trade date -> the exact orders to place.

- Each leg resolves to one contract: its expiry from the calendar (`expiry_for`), its strike from
  the market snapshot's option chain (ATM offset, closest premium, premium at least / at most,
  delta, straddle width or fixed).
- The scheduled entry leaves wait-and-trade legs out (listed, with their prices, as `waiting`);
  a re-entry or a waiting leg is planned as a run of its own (`run_name`, its legs, its cycle).
- Quantity = leg lots x the allocation's lots x the lot size of *that contract*
  (`spec_for(underlying, expiry)`: listed contracts keep their lot after a revision).
- Orders above the freeze quantity are cut into slices of whole lots; where the freeze quantity
  is unknown, at the data's conservative default (`ContractSpec.max_lots_per_order`), never unsliced.
- Entry: per broker account, buy legs before sell legs (the hedge first, for margin);
  exit: the reverse (short legs are bought back before long legs are sold).
A strike that cannot be resolved makes the whole strategy unresolved (nothing is entered) with
the reason, never a guessed strike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from shared_utils import keys
from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.tag import order_key
from shared_utils.errors import (
    ConfigurationError,
    DomainError,
    InvalidInputError,
    MarketDataUnavailableError,
    NoFreshQuoteError,
)
from shared_utils.execution.models import (
    ExecutionPlan,
    ExitReason,
    PlannedOrder,
    PositionView,
    WatchedContract,
)
from shared_utils.execution.run_names import ENTRY_RUN, exit_run_name
from shared_utils.keys import ScheduleKind
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import ExpiryKind, expiry_for
from shared_utils.market.options import Action
from shared_utils.market.options import OptionType as ChainOptionType
from shared_utils.market.specs import SpecTable, default_specs
from shared_utils.market.strikes import (
    OptionChain,
    fixed_strike,
    strike_at_offset,
    strike_by_delta,
    strike_by_premium,
    strike_by_premium_at_least,
    strike_by_premium_at_most,
    strike_by_straddle_width,
)
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import InstrumentListing
from shared_utils.models.allocation import NO_ALLOCATION_REASON, BrokerAllocation, split_lots
from shared_utils.models.common import StrikeMethod
from shared_utils.models.strategy import Leg, Strategy


class MarketSnapshot(Protocol):
    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        """The option chain of one expiry, or None when the market has no data for it."""
        ...


class LegContract:
    """A leg resolved to the contract it trades, with that contract's lot and freeze limit."""

    def __init__(
        self, leg_no: int, leg: Leg, instrument: OptionInstrument, lot_size: int, max_lots: int
    ) -> None:
        self.leg_no = leg_no
        self.leg = leg
        self.instrument = instrument
        self.lot_size = lot_size
        self.max_lots_per_order = max_lots


def slice_lots(lots: int, max_lots_per_order: int) -> list[int]:
    """Whole-lot slices no larger than the freeze limit (as few as possible, sizes within 1)."""
    return split_lots(lots, max_lots_per_order)


def _strike(chain: OptionChain, leg: Leg, strike_step: float) -> float:
    option_type = ChainOptionType(leg.option_type.value)
    selection = leg.strike
    if selection.method is StrikeMethod.ATM_OFFSET:
        return strike_at_offset(chain, selection.steps or 0, step=strike_step)
    if selection.method is StrikeMethod.PREMIUM:
        assert selection.target_premium is not None
        return strike_by_premium(chain, option_type, float(selection.target_premium))
    if selection.method is StrikeMethod.PREMIUM_AT_LEAST:
        assert selection.target_premium is not None
        return strike_by_premium_at_least(chain, option_type, float(selection.target_premium))
    if selection.method is StrikeMethod.PREMIUM_AT_MOST:
        assert selection.target_premium is not None
        return strike_by_premium_at_most(chain, option_type, float(selection.target_premium))
    if selection.method is StrikeMethod.DELTA:
        assert selection.target_delta is not None
        return strike_by_delta(chain, option_type, selection.target_delta)
    if selection.method is StrikeMethod.STRADDLE_WIDTH:
        assert selection.straddle_multiple is not None
        return strike_by_straddle_width(chain, selection.straddle_multiple, strike_step)
    assert selection.strike is not None
    return fixed_strike(chain, float(selection.strike))


def resolve_legs(
    strategy: Strategy,
    trade_date: date,
    market: MarketSnapshot,
    calendar: TradingCalendar,
    specs: SpecTable | None = None,
    listing: InstrumentListing | None = None,
) -> list[LegContract]:
    """Every leg's contract; raises `MarketDataUnavailableError` with the reason otherwise.

    With the exchange's `listing`, its expiries, lot sizes and strike steps are the truth (an
    expiry moved by an ad-hoc holiday, a revised lot); the rules decide only which kinds an index
    offers. Without one (the simulated source, no listing accepted yet), the rules decide."""
    table = specs or default_specs()
    index = listing.indices.get(Underlying(strategy.underlying)) if listing is not None else None
    contracts: list[LegContract] = []
    for leg_no, leg in enumerate(strategy.legs, start=1):
        kind = ExpiryKind[leg.expiry.value]
        try:
            expiry = expiry_for(strategy.underlying, trade_date, kind, calendar, table)
            spec = table.spec_for(strategy.underlying, expiry)
        except (InvalidInputError, ConfigurationError) as error:
            raise MarketDataUnavailableError(f"leg {leg_no}: {error.message}") from error
        monthly = _is_monthly(
            expiry,
            spec.monthly_rule.nominal_expiry(expiry.year, expiry.month),
            calendar.for_exchange(spec.exchange),
        )
        if index is not None:
            listed = index.of_kind(kind, trade_date)
            if listed is None:
                raise MarketDataUnavailableError(
                    f"leg {leg_no}: the exchange lists no {kind.value} expiry of {strategy.underlying}"
                )
            expiry, monthly = listed.expiry, index.is_monthly(listed.expiry)
            spec = table.spec_for(strategy.underlying, expiry).model_copy(
                update={"lot_size": listed.lot_size, "strike_step": float(listed.strike_step)}
            )
        chain = market.chain(strategy.underlying, expiry)
        if chain is None:
            raise NoFreshQuoteError(
                f"leg {leg_no}: no fresh quote for {strategy.underlying} {expiry.isoformat()}"
            )
        try:
            strike = _strike(chain, leg, spec.strike_step)
        except MarketDataUnavailableError as error:
            raise MarketDataUnavailableError(f"leg {leg_no}: {error.message}") from error
        instrument = OptionInstrument(
            underlying=strategy.underlying,
            expiry=expiry,
            strike=Decimal(str(strike)).quantize(Decimal("0.01")).normalize(),
            option_type=leg.option_type,
            monthly=monthly,
        )
        contracts.append(LegContract(leg_no, leg, instrument, spec.lot_size, spec.max_lots_per_order))
    return contracts


def _is_monthly(expiry: date, nominal_monthly: date, calendar: TradingCalendar) -> bool:
    """Is `expiry` the month's monthly contract (the nominal day, or the day a holiday moved it to)?"""
    if nominal_monthly == expiry:
        return True
    if nominal_monthly < expiry or calendar.is_trading_day(nominal_monthly):
        return False
    return calendar.previous_trading_day(nominal_monthly) == expiry


def _entry_order(contracts: Sequence[LegContract]) -> list[LegContract]:
    return sorted(contracts, key=lambda c: (c.leg.action is not Action.BUY, c.leg_no))


def plan_entry(
    strategy: Strategy,
    allocations: Sequence[BrokerAllocation],
    trade_date: date,
    market: MarketSnapshot,
    calendar: TradingCalendar,
    specs: SpecTable | None = None,
    listing: InstrumentListing | None = None,
    *,
    run_name: str = ENTRY_RUN,
    legs: Collection[int] | None = None,
    cycle: str = "",
    contracts: Mapping[int, OptionInstrument] | None = None,
) -> ExecutionPlan:
    """The entry orders of every allocation, or an unresolved plan with the reason.

    The scheduled entry (`ENTRY`) leaves out the legs that wait and trade and lists them, at
    their contracts' prices now, as the plan's `waiting`. An armed entry (`run_name`) enters only
    `legs`, its positions in `cycle`, on `contracts` where given (the same contract again, or the
    one a wait-and-trade leg watched) and on freshly selected strikes otherwise."""
    base = ExecutionPlan(
        user_id=strategy.user_id,
        strategy_id=strategy.strategy_id,
        action=ScheduleKind.ENTRY,
        run_name=run_name,
        trade_date=trade_date,
    )
    if not allocations:
        return base.model_copy(update={"unresolved_reason": NO_ALLOCATION_REASON})
    try:
        exchange = (specs or default_specs()).spec_for(strategy.underlying, trade_date).exchange
        if calendar.for_exchange(exchange).session(trade_date) is None:
            # The timer runs while any exchange trades; this index's exchange may be shut.
            reason = f"{exchange.value} has no session on {trade_date.isoformat()} (a holiday)"
            return base.model_copy(update={"unresolved_reason": reason})
        resolved = resolve_legs(strategy, trade_date, market, calendar, specs, listing)
        waiting: list[WatchedContract] = []
        if legs is None:
            waiting = [_watched(c, market) for c in resolved if c.leg.wait_and_trade is not None]
            legs = [c.leg_no for c in resolved if c.leg.wait_and_trade is None]
        chosen = [_on(c, (contracts or {}).get(c.leg_no)) for c in resolved if c.leg_no in legs]
    except NoFreshQuoteError as error:
        return base.model_copy(update={"unresolved_reason": error.message, "no_fresh_quote": True})
    except DomainError as error:
        return base.model_copy(update={"unresolved_reason": error.message})
    orders: list[PlannedOrder] = []
    for allocation in allocations:
        for contract in _entry_order(chosen):
            lots = contract.leg.lots * allocation.lots
            for slice_no, slice_lots_ in enumerate(slice_lots(lots, contract.max_lots_per_order), start=1):
                orders.append(
                    PlannedOrder(
                        order_key=order_key(
                            trade_date,
                            strategy.strategy_id,
                            run_name,
                            allocation.broker_account_id,
                            contract.leg_no,
                            slice_no,
                        ),
                        broker_account_id=allocation.broker_account_id,
                        broker=allocation.broker,
                        leg_no=contract.leg_no,
                        slice_no=slice_no,
                        instrument=contract.instrument,
                        side=contract.leg.action,
                        lots=slice_lots_,
                        lot_size=contract.lot_size,
                        quantity=slice_lots_ * contract.lot_size,
                        product=strategy.product,
                        position_sk=keys.position_sk(
                            strategy.strategy_id,
                            trade_date,
                            allocation.broker_account_id,
                            contract.leg_no,
                            cycle,
                        ),
                    )
                )
    # An expiry in a year without an official holiday list may still move: the record says so.
    provisional = any(calendar.is_provisional(contract.instrument.expiry) for contract in resolved)
    update: dict[str, object] = {"orders": orders, "provisional_calendar": provisional, "waiting": waiting}
    if not orders and waiting:
        legs_waiting = ", ".join(str(w.leg_no) for w in waiting)
        update["unresolved_reason"] = (
            f"every leg waits to trade (legs {legs_waiting}): each enters once its premium moves"
        )
    return base.model_copy(update=update)


def _on(contract: LegContract, instrument: OptionInstrument | None) -> LegContract:
    """The leg on `instrument` (a contract it traded or watched this day) instead of the strike
    selected now; the contract's lot and freeze limit are the same (same expiry, same day)."""
    if instrument is None or instrument == contract.instrument:
        return contract
    return LegContract(
        contract.leg_no, contract.leg, instrument, contract.lot_size, contract.max_lots_per_order
    )


def _watched(contract: LegContract, market: MarketSnapshot) -> WatchedContract:
    """A wait-and-trade leg's contract at its price now (the reference its move is measured from)."""
    instrument = contract.instrument
    chain = market.chain(instrument.underlying, instrument.expiry)
    price = premium_at(chain, instrument) if chain is not None else None
    if price is None:
        raise NoFreshQuoteError(f"leg {contract.leg_no}: no price for {instrument} to wait and trade from")
    return WatchedContract(
        leg_no=contract.leg_no,
        instrument=instrument,
        side=contract.leg.action,
        price=price,
        units=contract.leg.lots,
    )


def premium_at(chain: OptionChain, instrument: OptionInstrument) -> Decimal | None:
    """The chain's premium of one contract (None: not listed, or no price)."""
    import math

    strikes = list(chain.strikes)
    strike = float(instrument.strike)
    if strike not in strikes:
        return None
    value = float(chain.premiums(ChainOptionType(instrument.option_type.value))[strikes.index(strike)])
    return None if math.isnan(value) or value <= 0 else Decimal(str(value)).quantize(Decimal("0.01"))


def plan_exit(
    user_id: str,
    strategy_id: str,
    positions: Sequence[PositionView],
    trade_date: date,
    reason: ExitReason,
    *,
    leg_no: int | None = None,
    specs: SpecTable | None = None,
    run_name: str | None = None,
) -> ExecutionPlan:
    """Orders that close exactly the open quantities, per broker account, in reverse entry order
    (short legs bought back before long legs are sold). `leg_no` closes one leg only; `run_name`
    names a follow-up run (its own order keys)."""
    table = specs or default_specs()
    run_name = run_name or exit_run_name(leg_no)
    open_positions = [
        p
        for p in positions
        if p.net_quantity != 0 and p.strategy_id == strategy_id and (leg_no is None or p.leg_no == leg_no)
    ]
    accounts = list(dict.fromkeys(p.broker_account_id for p in open_positions))
    orders: list[PlannedOrder] = []
    for account in accounts:
        mine = [p for p in open_positions if p.broker_account_id == account]
        # Entry placed longs (leg order) then shorts; exit closes shorts first, each in reverse.
        mine.sort(key=lambda p: (p.net_quantity > 0, -p.leg_no, p.entry_date))
        next_slice: dict[int, int] = {}
        for position in mine:
            spec = table.spec_for(position.instrument.underlying, position.instrument.expiry)
            units = abs(position.net_quantity)
            lots, odd = divmod(units, spec.lot_size)
            lot_size, max_lots = spec.lot_size, spec.max_lots_per_order
            if odd:  # not whole lots (an outside fill): close it unit by unit within the freeze limit
                lots, lot_size, max_lots = units, 1, spec.max_quantity_per_order
            side = Action.BUY if position.net_quantity < 0 else Action.SELL
            for lots_in_slice in slice_lots(lots, max_lots):
                slice_no = next_slice.get(position.leg_no, 0) + 1
                next_slice[position.leg_no] = slice_no
                orders.append(
                    PlannedOrder(
                        order_key=order_key(
                            trade_date, strategy_id, run_name, account, position.leg_no, slice_no
                        ),
                        broker_account_id=account,
                        broker=position.broker,
                        leg_no=position.leg_no,
                        slice_no=slice_no,
                        instrument=position.instrument,
                        side=side,
                        lots=lots_in_slice,
                        lot_size=lot_size,
                        quantity=lots_in_slice * lot_size,
                        product=position.product,
                        position_sk=position.position_sk,
                    )
                )
    return ExecutionPlan(
        user_id=user_id,
        strategy_id=strategy_id,
        action=ScheduleKind.EXIT,
        run_name=run_name,
        trade_date=trade_date,
        reason=reason,
        orders=orders,
    )
