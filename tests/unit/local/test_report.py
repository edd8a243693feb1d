"""A simulated session's report: its own day only, per account and portfolio totals, strategies
told apart, warnings for what is left open or not entered, the provisional calendar; and each
session's own run directory."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from local_platform.cli import next_run_dir
from local_platform.report import write_report
from local_platform.session_log import SessionLog
from shared_utils.backtest.charts import strategy_colours, strategy_labels
from shared_utils.clock import IST
from shared_utils.execution.models import ExecutionRecord, ExecutionStatus, PositionView
from shared_utils.keys import ScheduleKind
from shared_utils.models.common import Product

DAY = date(2027, 1, 5)


def report(tmp_path: Path, calendar: dict[str, object] | None) -> tuple[dict[str, object], str]:
    write_report(
        tmp_path,
        day=DAY,
        first_tick=datetime.combine(DAY, time(9, 0), tzinfo=IST),
        close=datetime.combine(DAY, time(15, 40), tzinfo=IST),
        wall_seconds=1.0,
        results=[],
        log=SessionLog(),
        records=[],
        positions={},
        strategies={},
        calendar=calendar,
    )
    return json.loads((tmp_path / "summary.json").read_text()), (tmp_path / "report.html").read_text()


def test_a_provisional_day_is_flagged_in_the_summary_and_on_the_page(tmp_path: Path) -> None:
    summary, page = report(tmp_path, {"provisional": True, "confirmed_until": date(2026, 12, 31)})

    assert summary["calendar"] == {"provisional": True, "confirmed_until": "2026-12-31"}
    assert "Provisional calendar" in page and "2026-12-31" in page


def test_an_official_day_carries_no_warning(tmp_path: Path) -> None:
    summary, page = report(tmp_path, {"provisional": False, "confirmed_until": date(2027, 12, 31)})

    assert summary["calendar"]["provisional"] is False  # type: ignore[index]
    assert "Provisional calendar" not in page


def position(strategy_id: str, account: str, entry_date: date, realised: str, net: int = 0) -> PositionView:
    return PositionView.model_validate(
        {
            "user_id": "trader",
            "strategy_id": strategy_id,
            "entry_date": entry_date,
            "broker_account_id": account,
            "broker": "PAPER",
            "leg_no": 1,
            "instrument": {
                "underlying": "NIFTY",
                "expiry": "2027-01-05",
                "strike": 26050,
                "option_type": "CE",
            },
            "product": Product.MIS,
            "net_quantity": net,
            "buy_quantity": 0,
            "buy_value": Decimal(0),
            "sell_quantity": 0,
            "sell_value": Decimal(0),
            "realised_pnl": Decimal(realised),
            "unrealised_pnl": Decimal("0") if net else None,
            "position_sk": f"POSITION#{strategy_id}#{account}#{entry_date}",
        }
    )


def not_entered(strategy_id: str) -> ExecutionRecord:
    at = datetime.combine(DAY, time(9, 20), tzinfo=IST)
    return ExecutionRecord(
        user_id="trader",
        strategy_id=strategy_id,
        action=ScheduleKind.ENTRY,
        run_name="ENTRY",
        trade_date=DAY,
        started_at=at,
        updated_at=at,
        status=ExecutionStatus.NOT_ENTERED,
        reason="broker login needed",
    )


def test_the_report_counts_its_own_day_per_account_and_for_the_portfolio(tmp_path: Path) -> None:
    earlier = date(2027, 1, 4)
    write_report(
        tmp_path,
        day=DAY,
        first_tick=datetime.combine(DAY, time(9, 0), tzinfo=IST),
        close=datetime.combine(DAY, time(15, 40), tzinfo=IST),
        wall_seconds=1.0,
        results=[],
        log=SessionLog(),
        records=[not_entered("s-2")],
        positions={
            "trader": [
                position("s-1", "paper-a", DAY, "1200.50"),
                position("s-1", "paper-b", DAY, "-200.25"),
                position("s-2", "paper-a", DAY, "-50", net=-65),
                position("s-1", "paper-a", earlier, "99999"),  # an earlier session's, same data directory
            ]
        },
        strategies={
            "trader": [{"strategy_id": sid, "name": "Condor", "basket_id": "b"} for sid in ("s-1", "s-2")]
        },
    )
    summary = json.loads((tmp_path / "summary.json").read_text())

    pnl = summary["pnl"]
    assert pnl["portfolio"] == {
        "realised": 950.25,
        "unrealised": 0.0,
        "total": 950.25,
    }  # 1200.50 - 200.25 - 50
    assert (
        pnl["per_account"]["paper-a"]["total"] == 1150.5 and pnl["per_account"]["paper-b"]["total"] == -200.25
    )
    # Two strategies of one name are told apart.
    assert {row["name"] for row in pnl["per_strategy"].values()} == {"Condor #s-1", "Condor #s-2"}
    assert summary["warnings"] == [
        "open after the close: Condor #s-2 leg 1 on paper-a, -65 NIFTY|2027-01-05|26050|CE",
        "entry NOT_ENTERED: Condor #s-2: broker login needed",
        "1 position(s) entered before this day are not in its P&L",
    ]
    page = (tmp_path / "report.html").read_text()
    assert 'id="pnl-per-account"' in page and "broker login needed" in page


def test_labels_are_unique_and_colours_follow_the_strategy_not_the_order() -> None:
    labels = strategy_labels({"abcd1234": "Straddle", "abcd9999": "Straddle", "x": "Condor"})
    assert labels == {"abcd1234": "Straddle #abcd12", "abcd9999": "Straddle #abcd99", "x": "Condor"}
    assert strategy_colours(["b", "a", "c"]) == strategy_colours(["c", "b", "a"])
    assert len(set(strategy_colours(["a", "b", "c"]).values())) == 3


def test_each_simulated_session_gets_its_own_run_directory(tmp_path: Path) -> None:
    assert next_run_dir(tmp_path / "2027-01-05") == tmp_path / "2027-01-05" / "run-001"
    (tmp_path / "2027-01-05" / "run-001").mkdir(parents=True)
    (tmp_path / "2027-01-05" / "run-007").mkdir()
    assert next_run_dir(tmp_path / "2027-01-05") == tmp_path / "2027-01-05" / "run-008"
