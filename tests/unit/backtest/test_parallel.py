"""Intraday days split over processes give the very result the days give run in order."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest

from local_platform.backtest import demo_details
from shared_utils.backtest import service
from shared_utils.backtest.runner import BacktestRequest
from shared_utils.backtest.service import run_backtest


def test_two_processes_give_the_result_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[int] = []

    def counted(workers: int, **options: Any) -> ProcessPoolExecutor:
        pools.append(workers)
        return ProcessPoolExecutor(workers, **options)

    monkeypatch.setattr(service, "ProcessPoolExecutor", counted)
    details = demo_details(datetime(2026, 11, 1, tzinfo=UTC))[:1]
    request = BacktestRequest(start=date(2026, 11, 2), end=date(2026, 11, 16), seed=11)

    in_order = run_backtest(details, request)
    split = run_backtest(details, request, workers=2)

    assert pools == [2] and len(in_order.days) == 10 and in_order.summary.days_traded == 10
    assert split.model_dump() == in_order.model_dump()
