"""Re-entries under faults, on the DynamoDB store (moto): a process killed inside the re-entry's
broker call, a broker down when the re-entry is due, a kill switch or a manual close between the
exit that armed a re-entry and the minute it is due, an exit delivered after the re-entry it
allowed. Every order reaches its broker once; what the day ended never opens again."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared_utils.brokers.models import OrderRequest, OrderResult
from shared_utils.brokers.paper import PaperBroker
from shared_utils.execution.models import ExecutionStatus, ExitReason, LedgerStatus
from shared_utils.execution.runs import RunKind, StrategyRun
from tests.integration.execution.conftest import DownBroker, condor_body, net_quantities

TRADE_DATE = date(2026, 11, 25)
RE_ENTRY = "LEG1.L1"


class ProcessDied(BaseException):
    """The process is gone: nothing of the engine's runs after it."""


class CountingBroker:
    """A paper broker counting every order it receives, by order key; `die_on` takes the process
    down right after the broker accepted that many orders (counted from when it is set)."""

    def __init__(self, inner: PaperBroker) -> None:
        self.inner = inner
        self.sent: Counter[str] = Counter()
        self.die_on: int | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def place(self, order: OrderRequest) -> OrderResult:
        self.sent[order.order_key] += 1
        result = self.inner.place(order)
        if self.die_on is not None:
            self.die_on -= 1
            if self.die_on == 0:
                self.die_on = None
                raise ProcessDied
        return result


def stopped_call_re_enters(platform) -> tuple[str, CountingBroker]:
    """A condor whose short call (leg 1) has a 30% stop and re-enters at once, at most twice;
    entered, then the index jumps: the minute's check closes leg 1 and arms its re-entry."""
    body = condor_body()
    body["legs"][0] |= {
        "stop_loss": {"kind": "PERCENT", "value": 30},
        "re_entry": {"mode": "RE_ENTER", "when": "IMMEDIATELY", "max_per_day": 2, "until": "14:00"},
    }
    sid = platform.strategy("user-a", body, {"acct-1": 1})
    counting = CountingBroker(platform.brokers.by_account["acct-1"])
    platform.brokers.by_account["acct-1"] = counting
    assert platform.service.enter("user-a", sid, TRADE_DATE).status is ExecutionStatus.COMPLETE
    platform.levels["NIFTY"] = Decimal("26250")
    report = platform.monitor().check(platform.clock.now(), TRADE_DATE)
    assert report.exits_requested == [f"user-a/{sid}/LEG_STOP_LOSS/leg1"]
    assert [a.run_name for a in platform.store.armed_entries(TRADE_DATE)] == [RE_ENTRY]
    platform.clock.advance(timedelta(minutes=1))
    return sid, counting


def leg_one(platform, sid: str) -> list[tuple[str, int]]:
    return sorted((p.cycle, p.net_quantity) for p in platform.store.positions("user-a", sid) if p.leg_no == 1)


def end_flat(platform, sid: str, counting: CountingBroker) -> None:
    platform.clock.advance(timedelta(hours=5))
    platform.service.scheduled_exit("user-a", sid, TRADE_DATE)
    assert net_quantities(counting.inner) == {}
    assert all(p.net_quantity == 0 for p in platform.store.positions("user-a", sid))
    assert set(counting.sent.values()) == {1}, counting.sent  # every order reached the broker once


def test_a_re_entry_killed_inside_its_broker_call_is_finished_once_by_the_sweep(platform):
    sid, counting = stopped_call_re_enters(platform)
    counting.die_on = 1

    with pytest.raises(ProcessDied):
        platform.monitor().check(platform.clock.now(), TRADE_DATE)
    (pending,) = platform.store.ledger_of_run("user-a", TRADE_DATE, sid, RE_ENTRY)
    assert pending.status is LedgerStatus.PENDING  # the fill is known only to the broker

    platform.clock.advance(timedelta(seconds=90))
    # The next minute queues the armed re-entry again and the sweep retries the run: either
    # completes the stored run; neither sends its order again.
    platform.monitor().check(platform.clock.now(), TRADE_DATE)
    platform.sweep(TRADE_DATE)

    (filled,) = platform.store.ledger_of_run("user-a", TRADE_DATE, sid, RE_ENTRY)
    assert filled.status is LedgerStatus.FILLED
    assert leg_one(platform, sid) == [("", 0), ("L1", -65)]
    assert platform.store.armed_entries(TRADE_DATE) == [] and platform.store.runs_to_retry(TRADE_DATE) == []
    end_flat(platform, sid, counting)


def test_a_re_entry_due_while_its_broker_is_down_is_completed_once_when_it_is_back(platform):
    sid, counting = stopped_call_re_enters(platform)
    down = DownBroker()
    platform.brokers.by_account["acct-1"] = down

    platform.monitor().check(platform.clock.now(), TRADE_DATE)
    record = platform.store.get_run("user-a", TRADE_DATE, sid, RE_ENTRY)
    assert record is not None and [r[2] for r in platform.store.runs_to_retry(TRADE_DATE)] == [RE_ENTRY]
    assert leg_one(platform, sid) == [("", 0)]

    down.up, down.inner = True, counting  # type: ignore[assignment]
    platform.clock.advance(timedelta(minutes=1))
    platform.monitor().check(platform.clock.now(), TRADE_DATE)  # its retry runs with the check

    assert leg_one(platform, sid) == [("", 0), ("L1", -65)]
    assert platform.store.runs_to_retry(TRADE_DATE) == []
    end_flat(platform, sid, counting)


@pytest.mark.parametrize("ended_by", ["kill switch", "manual close"])
def test_nothing_re_enters_once_the_day_has_ended(platform, ended_by):
    sid, counting = stopped_call_re_enters(platform)
    if ended_by == "kill switch":
        platform.kill_switch.press("user-a", "user-a")
        platform.drain()
        reason = "kill switch"  # pressed (it also paused the strategy and its exit ended the day)
    else:
        platform.service.exit("user-a", sid, TRADE_DATE, ExitReason.MANUAL)
        reason = "the day has ended for this strategy"
    before = sum(counting.sent.values())

    platform.monitor().check(platform.clock.now(), TRADE_DATE)

    assert sum(counting.sent.values()) == before  # the due re-entry placed nothing
    assert platform.store.armed_entries(TRADE_DATE) == []
    records, _ = platform.store.list_records("user-a", platform.clock.now() - timedelta(hours=1),
                                             platform.clock.now(), strategy_id=sid)  # fmt: skip
    (refused,) = [r for r in records if r.run_name == RE_ENTRY]
    assert refused.status is ExecutionStatus.NOT_ENTERED and reason in (refused.reason or "")
    assert all(p.net_quantity == 0 for p in platform.store.positions("user-a", sid))


def test_an_exit_delivered_after_the_re_entry_it_allowed_closes_nothing_of_it(platform):
    sid, counting = stopped_call_re_enters(platform)
    platform.monitor().check(platform.clock.now(), TRADE_DATE)  # the re-entry
    assert leg_one(platform, sid) == [("", 0), ("L1", -65)]
    late = StrategyRun(
        kind=RunKind.EXIT, user_id="user-a", strategy_id=sid, trade_date=TRADE_DATE,
        scheduled_at=platform.clock.now() - timedelta(minutes=1), reason=ExitReason.LEG_STOP_LOSS,
        leg_no=1, cycle="",
    )  # fmt: skip

    platform.executor.execute(late)
    platform.executor.execute(late)

    assert leg_one(platform, sid) == [("", 0), ("L1", -65)]
    end_flat(platform, sid, counting)
