"""A simulated session's report says when the day ran on a provisional calendar."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path

from local_platform.report import write_report
from local_platform.session_log import SessionLog
from shared_utils.clock import IST

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
