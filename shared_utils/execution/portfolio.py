"""Portfolio exits: an MTM stop-loss, target and trailing stop over all of the day's strategies of
a basket (`Basket.risk`) or of the user (`RiskSettings.risk`). When one is hit, every strategy
under it goes flat through the same serialized exit path as the kill switch: an EXIT run per
strategy, with a PORTFOLIO_* reason (which ends the strategy's day: no entry, no re-entry after it),
including the strategies with nothing open yet, so that they do not enter later that day.

The minute's check (`exits.PositionStopLossMonitor.check_partition`) asks `PortfolioMonitor.judge`
first; the strategies it decides get no other decision that minute.

- What is judged: a scope holding an open position in the partition (its MTM can move) whose
  rules the trader set. Its MTM is the day's, across its strategies: realised and marked P&L of
  every position entered that day (closed ones included) plus every position still open (carried
  over from an earlier day). It is read from the table for each user with a rule, each minute
  (`day_positions`: the day's ledger, then its positions, strongly consistent); open ones are marked
  at the partition's prices. A scope with
  an open position lacking a fresh price is not judged that minute (no decision on a stale value).
- Order: the user's scope first (when hit, it decides every strategy of the user); then each basket.
  Within a scope: stop-loss, target, trailing stop (the day's peak kept like a strategy's, written
  only on a new high).
- Exactly once: the scope's exit is a marker on its day's item, written with a condition (the
  first writer wins, recording reason, MTM and minute); only the writer queues the exits, and marks
  them queued once the queue took them. A later minute that finds the marker not queued (the queue
  failed, the process died in between) queues them all again; one that finds it queued queues the
  exit again only for a strategy of the scope still holding an open position (an order rejected,
  an entry that filled after the exit), as the minute's check does for a pressed kill switch. A
  check of the same minute (a redelivered CHECK run, a second executor) queues nothing. Exits
  queued twice close nothing twice: the executor's lease and the engine's ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared_utils.brokers.models import OptionInstrument
from shared_utils.errors import NotFoundError
from shared_utils.execution.marking import PriceSource, mark_positions
from shared_utils.execution.models import ExitReason, Money, PositionView
from shared_utils.execution.runs import RunKind, StrategyRun
from shared_utils.models.risk import PortfolioRules, RiskSettings
from shared_utils.models.strategy import RiskRules, Strategy

logger = Logger(child=True)

ZERO = Decimal("0")
_PAGE = 100  # strategies read per page when a scope's exits are queued


class PortfolioScope(BaseModel):
    """The user's portfolio (`basket_id` None) or one of the user's baskets."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    basket_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.user_id}/" + (f"basket {self.basket_id}" if self.basket_id else "all strategies")


class PortfolioExit(BaseModel):
    """A scope's exit of the day: what fired, at what MTM, in which minute, and when its exits were
    handed to the executors (None: not yet, a later minute queues them)."""

    model_config = ConfigDict(frozen=True)

    reason: ExitReason
    mtm: Money
    at: AwareDatetime = Field(description="the minute it fired")
    queued_at: AwareDatetime | None = None


class PortfolioState(BaseModel):
    """A scope's day as stored: its trailing peak and its exit."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    basket_id: str | None = Field(default=None, description="None: across all of the user's strategies")
    trade_date: date
    peak: Money | None = Field(default=None, description="the day's highest MTM (trailing stop only)")
    exit: PortfolioExit | None = None

    @property
    def scope(self) -> PortfolioScope:
        return PortfolioScope(user_id=self.user_id, basket_id=self.basket_id)


class RiskSettingsView(RiskSettings):
    """The user's portfolio rules with the day's portfolio state: each scope's trailing peak and exit."""

    trade_date: date = Field(description="Today (IST)")
    today: list[PortfolioState] = Field(
        default_factory=list,
        description="Today's portfolio scopes that stored something: a trailing peak, an exit (its reason, "
        "the MTM it fired at, the minute, and when its exits were queued)",
    )


class Verdict(NamedTuple):
    reason: ExitReason | None
    new_peak: Decimal | None  # to store: a new high of a trailing scope


def judge(risk: RiskRules, value: Decimal, stored_peak: Decimal | None) -> Verdict:
    """A scope's rules against its MTM (pure): stop-loss, then target, then trailing stop."""
    new_peak = None
    if risk.trailing_stop_loss is not None and (stored_peak is None or value > stored_peak):
        new_peak = value
    if risk.mtm_stop_loss is not None and value <= -risk.mtm_stop_loss:
        return Verdict(ExitReason.PORTFOLIO_STOP_LOSS, new_peak)
    if risk.mtm_target is not None and value >= risk.mtm_target:
        return Verdict(ExitReason.PORTFOLIO_TARGET, new_peak)
    trail = risk.trailing_stop_loss
    if trail is not None:
        peak = value if stored_peak is None else max(stored_peak, value)
        if peak >= trail.activate_at and value <= peak - trail.trail_by:
            return Verdict(ExitReason.PORTFOLIO_TRAILING_STOP_LOSS, new_peak)
    return Verdict(None, new_peak)


def value_of(position: PositionView) -> Decimal:
    return position.realised_pnl + (position.unrealised_pnl or ZERO)


class PortfolioDays(Protocol):
    """What the portfolio check reads and writes in the execution history."""

    def day_positions(
        self, user_id: str, trade_date: date, held: Iterable[str] = ()
    ) -> list[PositionView]: ...
    def portfolio_states(
        self, scopes: Iterable[PortfolioScope], trade_date: date
    ) -> dict[PortfolioScope, PortfolioState]: ...
    def raise_portfolio_peak(self, scope: PortfolioScope, trade_date: date, mtm: Decimal) -> None: ...
    def mark_portfolio_exit(self, scope: PortfolioScope, trade_date: date, exit_: PortfolioExit) -> bool: ...
    def portfolio_exit_queued(self, scope: PortfolioScope, trade_date: date, at: datetime) -> None: ...


class PortfolioConfig(Protocol):
    """What it reads of the trading configuration: the rules, and the strategies under a scope."""

    def portfolio_rules(
        self, user_ids: Iterable[str], baskets: Iterable[tuple[str, str]]
    ) -> PortfolioRules: ...
    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]: ...
    def list_strategies(
        self, user_id: str, basket_id: str | None = None, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[Strategy], str | None]: ...


@dataclass
class PortfolioMinute:
    """One partition's portfolio decisions in one minute."""

    tick: datetime
    trade_date: date
    exits: dict[tuple[str, str], StrategyRun] = field(default_factory=dict)  # by (user, strategy)
    decided: set[tuple[str, str]] = field(default_factory=set)  # no other decision this minute
    queued: list[PortfolioScope] = field(default_factory=list)  # to mark queued once sent

    @property
    def runs(self) -> list[StrategyRun]:
        return list(self.exits.values())

    def exit(self, user_id: str, strategy_id: str, reason: ExitReason) -> None:
        self.exits.setdefault(
            (user_id, strategy_id),
            StrategyRun(
                kind=RunKind.EXIT,
                user_id=user_id,
                strategy_id=strategy_id,
                trade_date=self.trade_date,
                scheduled_at=self.tick,
                reason=reason,
            ),
        )


@dataclass
class _Book:
    """One user's day, per strategy."""

    value: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    stale: set[str] = field(default_factory=set)  # an open position without a fresh price
    open: set[str] = field(default_factory=set)  # holding an open position in the partition


class _PartitionPrices:
    """The prices the partition's positions were just marked at; the source for any other contract."""

    def __init__(self, known: Mapping[OptionInstrument, Decimal], source: PriceSource) -> None:
        self._known = known
        self._source = source

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        known = self._known.get(instrument)
        return known if known is not None else self._source.price(instrument)


class PortfolioMonitor:
    def __init__(self, store: PortfolioDays, config: PortfolioConfig, prices: PriceSource) -> None:
        self._store = store
        self._config = config
        self._prices = prices

    def judge(
        self,
        groups: Mapping[tuple[str, str], Sequence[PositionView]],
        strategies: Mapping[tuple[str, str], Strategy],
        unpriced: set[str],
        tick: datetime,
        trade_date: date,
    ) -> PortfolioMinute:
        """The exits the portfolio rules of the partition's users and baskets call for this minute.
        `groups`: the partition's open positions, marked, by (user, strategy); `unpriced`: the
        position keys left without a fresh price; `strategies`: those of `groups` that exist."""
        minute = PortfolioMinute(tick=tick, trade_date=trade_date)
        users = sorted({user for user, _ in groups})
        baskets = sorted({(user, strategy.basket_id) for (user, _), strategy in strategies.items()})
        rules = self._config.portfolio_rules(users, baskets)
        ruled = sorted(set(rules.users) | {user for user, _ in rules.baskets})
        if not ruled:
            return minute
        scopes = [PortfolioScope(user_id=user) for user in rules.users] + [
            PortfolioScope(user_id=user, basket_id=basket) for user, basket in rules.baskets
        ]
        states = self._store.portfolio_states(scopes, trade_date)
        books = {user: self._book(user, groups, unpriced, trade_date) for user in ruled}
        basket_of = {pair: strategy.basket_id for pair, strategy in strategies.items()}
        missing = [
            (user, strategy_id)
            for user in sorted({user for user, _ in rules.baskets})
            for strategy_id in sorted(books[user].value)
            if (user, strategy_id) not in basket_of
        ]
        if missing:  # strategies that closed today: their basket still counts their P&L
            basket_of |= {pair: s.basket_id for pair, s in self._config.get_strategies(missing).items()}
        for user in ruled:
            book = books[user]
            traded = set(book.value) | book.open
            if user in rules.users:
                scope = PortfolioScope(user_id=user)
                if self._scope(minute, scope, rules.users[user], states.get(scope), traded, book):
                    continue  # the user's exit decides every strategy of the user
            for (owner, basket_id), risk in sorted(rules.baskets.items()):
                if owner != user:
                    continue
                members = {s for s in traded if basket_of.get((user, s)) == basket_id}
                scope = PortfolioScope(user_id=user, basket_id=basket_id)
                self._scope(minute, scope, risk, states.get(scope), members, book)
        return minute

    def sent(self, minute: PortfolioMinute) -> None:
        """The queue took the minute's runs: the scopes whose exits they carry are marked queued."""
        for scope in minute.queued:
            self._store.portfolio_exit_queued(scope, minute.trade_date, minute.tick)

    def _book(
        self,
        user_id: str,
        groups: Mapping[tuple[str, str], Sequence[PositionView]],
        unpriced: set[str],
        trade_date: date,
    ) -> _Book:
        """The user's day from the table (strongly consistent: a close of a moment ago counts),
        the open positions marked at the partition's prices."""
        book = _Book()
        known: dict[OptionInstrument, Decimal] = {}
        held: list[str] = []
        for (user, strategy_id), positions in groups.items():
            if user != user_id:
                continue
            book.open.add(strategy_id)
            for position in positions:
                held.append(position.position_sk)
                if position.position_sk not in unpriced and position.last_price is not None:
                    known[position.instrument] = position.last_price
        stale: set[str] = set()
        day = self._store.day_positions(user_id, trade_date, held)
        for position in mark_positions(day, _PartitionPrices(known, self._prices), stale):
            book.value[position.strategy_id] += value_of(position)
            if position.position_sk in stale:
                book.stale.add(position.strategy_id)
        return book

    def _scope(
        self,
        minute: PortfolioMinute,
        scope: PortfolioScope,
        risk: RiskRules,
        state: PortfolioState | None,
        members: set[str],
        book: _Book,
    ) -> bool:
        """Judge one scope; True when it decides its strategies this minute (hit now or earlier)."""
        holding = sorted(s for s in book.open if s in members)
        done = state.exit if state is not None else None
        if done is not None:
            minute.decided.update((scope.user_id, s) for s in holding)
            if minute.tick > done.at:
                if done.queued_at is None:  # the minute that fired it could not queue its exits
                    self._queue_scope(minute, scope, done.reason, members)
                else:  # still open after its exit: closed again (a follow-up run closes the rest)
                    for strategy_id in holding:
                        minute.exit(scope.user_id, strategy_id, done.reason)
            return True
        if not holding or members & book.stale:
            return False  # nothing that moves, or no decision on a stale value
        value = sum((book.value.get(s, ZERO) for s in members), ZERO)
        verdict = judge(risk, value, state.peak if state is not None else None)
        if verdict.new_peak is not None:
            self._store.raise_portfolio_peak(scope, minute.trade_date, verdict.new_peak)
        if verdict.reason is None:
            return False
        minute.decided.update((scope.user_id, s) for s in holding)
        fired = PortfolioExit(reason=verdict.reason, mtm=value, at=minute.tick)
        if self._store.mark_portfolio_exit(scope, minute.trade_date, fired):
            logger.warning(
                "Portfolio exit",
                extra={"scope": scope.label, "reason": verdict.reason.value, "mtm": str(value)},
            )
            self._queue_scope(minute, scope, verdict.reason, members)
        return True

    def _queue_scope(
        self, minute: PortfolioMinute, scope: PortfolioScope, reason: ExitReason, members: set[str]
    ) -> None:
        """An exit for every strategy under the scope: those traded today and every other one
        (nothing open yet: its exit, even an empty one, keeps it from entering later that day)."""
        under = set(members) | {s.strategy_id for s in self._strategies_under(scope)}
        for strategy_id in sorted(under):
            minute.exit(scope.user_id, strategy_id, reason)
        minute.queued.append(scope)

    def _strategies_under(self, scope: PortfolioScope) -> list[Strategy]:
        found: list[Strategy] = []
        token: str | None = None
        try:
            while True:
                page, token = self._config.list_strategies(scope.user_id, scope.basket_id, _PAGE, token)
                found += page
                if not token:
                    return found
        except NotFoundError:  # the basket was deleted meanwhile: what it traded today still goes
            return found
