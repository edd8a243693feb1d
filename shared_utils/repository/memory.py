"""The strategies a backtest runs, in memory: the read side of the trading repository (what the
execution service, the stop-loss check and the timer's trigger read) over a fixed set of
strategies with their effective allocations, as `DynamoTradingRepository` serves them.

Schedule entries are projected from each strategy with the repository's own `schedule_items`
and matched to a window with its `DueWindow`, so an entry falls due at the same minute in a
backtest as in a live session; `tests/integration/repository/test_memory_contract.py` reads the
same strategies through both."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from shared_utils.clock import to_ist
from shared_utils.errors import NotFoundError
from shared_utils.models.common import StrategyStatus
from shared_utils.models.items import ScheduleItem, schedule_items
from shared_utils.models.risk import PortfolioRules, has_rules
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.models.strategy import Strategy
from shared_utils.models.views import StrategyDetail
from shared_utils.repository.schedule_window import DueWindow

SHARDS = 1  # the shard only spreads DynamoDB reads; in memory every entry is in one list


class InMemoryStrategies:
    def __init__(self, details: Sequence[StrategyDetail]) -> None:
        self._details = {(d.strategy.user_id, d.strategy.strategy_id): d for d in details}
        self._items: dict[str, list[ScheduleItem]] = {}  # UTC HHMM -> entries due at that minute
        for detail in details:
            for item in schedule_items(detail.strategy, SHARDS):
                self._items.setdefault(item.at_utc, []).append(item)

    @property
    def details(self) -> list[StrategyDetail]:
        return list(self._details.values())

    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy:
        return self.get_strategy_with_allocations(user_id, strategy_id).strategy

    def get_strategy_with_allocations(self, user_id: str, strategy_id: str) -> StrategyDetail:
        detail = self._details.get((user_id, strategy_id))
        if detail is None:
            raise NotFoundError(f"strategy {strategy_id} not found")
        return detail

    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        return {pair: self._details[pair].strategy for pair in dict.fromkeys(wanted) if pair in self._details}

    def statuses_of(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StrategyStatus]:
        return {pair: strategy.status for pair, strategy in self.get_strategies(wanted).items()}

    def due_schedule_entries(self, start: datetime, end: datetime) -> list[ScheduleEntry]:
        window = DueWindow.of(start, end)
        if window is None:
            return []
        due: list[ScheduleEntry] = []
        for first, last in window.hhmm_ranges():
            for hhmm in sorted(h for h in self._items if first <= h <= last):
                for item in self._items[hhmm]:
                    due_at = window.due_at(item.at_utc)
                    if due_at is not None and item.to_domain().fires_on(to_ist(due_at).weekday()):
                        due.append(item.to_domain(due_at))
        due.sort(key=lambda entry: (entry.due_at, entry.kind.value, entry.user_id, entry.strategy_id))
        return due


class InMemoryPortfolioRules:
    """The portfolio rules a backtest runs with (the baskets' and the users'), over its strategies:
    what the minute's portfolio check reads of the trading repository."""

    def __init__(self, strategies: InMemoryStrategies, rules: PortfolioRules) -> None:
        self._strategies = strategies
        self._rules = rules

    def portfolio_rules(self, user_ids: Iterable[str], baskets: Iterable[tuple[str, str]]) -> PortfolioRules:
        users = {user: self._rules.users[user] for user in user_ids if user in self._rules.users}
        found = {pair: self._rules.baskets[pair] for pair in baskets if pair in self._rules.baskets}
        return PortfolioRules(
            users={u: r for u, r in users.items() if has_rules(r)},
            baskets={pair: r for pair, r in found.items() if has_rules(r)},
        )

    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        return self._strategies.get_strategies(wanted)

    def list_strategies(
        self, user_id: str, basket_id: str | None = None, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[Strategy], str | None]:
        """Every strategy of the user (or of one basket of the user's) in one page."""
        return [
            detail.strategy
            for detail in self._strategies.details
            if detail.strategy.user_id == user_id
            and (basket_id is None or detail.strategy.basket_id == basket_id)
        ], None
