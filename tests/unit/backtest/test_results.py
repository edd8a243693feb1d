"""A backtest's figures from a handful of hand-made days, every one worked out by hand below, and
its HTML report: every chart and table findable by id, names escaped, namesakes told apart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from shared_utils.backtest.report import render_html
from shared_utils.backtest.results import BacktestFill, BacktestResult, DayOutcome, summarise
from shared_utils.market.options import Action

CONDOR, STRADDLE = "s-condor", "s-straddle"
CHART_IDS = ("equity-curve", "daily-pnl", "pnl-by-month-chart")
TABLE_IDS = ("summary", "pnl-by-weekday", "pnl-by-month", "pnl-by-strategy", "worst-days")


def fill(day: date, strategy_id: str = CONDOR, charges: str = "10") -> BacktestFill:
    return BacktestFill(
        strategy_id=strategy_id,
        leg_no=1,
        broker_account_id="paper-a",
        instrument=f"NIFTY|{day.isoformat()}|24000|CE",
        side=Action.SELL,
        quantity=75,
        price=Decimal("52.10"),
        at=datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC),  # 09:30 IST
        run="ENTRY",
        charges=Decimal(charges),
    )


def outcome(
    day: date,
    pnl: dict[str, str],
    charges: dict[str, str] | None = None,
    traded: bool = True,
    notes: tuple[str, ...] = (),
) -> DayOutcome:
    return DayOutcome(
        day=day,
        pnl_by_strategy={sid: Decimal(value) for sid, value in pnl.items()},
        charges_by_strategy={sid: Decimal(value) for sid, value in (charges or {}).items()},
        fills=[fill(day, sid) for sid in pnl] if traded else [],
        notes=list(notes),
    )


MON_2, TUE_3, WED_4, THU_5 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 5)
FRI_6, MON_9, TUE_10 = date(2026, 11, 6), date(2026, 11, 9), date(2026, 11, 10)

# day      gross                       charges          net       equity
# Mon 2    condor 1000, straddle -200  50 + 30 = 80     720       720     (peak)
# Tue 3    condor -1500                60               -1560     -840    (trough: drawdown 1560)
# Wed 4    not entered, no fill        0                0         -840    (not a day traded)
# Thu 5    straddle 300                40               260       -580
# Fri 6    condor 40                   40               0         -580    (traded: neither win nor loss)
# Mon 9    condor 2000                 100              1900      1320    (back above 720: recovered)
# Tue 10   straddle -500.50            25.25            -525.75   794.25  (a smaller drawdown)
DAYS = [
    outcome(MON_2, {CONDOR: "1000", STRADDLE: "-200"}, {CONDOR: "50", STRADDLE: "30"}),
    outcome(TUE_3, {CONDOR: "-1500"}, {CONDOR: "60"}),
    outcome(WED_4, {}, traded=False, notes=("NIFTY iron condor not entered: no quote for 24000 CE",)),
    outcome(THU_5, {STRADDLE: "300"}, {STRADDLE: "40"}),
    outcome(FRI_6, {CONDOR: "40"}, {CONDOR: "40"}),
    outcome(MON_9, {CONDOR: "2000"}, {CONDOR: "100"}),
    outcome(TUE_10, {STRADDLE: "-500.50"}, {STRADDLE: "25.25"}),
]


def test_a_day_nets_its_charges_from_its_gross_pnl() -> None:
    first = DAYS[0]
    assert (first.gross_pnl, first.charges, first.net_pnl) == (Decimal(800), Decimal(80), Decimal(720))
    assert first.model_dump()["net_pnl"] == Decimal(720)


def test_the_totals_count_every_day_and_the_days_traded_only_those_with_a_fill() -> None:
    summary = summarise(list(reversed(DAYS)))  # any order
    assert (summary.start, summary.end) == (MON_2, TUE_10)
    assert (summary.trading_days, summary.days_traded) == (7, 6)
    assert summary.gross_pnl == Decimal("1139.50")  # 800 - 1500 + 300 + 40 + 2000 - 500.50
    assert summary.charges == Decimal("345.25")  # 80 + 60 + 40 + 40 + 100 + 25.25
    assert summary.net_pnl == Decimal("794.25")
    assert summary.daily == [
        (MON_2, Decimal(720)),
        (TUE_3, Decimal(-1560)),
        (WED_4, Decimal(0)),
        (THU_5, Decimal(260)),
        (FRI_6, Decimal(0)),
        (MON_9, Decimal(1900)),
        (TUE_10, Decimal("-525.75")),
    ]
    assert [value for _, value in summary.equity_curve] == [
        Decimal(720),
        Decimal(-840),
        Decimal(-840),
        Decimal(-580),
        Decimal(-580),
        Decimal(1320),
        Decimal("794.25"),
    ]


def test_the_largest_drawdown_runs_from_its_peak_to_its_trough_and_ends_when_the_peak_is_regained() -> None:
    summary = summarise(DAYS)
    assert summary.max_drawdown == Decimal(1560)  # 720 -> -840; 1320 -> 794.25 is only 525.75
    assert (summary.max_drawdown_peak, summary.max_drawdown_trough) == (MON_2, TUE_3)
    assert summary.recovered_on == MON_9  # the first close at or above 720


def test_wins_losses_and_expectancy_count_the_days_traded_and_a_zero_day_is_neither() -> None:
    summary = summarise(DAYS)
    assert (summary.winning_days, summary.losing_days) == (3, 2)
    assert summary.win_rate == Decimal("0.5000")  # 3 wins of 6 days traded (Fri 6 is a zero day)
    assert summary.average_win == Decimal("960.00")  # (720 + 260 + 1900) / 3
    assert summary.average_loss == Decimal("-1042.88")  # (-1560 - 525.75) / 2 = -1042.875, half up
    assert summary.expectancy == Decimal("132.38")  # 794.25 / 6 = 132.375, half up
    assert summary.best_day == (MON_9, Decimal(1900))
    assert summary.worst_day == (TUE_3, Decimal(-1560))


def test_the_pnl_splits_by_weekday_month_and_strategy_add_up_to_the_net() -> None:
    summary = summarise(DAYS)
    assert summary.pnl_by_weekday == {
        "Mon": Decimal(2620),  # 720 + 1900
        "Tue": Decimal("-2085.75"),  # -1560 - 525.75
        "Wed": Decimal(0),
        "Thu": Decimal(260),
        "Fri": Decimal(0),
    }
    assert summary.pnl_by_month == {"2026-11": Decimal("794.25")}
    assert summary.gross_by_strategy == {CONDOR: Decimal(1540), STRADDLE: Decimal("-400.50")}
    assert summary.charges_by_strategy == {CONDOR: Decimal(250), STRADDLE: Decimal("95.25")}
    assert summary.pnl_by_strategy == {CONDOR: Decimal(1290), STRADDLE: Decimal("-495.75")}


def test_the_month_split_keeps_the_months_apart_in_order() -> None:
    summary = summarise(
        [outcome(date(2026, 12, 1), {CONDOR: "-30"}), outcome(date(2026, 10, 30), {CONDOR: "100"})]
    )
    assert list(summary.pnl_by_month.items()) == [("2026-10", Decimal(100)), ("2026-12", Decimal(-30))]


def test_the_worst_days_are_the_five_lowest_traded_days_worst_first_with_their_fills() -> None:
    worst = summarise(DAYS).worst_days
    assert [day.day for day in worst] == [TUE_3, TUE_10, FRI_6, THU_5, MON_2]  # Wed 4 had no fill
    assert [f.strategy_id for f in worst[0].fills] == [CONDOR]


def test_no_day_traded_leaves_the_rates_and_averages_empty() -> None:
    summary = summarise([outcome(MON_2, {}, traded=False), outcome(TUE_3, {}, traded=False)])
    assert (summary.trading_days, summary.days_traded) == (2, 0)
    assert summary.win_rate is summary.average_win is summary.average_loss is summary.expectancy is None
    assert summary.best_day is summary.worst_day is None
    assert summary.worst_days == []
    assert summary.max_drawdown == 0 and summary.max_drawdown_trough is None


def test_no_day_at_all_is_an_empty_summary() -> None:
    summary = summarise([])
    assert (summary.start, summary.end, summary.trading_days, summary.net_pnl) == (None, None, 0, 0)
    assert summary.equity_curve == [] and summary.pnl_by_month == {}


def test_all_winning_days_have_no_drawdown() -> None:
    summary = summarise([outcome(MON_2, {CONDOR: "100"}), outcome(TUE_3, {CONDOR: "50"})])
    assert summary.max_drawdown == 0
    assert summary.max_drawdown_peak is summary.max_drawdown_trough is summary.recovered_on is None
    assert summary.win_rate == 1 and summary.average_loss is None


def test_a_drawdown_never_recovered_has_no_recovery_date() -> None:
    summary = summarise([outcome(MON_2, {CONDOR: "100"}), outcome(TUE_3, {CONDOR: "-300"})])
    assert summary.max_drawdown == Decimal(300)
    assert (summary.max_drawdown_peak, summary.max_drawdown_trough, summary.recovered_on) == (
        MON_2,
        TUE_3,
        None,
    )


def test_a_loss_from_the_first_day_falls_from_the_opening_equity_of_zero() -> None:
    summary = summarise([outcome(MON_2, {CONDOR: "-100"}), outcome(TUE_3, {CONDOR: "100"})])
    assert summary.max_drawdown == Decimal(100)
    assert (summary.max_drawdown_peak, summary.max_drawdown_trough) == (None, MON_2)
    assert summary.recovered_on == TUE_3  # back to 0


def test_two_outcomes_of_one_day_are_refused() -> None:
    with pytest.raises(ValueError, match="two outcomes for 2026-11-02"):
        summarise([outcome(MON_2, {CONDOR: "1"}), outcome(MON_2, {CONDOR: "2"})])


def result(strategies: dict[str, str], days: list[DayOutcome] = DAYS) -> BacktestResult:
    return BacktestResult.of(
        days,
        request={"strategies": sorted(strategies), "start": "2026-11-02", "end": "2026-11-27"},
        strategies=strategies,
        warnings=["3 days without a quote for NIFTY"],
        elapsed_seconds=1.5,
    )


def test_a_result_survives_a_round_trip_through_json() -> None:
    original = result({CONDOR: "Condor", STRADDLE: "Straddle"})
    assert BacktestResult.model_validate_json(original.model_dump_json()) == original


class Elements(HTMLParser):
    """Each element's tag and attributes in document order, and the tag of each element's first child."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.first_child: dict[int, str] = {}
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._open:
            self.first_child.setdefault(self._open[-1], tag)
        self.elements.append((tag, dict(attrs)))
        self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self._open and self.elements[self._open.pop()][0] != tag:
            pass


def by_id(page: str) -> tuple[dict[str, tuple[str, dict[str, str | None]]], dict[str, str]]:
    parser = Elements()
    parser.feed(page)
    found = {attrs["id"]: (tag, attrs) for tag, attrs in parser.elements if attrs.get("id")}
    first = {
        str(attrs["id"]): parser.first_child.get(index, "")
        for index, (_, attrs) in enumerate(parser.elements)
        if attrs.get("id")
    }
    return found, first


@pytest.mark.parametrize("days", [DAYS, []], ids=["days", "no-day"])
def test_every_chart_and_table_of_the_page_can_be_found_by_its_id(days: list[DayOutcome]) -> None:
    page = render_html(result({CONDOR: "Condor", STRADDLE: "Straddle"}, days))
    found, first = by_id(page)
    for chart_id in CHART_IDS:
        tag, attrs = found[chart_id]
        assert (tag, attrs.get("role"), first[chart_id]) == ("svg", "img", "title")
    for table_id in TABLE_IDS:
        assert found[table_id][0] == "table"
    assert "<script" not in page and " src=" not in page and "<link" not in page
    assert "3 days without a quote for NIFTY" in page


def test_the_page_marks_the_drawdown_and_lists_the_worst_days_fills() -> None:
    page = render_html(result({CONDOR: "Condor", STRADDLE: "Straddle"}))
    assert "max drawdown 1,560.00" in page
    assert "NIFTY 2026-11-03 24000 CE" in page and "09:30" in page
    assert "NIFTY iron condor not entered: no quote for 24000 CE" in page


def test_user_supplied_names_are_escaped() -> None:
    page = render_html(result({CONDOR: "<b>x</b>", STRADDLE: "Straddle"}))
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_two_strategies_of_one_name_get_different_labels() -> None:
    page = render_html(result({CONDOR: "Condor", STRADDLE: "Condor"}))
    assert "Condor #s-co" in page and "Condor #s-st" in page
