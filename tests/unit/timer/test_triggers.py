"""Schedule-trigger domain with fakes that behave: window edges, weekdays, paused strategies,
claims taken once, and a claim given back when the hand-over fails."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from shared_utils.execution.reports import REPORT_SAMPLE
from shared_utils.execution.requests import ExecutionRequest
from shared_utils.keys import ScheduleKind
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.underlyings import Underlying
from shared_utils.market.weekdays import Weekday
from shared_utils.models.common import StrategyStatus
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.plan import events_for
from shared_utils.timer.triggers import trigger_due_strategies

TICK = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 09:30 IST
CALENDAR = TradingCalendar.default()


def envelope(tick: datetime = TICK) -> TimerEnvelope:
    trade_date = (tick + timedelta(hours=5, minutes=30)).date()
    (trigger,) = [
        e for e in events_for(tick, "morning", trade_date) if e.detail_type == "ScheduleStrategyTrigger"
    ]
    return trigger.envelope


def entry(strategy_id: str, due_at: datetime, weekdays: Iterable[Weekday] = tuple(Weekday)) -> ScheduleEntry:
    local = due_at + timedelta(hours=5, minutes=30)
    return ScheduleEntry(
        user_id="user-1",
        strategy_id=strategy_id,
        basket_id="basket-1",
        underlying=Underlying.NIFTY,
        kind=ScheduleKind.ENTRY,
        at=f"{local:%H:%M}",
        weekdays=list(weekdays),
        strategy_version=1,
        due_at=due_at,
    )


class Schedule:
    def __init__(self, *entries: ScheduleEntry) -> None:
        self.entries = entries

    def due_schedule_entries(self, start: datetime, end: datetime) -> list[ScheduleEntry]:
        return [e for e in self.entries if e.due_at is not None and start <= e.due_at < end]


class Statuses:
    def __init__(self, paused: set[str] | None = None) -> None:
        self.paused = paused or set()

    def statuses_of(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StrategyStatus]:
        return {
            (user, strategy): StrategyStatus.PAUSED if strategy in self.paused else StrategyStatus.ACTIVE
            for user, strategy in wanted
        }


class Claims:
    def __init__(self) -> None:
        self.taken: set[tuple[date, str, str, datetime]] = set()

    @staticmethod
    def _key(r: ExecutionRequest) -> tuple[date, str, str, datetime]:
        return (r.trade_date, r.strategy_id, r.action.value, r.scheduled_at)

    def claim_all(self, requests: Sequence[ExecutionRequest]) -> list[ExecutionRequest]:
        claimed = [r for r in requests if self._key(r) not in self.taken]
        self.taken |= {self._key(r) for r in claimed}
        return claimed

    def release_all(self, requests: Sequence[ExecutionRequest]) -> None:
        self.taken -= {self._key(r) for r in requests}


class Requester:
    def __init__(self, fail_times: int = 0) -> None:
        self.requests: list[ExecutionRequest] = []
        self.fail_times = fail_times

    def request_executions(self, requests: Sequence[ExecutionRequest]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("run queue unavailable")
        self.requests += requests


def test_window_is_half_open_and_paused_or_off_day_entries_are_skipped() -> None:
    schedule = Schedule(
        entry("at-start", TICK),
        entry("next-minute", TICK + timedelta(minutes=1)),  # never handed over early
        entry("paused", TICK),
        entry("mondays", TICK, [Weekday.MON]),
    )
    requester = Requester()
    report = trigger_due_strategies(envelope(), schedule, Statuses({"paused"}), CALENDAR, Claims(), requester)
    assert [r.strategy_id for r in requester.requests] == ["at-start"]
    assert (report.due, report.paused, report.not_today) == (3, 1, 1)


def test_a_paused_strategy_enters_nothing_but_keeps_its_exit() -> None:
    exit_ = entry("paused", TICK).model_copy(update={"kind": ScheduleKind.EXIT})
    schedule = Schedule(entry("paused", TICK), exit_)
    requester = Requester()
    report = trigger_due_strategies(envelope(), schedule, Statuses({"paused"}), CALENDAR, Claims(), requester)
    assert [(r.strategy_id, r.action) for r in requester.requests] == [("paused", ScheduleKind.EXIT)]
    assert report.paused == 1


def test_overlapping_windows_and_redelivery_request_once() -> None:
    schedule = Schedule(entry("s1", TICK + timedelta(minutes=3)))
    claims, requester = Claims(), Requester()
    for tick in (TICK, TICK, TICK + timedelta(minutes=1), TICK + timedelta(minutes=3)):
        env = envelope(TICK).model_copy(
            update={"window_start": tick, "window_end": tick + timedelta(minutes=5)}
        )
        trigger_due_strategies(env, schedule, Statuses(), CALENDAR, claims, requester)
    assert len(requester.requests) == 1


def test_failed_hand_over_gives_every_claim_of_the_minute_back_for_the_retry() -> None:
    schedule = Schedule(entry("s1", TICK), entry("s2", TICK))
    claims, requester = Claims(), Requester(fail_times=1)
    with pytest.raises(ConnectionError):
        trigger_due_strategies(envelope(), schedule, Statuses(), CALENDAR, claims, requester)
    assert requester.requests == [] and claims.taken == set()
    report = trigger_due_strategies(envelope(), schedule, Statuses(), CALENDAR, claims, requester)
    assert [r.strategy_id for r in requester.requests] == ["s1", "s2"]
    assert report.already_claimed == 0
    again = trigger_due_strategies(envelope(), schedule, Statuses(), CALENDAR, claims, requester)
    assert again.already_claimed == 2 and len(requester.requests) == 2


@pytest.mark.parametrize(
    "day", [datetime(2026, 11, 24, 4, 0, tzinfo=UTC), datetime(2026, 11, 28, 4, 0, tzinfo=UTC)]
)
def test_holidays_and_weekends_trigger_nothing(day: datetime) -> None:
    schedule = Schedule(entry("s1", day + timedelta(minutes=1)))
    requester = Requester()
    env = envelope(TICK).model_copy(
        update={
            "tick": day,
            "window_start": day,
            "window_end": day + timedelta(minutes=5),
            "trade_date": day.date(),
        }
    )
    report = trigger_due_strategies(env, schedule, Statuses(), CALENDAR, Claims(), requester)
    assert report.skipped_reason == "not a trading day" and requester.requests == []


def test_a_busy_minute_is_counted_exactly_and_listed_in_a_bounded_sample() -> None:
    """The result is kept in the once-per-tick record (a DynamoDB item, 400 KB at most)."""
    schedule = Schedule(*(entry(f"s{n:04d}", TICK) for n in range(250)))
    requester = Requester()

    report = trigger_due_strategies(envelope(), schedule, Statuses(), CALENDAR, Claims(), requester)

    assert len(requester.requests) == report.requested_count == 250
    assert len(report.requested) == REPORT_SAMPLE
    assert len(report.model_dump_json()) < 20_000
