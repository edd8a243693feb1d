"""The market calendar kept by admins over HTTP: changes take effect at the next tick, move the
expiries they land on, record who made them, and bad input is refused with nothing stored."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from lambda_functions.option_baskets import event_emitter
from shared_utils.composition import platform
from shared_utils.market.expiries import ExpiryKind, expiry_for
from tests.integration.timer.conftest import FakeLambdaContext

CALENDAR = "/options/market-calendar/{exchange}"
HOLIDAYS = "/options/market-calendar/{exchange}/holidays"
HOLIDAY = "/options/market-calendar/{exchange}/holidays/{day}"
SESSIONS = "/options/market-calendar/{exchange}/sessions"
SESSION = "/options/market-calendar/{exchange}/sessions/{day}"
ADMIN = {"user": "admin-1", "groups": ("Admins",)}
# Monday 2027-01-04, 09:20 IST: 2027 has no official holiday list (provisional).
MONDAY = datetime(2027, 1, 4, 3, 50, tzinfo=UTC)


@pytest.fixture
def admin_api(api: Any, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    aws["clock"].set(MONDAY)
    # The emitter's Metrics read the namespace at import, maybe before the test environment.
    monkeypatch.setattr(event_emitter.metrics.provider, "namespace", "OptionsPlatformTest")
    return api


def emit(tick: datetime) -> dict[str, Any]:
    """One Emit of the master timer at `tick`, as Step Functions would invoke it."""
    platform().clock.set(tick)
    state = {"next_tick": tick.isoformat().replace("+00:00", "Z"), "iteration": 0, "generation": 0}
    return event_emitter.handler(state, FakeLambdaContext())


def trading_items(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return aws["dynamodb"].scan(TableName=aws["settings"].trading_table_name)["Items"]


def test_only_admins_see_or_change_the_calendar(admin_api: Any) -> None:
    assert admin_api("GET", CALENDAR, exchange="NSE").status == 403
    refused = admin_api("POST", HOLIDAYS, exchange="NSE", body={"date": "2027-01-12", "label": "x"})
    assert refused.status == 403 and refused.body["code"] == "FORBIDDEN"


def test_an_added_holiday_moves_the_expiry_and_the_next_tick_treats_it_as_closed(
    admin_api: Any, aws: dict[str, Any]
) -> None:
    tuesday = date(2027, 1, 12)  # a NIFTY weekly expiry
    assert expiry_for("NIFTY", date(2027, 1, 7), ExpiryKind.CURRENT_WEEKLY, platform().calendar()) == tuesday
    assert emit(datetime(2027, 1, 12, 3, 30, tzinfo=UTC))["continue"] is True  # a trading day so far

    platform().clock.set(MONDAY)
    added = admin_api(
        "POST", HOLIDAYS, exchange="NSE", body={"date": "2027-01-12", "label": "Ad-hoc"}, **ADMIN
    )

    assert added.status == 201, added.body
    assert added.body["change"]["created_by"] == "admin-1"
    assert added.body["change"]["created_at"] == "2027-01-04T03:50:00Z"
    moved = {(m["underlying"], m["nominal"]): m for m in added.body["moved_expiries"]}
    assert moved[("NIFTY", "2027-01-12")]["expiry_after"] == "2027-01-11"
    assert all(m["underlying"] not in ("SENSEX", "BANKEX") for m in added.body["moved_expiries"])
    # From the next minute the expiry is the Monday. BSE keeps its own calendar, so the timer
    # still runs that day (SENSEX trades) until BSE closes too.
    platform().clock.set(datetime(2027, 1, 4, 3, 51, tzinfo=UTC))
    calendar = platform().calendar()
    assert expiry_for("NIFTY", date(2027, 1, 7), ExpiryKind.CURRENT_WEEKLY, calendar) == date(2027, 1, 11)
    assert calendar.for_exchange("BSE").is_trading_day(tuesday)
    assert emit(datetime(2027, 1, 12, 3, 30, tzinfo=UTC))["continue"] is True
    platform().clock.set(MONDAY)
    assert admin_api(
        "POST", HOLIDAYS, exchange="BSE", body={"date": "2027-01-12", "label": "Ad-hoc"}, **ADMIN
    )
    platform().clock.set(datetime(2027, 1, 4, 3, 52, tzinfo=UTC))
    closed = emit(datetime(2027, 1, 12, 3, 30, tzinfo=UTC))
    assert closed["continue"] is False and closed["note"].startswith("not a trading day")
    platform().clock.set(datetime(2027, 1, 4, 3, 53, tzinfo=UTC))

    view = admin_api("GET", CALENDAR, exchange="NSE", query={"year": "2027"}, **ADMIN).body
    assert view["provisional"] is True and view["confirmed_until"] == "2026-12-31"
    sources = {day["date"]: day["source"] for day in view["holidays"]}
    assert sources["2027-01-12"] == "admin" and sources["2027-01-26"] == "provisional"
    assert [(c["date"], c["exchange"]) for c in view["changes"]] == [("2027-01-12", "NSE")]

    undone = admin_api("DELETE", HOLIDAY, exchange="NSE", day="2027-01-12", **ADMIN)
    assert undone.status == 200, undone.body
    assert [m["expiry_after"] for m in undone.body["moved_expiries"] if m["underlying"] == "NIFTY"] == [
        "2027-01-12"
    ]


def test_a_provisional_holiday_can_be_confirmed_or_declared_a_trading_day(admin_api: Any) -> None:
    confirmed = admin_api(
        "POST", HOLIDAYS, exchange="NSE", body={"date": "2027-01-26", "label": "Republic Day"}, **ADMIN
    )
    assert confirmed.status == 201 and confirmed.body["moved_expiries"] == []
    again = admin_api(
        "POST", HOLIDAYS, exchange="NSE", body={"date": "2027-01-26", "label": "Republic Day"}, **ADMIN
    )
    assert again.status == 409

    not_a_holiday = admin_api("DELETE", HOLIDAY, exchange="BSE", day="2027-05-03", **ADMIN)
    assert not_a_holiday.status == 404
    christmas = admin_api("DELETE", HOLIDAY, exchange="BSE", day="2028-12-25", **ADMIN)
    assert christmas.status == 200 and christmas.body["change"]["kind"] == "OPEN"
    assert platform().calendar().for_exchange("BSE").is_trading_day(date(2028, 12, 25))
    assert not platform().calendar().for_exchange("NSE").is_trading_day(date(2028, 12, 25))
    closed_again = admin_api(
        "POST", HOLIDAYS, exchange="BSE", body={"date": "2028-12-25", "label": "Christmas"}, **ADMIN
    )
    assert closed_again.status == 201 and closed_again.body["change"]["kind"] == "OPEN"  # the undone change
    assert not platform().calendar().for_exchange("BSE").is_trading_day(date(2028, 12, 25))


def test_a_muhurat_evening_on_a_sunday_starts_the_timer_at_its_own_time(admin_api: Any) -> None:
    body = {
        "date": "2027-10-31",
        "label": "Diwali Muhurat",
        "pre_open_start": "18:00",
        "pre_open_end": "18:08",
        "open": "18:15",
        "close": "19:15",
    }
    added = admin_api("POST", SESSIONS, exchange="NSE", body=body, **ADMIN)
    assert added.status == 201, added.body

    platform().clock.set(datetime(2027, 10, 31, 3, 30, tzinfo=UTC))
    morning = emit(datetime(2027, 10, 31, 3, 30, tzinfo=UTC))
    assert morning["continue"] is True and morning["next_tick"] == "2027-10-31T12:30:00Z"  # 18:00 IST
    view = admin_api("GET", CALENDAR, exchange="NSE", query={"year": "2027"}, **ADMIN).body
    assert [(s["date"], s["full_trading_day"]) for s in view["special_sessions"]] == [("2027-10-31", False)]
    removed = admin_api("DELETE", SESSION, exchange="NSE", day="2027-10-31", **ADMIN)
    assert removed.status == 200
    assert admin_api("DELETE", SESSION, exchange="NSE", day="2027-10-31", **ADMIN).status == 404


@pytest.mark.parametrize(
    ("path", "params", "body", "status", "field"),
    [
        (HOLIDAYS, {"exchange": "NSE"}, {"date": "2027-01-01", "label": "past"}, 422, "date"),
        (HOLIDAYS, {"exchange": "NSE"}, {"date": "2027-01-09", "label": "Saturday"}, 422, "date"),
        (HOLIDAYS, {"exchange": "NSE"}, {"date": "2026-12-25", "label": "official"}, 422, "date"),
        (HOLIDAYS, {"exchange": "MCX"}, {"date": "2027-01-12", "label": "x"}, 422, "exchange"),
        (HOLIDAYS, {"exchange": "NSE"}, {"date": "2027-01-12"}, 422, "label"),
        (
            SESSIONS,
            {"exchange": "NSE"},
            {"date": "2027-02-06", "label": "ends first", "pre_open_start": "09:00", "pre_open_end": "09:08",
             "open": "09:15", "close": "09:10"},
            422,
            "body",
        ),
        (
            SESSIONS,
            {"exchange": "BSE"},
            {"date": "2027-02-06", "label": "outside the day", "pre_open_start": "09:00",
             "pre_open_end": "09:08", "open": "09:15", "close": "24:30"},
            422,
            "close",
        ),
    ],
)  # fmt: skip
def test_bad_changes_are_refused_with_the_field_and_nothing_is_stored(
    admin_api: Any, aws: dict[str, Any], path: str, params: dict[str, str], body: Any, status: int, field: str
) -> None:
    before = trading_items(aws)
    response = admin_api("POST", path, body=body, **params, **ADMIN)
    assert response.status == status, response.body
    assert response.body["code"] == "VALIDATION_ERROR"
    assert any(field in detail["field"] for detail in response.body["details"])
    assert trading_items(aws) == before
