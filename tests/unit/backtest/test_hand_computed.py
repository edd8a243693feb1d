"""A backtest of a tiny data set written here, checked against figures worked out by hand: three
days of NIFTY minute bars (imported as a user would), one short ATM call entered at 09:20 and
exited at 09:25, 10 bps of slippage and the charges table's rates for November 2026."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from shared_utils.backtest.runner import BacktestRequest, MarketSource
from shared_utils.backtest.service import run_backtest
from shared_utils.backtest.strategy_file import FileAllocation, FileStrategy, details_of
from shared_utils.market.options import Action
from shared_utils.market_data.history.importer import import_history
from shared_utils.market_data.history.quotes import HistoricalQuotes
from shared_utils.models.strategy import StrategyCreate

LOT = 65  # NIFTY's lot from 2026-01 (contract specs)
# Trade date -> (the current weekly expiry, the short call's close in the 09:24 bar: the exit).
DAYS = {
    date(2026, 11, 16): (date(2026, 11, 17), Decimal("80.00")),
    date(2026, 11, 17): (date(2026, 11, 17), Decimal("130.00")),
    date(2026, 11, 18): (date(2026, 11, 23), Decimal("70.00")),  # the 24th is a holiday
}
# Strike -> (call close, put close) at every minute: the synthetic forward is 26000, so ATM is 26000.
CHAIN = {25900: ("160", "60"), 26000: ("100", "100"), 26100: ("55", "155")}


def write_bars(path: Path) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "timestamp",
                "symbol",
                "expiry",
                "strike",
                "type",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "oi",
            ]
        )
        for day, (expiry, exit_close) in DAYS.items():
            for minute in range(15, 26):
                stamp = f"{day}T09:{minute:02d}:00+05:30"
                out.writerow([stamp, "NIFTY", "", "", "INDEX", 26000, 26000, 26000, 26000, "", ""])
                for strike, (call, put) in CHAIN.items():
                    for kind, close in (("CE", call), ("PE", put)):
                        if strike == 26000 and kind == "CE" and minute == 24:
                            close = str(exit_close)
                        out.writerow(
                            [stamp, "NIFTY", expiry, strike, kind, close, close, close, close, 100, 1000]
                        )


def charges(side: Action, price: Decimal) -> Decimal:
    """One order of one lot on NSE, by hand from data/charges.json's rows for November 2026."""
    premium = price * LOT
    brokerage = Decimal("20")
    stt = (premium * Decimal("0.0015")).quantize(Decimal("0.01")) if side is Action.SELL else Decimal("0")
    exchange = (premium * Decimal("0.0003503")).quantize(Decimal("0.01"))
    sebi = (premium * Decimal("0.000001")).quantize(Decimal("0.01"))
    stamp = (premium * Decimal("0.00003")).quantize(Decimal("0.01")) if side is Action.BUY else Decimal("0")
    gst = ((brokerage + exchange + sebi) * Decimal("0.18")).quantize(Decimal("0.01"))
    return brokerage + stt + exchange + sebi + stamp + gst


def test_three_days_of_a_short_call_match_the_hand_computed_pnl_charges_and_drawdown(tmp_path: Path) -> None:
    write_bars(tmp_path / "bars.csv")
    import_history([tmp_path / "bars.csv"], tmp_path / "store", now=datetime(2026, 11, 30, tzinfo=UTC))
    body = {
        "name": "Short call",
        "underlying": "NIFTY",
        "legs": [{"action": "SELL", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "steps": 0},
                  "expiry": "CURRENT_WEEKLY"}],
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "09:25"},
    }  # fmt: skip
    one_lot = [FileAllocation(broker_account_id="paper-1", lots=1)]
    details = details_of(
        [FileStrategy(strategy=StrategyCreate.model_validate(body), allocations=one_lot)],
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    request = BacktestRequest(
        start=date(2026, 11, 16),
        end=date(2026, 11, 18),
        market=MarketSource.HISTORICAL,
        slippage_bps=Decimal("10"),
    )

    result = run_backtest(details, request, bars=HistoricalQuotes(tmp_path / "store"))

    # The entry sells at the 09:19 bar's 100.00 less 10 bps = 99.90 (on the tick, against the
    # trader); the exit buys at the 09:24 bar's close plus 10 bps, rounded up to the tick.
    sold = Decimal("99.90")
    bought = {
        date(2026, 11, 16): Decimal("80.10"),  # 80.00 x 1.001 = 80.08
        date(2026, 11, 17): Decimal("130.15"),  # 130.13
        date(2026, 11, 18): Decimal("70.10"),  # 70.07
    }
    for outcome in result.days:
        entry, exit_ = outcome.fills
        assert (entry.side, entry.price, entry.quantity, entry.run) == (Action.SELL, sold, LOT, "ENTRY")
        assert (exit_.side, exit_.price, exit_.quantity, exit_.run) == (
            Action.BUY,
            bought[outcome.day],
            LOT,
            "SCHEDULED",
        )
        assert entry.instrument == f"NIFTY|{DAYS[outcome.day][0]}|26000|CE"
        assert outcome.gross_pnl == (sold - bought[outcome.day]) * LOT
        assert outcome.charges == charges(Action.SELL, sold) + charges(Action.BUY, bought[outcome.day])
        assert outcome.notes == []
    nets = [
        (sold - bought[d]) * LOT - charges(Action.SELL, sold) - charges(Action.BUY, bought[d]) for d in DAYS
    ]
    assert [outcome.net_pnl for outcome in result.days] == nets
    summary = result.summary
    assert summary.net_pnl == sum(nets)
    assert summary.charges == sum(
        charges(Action.SELL, sold) + charges(Action.BUY, b) for b in bought.values()
    )
    # Day 1 wins, day 2 loses: the drawdown is day 2's loss, from the day-1 peak.
    assert summary.max_drawdown == -nets[1]
    assert (summary.max_drawdown_peak, summary.max_drawdown_trough) == (
        date(2026, 11, 16),
        date(2026, 11, 17),
    )
    assert summary.recovered_on == (date(2026, 11, 18) if nets[1] + nets[2] >= 0 else None)
    assert summary.win_rate == Decimal("0.6667") and (summary.winning_days, summary.losing_days) == (2, 1)
