"""The local timer's routing: every detail-type reaches exactly the handler module its EventBridge
rule targets, and a handler that raises is reported with its event while the others still run."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

from local_platform.clocks import ReplayClock
from local_platform.timer import Delivery, LocalPublisher, RuleRouter, TimerLoop, rules
from shared_utils.events.catalog import HANDLER_MODULES, DetailType
from shared_utils.timer.calendar_view import CalendarMarketView


def _recording(calls: list[tuple[str, str]], module: str, fail: bool = False) -> Any:
    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        calls.append((module, event["detail-type"]))
        if fail:
            raise RuntimeError("boom")
        return {"status": "processed"}

    return handler


def test_each_detail_type_goes_to_its_rule_target_and_a_crash_does_not_stop_the_session() -> None:
    calls: list[tuple[str, str]] = []
    modules = {route.module for route in rules()}
    assert modules == set(HANDLER_MODULES.values())
    failing = HANDLER_MODULES[DetailType.CHECK_DUPLICATE_ORDERS]
    handlers = {m: _recording(calls, m, fail=m == failing) for m in modules}
    deliveries: list[Delivery] = []
    market = CalendarMarketView.default()
    first, close = market.session_bounds(date(2026, 11, 23))
    loop = TimerLoop(
        LocalPublisher(RuleRouter(handlers=handlers, invoke_lock=threading.Lock()), deliveries.append),
        ReplayClock(first),
        market=lambda: market,
    )
    results = loop.run_session(first)

    assert results[-1].continue_ is False and results[-1].handled_tick == close
    assert all(
        (module, detail) in {(HANDLER_MODULES[DetailType(detail)], detail)} for module, detail in calls
    )
    failed = [d for d in deliveries if d.error]
    assert failed and all(d.module == failing and "boom" in (d.error or "") for d in failed)
    assert failed[0].event["detail"]["tick"]  # the failing event is reported whole
    # the loop went on: events after the first failure were still delivered to the other handlers
    after = [d for d in deliveries if d.event["time"] > failed[0].event["time"] and not d.error]
    assert after
    ticks = {d.event["time"] for d in deliveries}
    assert min(ticks) == first.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert datetime.fromisoformat(max(ticks)) == close
