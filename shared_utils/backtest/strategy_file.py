"""Strategies for a backtest from a JSON file: each strategy's body as the API takes it
(`POST /options/baskets/{id}/strategies`) and its lots per broker account, checked by the same
models and schedule rules, so a file that backtests is a file the platform would trade.

    {"strategies": [{"strategy": {...StrategyCreate...},
                     "allocations": [{"broker_account_id": "zerodha-1", "broker": "ZERODHA", "lots": 2}]}],
     "portfolio": {"basket": {...RiskRules...}, "user": {...RiskRules...}}}

The file's strategies form one basket of one user: `portfolio` (optional) holds that basket's and
that user's portfolio rules, judged every minute as live (docs/portfolio-exits.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared_utils.errors import FieldIssue, InvalidInputError
from shared_utils.models.allocation import BrokerAllocation, EffectiveAllocations
from shared_utils.models.common import AllocationScope
from shared_utils.models.risk import PortfolioRules, has_rules
from shared_utils.models.strategy import RiskRules, Strategy, StrategyCreate, builder_issues, schedule_issues
from shared_utils.models.views import StrategyDetail

BACKTEST_USER = "backtest"
BACKTEST_BASKET = "backtest"


class FileAllocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker_account_id: str = Field(min_length=1, max_length=64)
    broker: str = "PAPER"
    lots: int = Field(ge=1, le=1000)


class FileStrategy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: StrategyCreate
    allocations: list[FileAllocation] = Field(min_length=1)


class FilePortfolio(BaseModel):
    model_config = ConfigDict(extra="forbid")

    basket: RiskRules = Field(default_factory=RiskRules)
    user: RiskRules = Field(default_factory=RiskRules)

    def rules(self) -> PortfolioRules:
        return PortfolioRules(
            users={BACKTEST_USER: self.user} if has_rules(self.user) else {},
            baskets={(BACKTEST_USER, BACKTEST_BASKET): self.basket} if has_rules(self.basket) else {},
        )


class StrategyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategies: list[FileStrategy] = Field(min_length=1, max_length=100)
    portfolio: FilePortfolio = Field(default_factory=FilePortfolio)


def read_strategy_file(text: str) -> StrategyFile:
    """The file, checked; InvalidInputError naming the field of each problem."""
    try:
        return StrategyFile.model_validate_json(text)
    except ValidationError as error:
        issues = [FieldIssue(".".join(str(p) for p in e["loc"]), e["msg"]) for e in error.errors()]
        raise InvalidInputError("the strategies file is not valid", issues[:20]) from error


def details_of(entries: Sequence[FileStrategy], created_at: datetime) -> list[StrategyDetail]:
    details: list[StrategyDetail] = []
    for number, entry in enumerate(entries, start=1):
        strategy_id = f"s{number}"
        issues = schedule_issues(entry.strategy) + builder_issues(entry.strategy, None)
        if issues:
            prefixed = [FieldIssue(f"strategies.{number - 1}.strategy.{i.field}", i.issue) for i in issues]
            raise InvalidInputError("a strategy's schedule is not valid", prefixed)
        strategy = Strategy(
            strategy_id=strategy_id,
            user_id=BACKTEST_USER,
            basket_id=BACKTEST_BASKET,
            version=1,
            created_at=created_at,
            updated_at=created_at,
            allocation_count=len(entry.allocations),
            **dict(entry.strategy),
        )
        allocations = [
            BrokerAllocation(
                allocation_id=f"{strategy_id}-a{n}",
                user_id=BACKTEST_USER,
                scope=AllocationScope.STRATEGY,
                scope_id=strategy_id,
                basket_id=BACKTEST_BASKET,
                broker_account_id=a.broker_account_id,
                broker=a.broker,
                lots=a.lots,
                version=1,
                created_at=created_at,
                updated_at=created_at,
            )
            for n, a in enumerate(entry.allocations, start=1)
        ]
        details.append(
            StrategyDetail(
                strategy=strategy,
                allocations=EffectiveAllocations(source=AllocationScope.STRATEGY, allocations=allocations),
            )
        )
    return details
