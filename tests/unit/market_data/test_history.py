"""Historical minute bars: imported once (refused whole on a bad row, gaps reported as ranges),
read per simulated minute, and usable as the quoted market of a backtest."""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shared_utils import market_data
from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST, FixedClock
from shared_utils.errors import ConfigurationError
from shared_utils.execution.quoted_market import QuotedOptionMarket
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.history.importer import import_history
from shared_utils.market_data.history.layout import COLUMNS
from shared_utils.market_data.history.quotes import HistoricalQuotes
from shared_utils.market_data.history.report import HistoryImportRefused, ImportReport, minute_ranges

MONDAY = date(2026, 11, 23)  # a trading day; 2026-11-24 is a holiday, 2026-11-25 trades again
HOLIDAY = date(2026, 11, 24)
WEDNESDAY = date(2026, 11, 25)
EXPIRY = date(2026, 12, 1)  # NIFTY's weekly (Tuesday) after the November monthly
IMPORTED_AT = datetime(2026, 11, 26, 18, 0, tzinfo=IST)

Row = dict[str, Any]


def at(day: date, hhmm: str, seconds: int = 0) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, seconds, tzinfo=IST)


def stamp(day: date, hhmm: str) -> str:
    return at(day, hhmm).isoformat()


def index_bar(day: date, hhmm: str, close: str, symbol: str = "NIFTY") -> Row:
    return {
        "timestamp": stamp(day, hhmm),
        "symbol": symbol,
        "expiry": "",
        "strike": "",
        "type": "INDEX",
        "open": close,
        "high": close,
        "low": close,
        "close": close,
        "volume": "",
        "oi": "",
    }


def option_bar(
    day: date, hhmm: str, strike: str, kind: str, close: str, expiry: date = EXPIRY, volume: str = "1300"
) -> Row:
    return {
        "timestamp": stamp(day, hhmm),
        "symbol": "NIFTY",
        "expiry": expiry.isoformat(),
        "strike": strike,
        "type": kind,
        "open": close,
        "high": close,
        "low": close,
        "close": close,
        "volume": volume,
        "oi": "65000",
    }


# Forward ~26010 at 09:15: premiums roughly consistent with put-call parity.
PREMIUMS = {"25950": ("190.5", "130.25"), "26000": ("160", "150.5"), "26050": ("133.4", "173.9")}


def monday_bars() -> list[Row]:
    """Index bars 09:15, 09:16, 09:20; a chain of three strikes at 09:15 and 09:16 (26050 CE has
    no 09:16 bar, 25950 PE closes at 0 then), one 2026-11-23 contract at 09:15."""
    rows = [
        index_bar(MONDAY, t, c) for t, c in (("09:15", "26010.5"), ("09:16", "26012"), ("09:20", "26015"))
    ]
    for minute in ("09:15", "09:16"):
        for strike, (call, put) in PREMIUMS.items():
            if not (minute == "09:16" and strike == "26050"):
                rows.append(option_bar(MONDAY, minute, strike, "CE", call))
            rows.append(
                option_bar(
                    MONDAY, minute, strike, "PE", "0" if minute == "09:16" and strike == "25950" else put
                )
            )
    rows.append(option_bar(MONDAY, "09:15", "26000", "CE", "12.35", expiry=MONDAY))
    return rows


def write_csv(path: Path, rows: list[Row], columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def store_files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture
def monday_store(tmp_path: Path) -> tuple[Path, ImportReport]:
    store = tmp_path / "store"
    report = import_history([write_csv(tmp_path / "monday.csv", monday_bars())], store, now=IMPORTED_AT)
    return store, report


def test_an_import_reports_each_day_with_its_index_gaps_as_minute_ranges(
    monday_store: tuple[Path, ImportReport], tmp_path: Path
) -> None:
    _, report = monday_store

    [day] = report.days
    assert (day.underlying, day.day, day.session) == (Underlying.NIFTY, MONDAY, "09:15-15:40")
    assert day.index_bars == 3
    assert day.index_missing == ["09:17-09:19", "09:21-15:39"]
    assert (day.contracts, day.option_bars, day.contracts_with_gaps) == (7, 12, 7)
    assert day.missing_contract_minutes == 7 * 385 - 12
    assert not day.complete
    [source] = report.files
    assert source.sha256 == hashlib.sha256((tmp_path / "monday.csv").read_bytes()).hexdigest()
    assert (source.format, source.rows) == ("csv", 15)
    assert json.loads(report.model_dump_json())["imported_at"] == "2026-11-26T18:00:00+05:30"


def test_minute_ranges_compress_consecutive_minutes() -> None:
    assert minute_ranges(np.array([555, 556, 557, 600, 602, 603])) == ["09:15-09:17", "10:00", "10:02-10:03"]
    assert minute_ranges(np.array([], dtype=np.int64)) == []


def test_the_level_is_the_close_of_the_index_bar_of_the_minute_containing_the_time(
    monday_store: tuple[Path, ImportReport],
) -> None:
    quotes = HistoricalQuotes(monday_store[0])

    assert quotes.level("NIFTY", at(MONDAY, "09:15", 59)) == Decimal("26010.5")
    assert quotes.level("NIFTY", at(MONDAY, "09:16").astimezone(UTC)) == Decimal("26012")
    assert quotes.level("NIFTY", at(MONDAY, "09:17", 30)) is None  # a gap
    assert quotes.level("NIFTY", at(MONDAY, "09:14", 59)) is None  # before the open
    assert quotes.level("NIFTY", at(MONDAY, "15:40")) is None  # at the close
    assert quotes.level("NIFTY", at(WEDNESDAY, "09:15")) is None  # not stored
    assert quotes.level("BANKNIFTY", at(MONDAY, "09:15")) is None
    assert quotes.days("NIFTY") == [MONDAY] and quotes.days("SENSEX") == []
    assert quotes.expiries("NIFTY", MONDAY) == [MONDAY, EXPIRY]
    with pytest.raises(ConfigurationError, match="no historical store"):
        HistoricalQuotes(monday_store[0] / "elsewhere")


def test_chain_quotes_are_the_expirys_bars_of_the_minute_keyed_as_instruments(
    monday_store: tuple[Path, ImportReport],
) -> None:
    quotes = HistoricalQuotes(monday_store[0])

    first = {q.instrument: q for q in quotes.chain_quotes("NIFTY", EXPIRY, at(MONDAY, "09:15", 20))}
    second = {q.instrument: q for q in quotes.chain_quotes("NIFTY", EXPIRY, at(MONDAY, "09:16", 5))}

    assert len(first) == 6
    call = first["NIFTY|2026-12-01|26000|CE"]
    assert (call.last_price, call.volume, call.open_interest) == (Decimal("160"), 1300, 65000)
    assert call.as_of == at(MONDAY, "09:15") and call.as_of.tzinfo is not None
    assert first["NIFTY|2026-12-01|26050|PE"].last_price == Decimal("173.9")
    assert "NIFTY|2026-12-01|26050|CE" not in second  # no bar that minute
    assert "NIFTY|2026-12-01|25950|PE" not in second  # a close of 0 is no quote
    assert len(second) == 4
    assert [q.instrument for q in quotes.chain_quotes("NIFTY", MONDAY, at(MONDAY, "09:15"))] == [
        "NIFTY|2026-11-23|26000|CE"
    ]
    assert quotes.chain_quotes("NIFTY", EXPIRY, at(MONDAY, "09:20")) == []
    assert quotes.chain_quotes("NIFTY", date(2026, 12, 8), at(MONDAY, "09:15")) == []


def test_a_backtests_quoted_market_prices_and_builds_chains_from_the_store(
    monday_store: tuple[Path, ImportReport],
) -> None:
    quotes = HistoricalQuotes(monday_store[0])
    clock = FixedClock(at(MONDAY, "09:15", 20))
    market = QuotedOptionMarket(
        quotes,
        lambda underlying: quotes.level(underlying, clock.now()),
        clock,
        max_age=timedelta(seconds=90),
        rate=0.065,
    )
    contract = OptionInstrument(
        underlying=Underlying.NIFTY, expiry=EXPIRY, strike=Decimal("26000"), option_type=OptionType.CE
    )

    chain = market.chain("NIFTY", EXPIRY)
    assert chain is not None
    assert list(chain.strikes) == [25950.0, 26000.0, 26050.0]
    assert 25990 < chain.underlying_price < 26030
    assert market.price(contract) == Decimal("160")

    clock.set(at(MONDAY, "09:25"))  # the index has no bar, and no contract has one
    assert market.chain("NIFTY", EXPIRY) is None
    assert market.price(contract) is None


def test_a_parquet_file_with_typed_columns_imports_like_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame(monday_bars())
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601").dt.tz_convert(UTC)
    frame["expiry"] = [date.fromisoformat(e) if e else None for e in frame["expiry"]]
    for column in ("strike", "open", "high", "low", "close", "volume", "oi"):
        frame[column] = pd.to_numeric(frame[column].replace("", None))
    frame.to_parquet(tmp_path / "monday.parquet", engine="pyarrow")
    store = tmp_path / "store"

    report = import_history([tmp_path / "monday.parquet"], store, now=IMPORTED_AT)

    assert report.files[0].format == "parquet"
    assert report.days[0].index_missing == ["09:17-09:19", "09:21-15:39"]
    quotes = HistoricalQuotes(store)
    assert quotes.level("NIFTY", at(MONDAY, "09:16")) == Decimal("26012")
    assert len(quotes.chain_quotes("NIFTY", EXPIRY, at(MONDAY, "09:15"))) == 6


def test_a_naive_timestamp_is_ist_and_an_offset_is_honoured(tmp_path: Path) -> None:
    rows = [
        index_bar(MONDAY, "09:15", "26000"),
        index_bar(MONDAY, "09:16", "26001"),
        index_bar(MONDAY, "09:17", "26002"),
    ]
    rows[0]["timestamp"] = "2026-11-23 09:15"
    rows[1]["timestamp"] = "2026-11-23T03:46:00Z"
    store = tmp_path / "store"

    import_history([write_csv(tmp_path / "nifty.csv", rows)], store, now=IMPORTED_AT)

    quotes = HistoricalQuotes(store)
    assert [quotes.level("NIFTY", at(MONDAY, t)) for t in ("09:15", "09:16", "09:17")] == [
        Decimal("26000"),
        Decimal("26001"),
        Decimal("26002"),
    ]


# One defect per row of an otherwise good file: (row, what is changed, the reason given).
DEFECTS: list[tuple[int, Row, str]] = [
    (1, {"timestamp": "yesterday"}, "timestamp 'yesterday' is not an ISO 8601 date-time"),
    (2, {"close": "26,012"}, "close '26,012' is not a number"),
    (3, {"strike": "26000"}, "an INDEX row has no strike (found '26000')"),
    (4, {"volume": "12.5"}, "volume 12.5 is not a whole number"),
    (5, {"expiry": "01/12/2026"}, "expiry '01/12/2026' is not a date (YYYY-MM-DD)"),
    (6, {"oi": ""}, "oi is missing"),
    (7, {"expiry": "2026-11-17"}, "expiry 2026-11-17 is before the bar's date 2026-11-23"),
    (8, {"symbol": "NIFTY50"}, "unknown symbol 'NIFTY50'"),
    (9, {"type": "FUT"}, "unknown type 'FUT': expected CE, PE or INDEX"),
    (
        10,
        {"strike": "26010"},
        "strike 26010 is not on the 50-point grid of NIFTY contracts expiring 2026-12-01",
    ),
    (11, {"low": "-1"}, "low -1 is below zero"),
    (12, {"high": "120", "low": "130"}, "high 120 is below low 130"),
    (13, {"timestamp": stamp(HOLIDAY, "09:16")}, "2026-11-24 is not a trading day on NSE (1 row(s) on it)"),
    (
        14,
        {"timestamp": stamp(MONDAY, "15:40")},
        "bar at 15:40 is outside the session 09:15-15:40 of 2026-11-23",
    ),
    (15, {"timestamp": "2026-11-23T09:20:30+05:30"}, "is not the start of a minute"),
]


def test_every_bad_row_is_named_with_its_row_and_reason_and_nothing_is_written(tmp_path: Path) -> None:
    rows = monday_bars()
    for row, changes, _ in DEFECTS:
        rows[row - 1] = {**rows[row - 1], **changes}
    rows += [index_bar(MONDAY, "09:30", "26020"), index_bar(MONDAY, "09:30", "26021")]
    path = write_csv(tmp_path / "bad.csv", rows)

    with pytest.raises(HistoryImportRefused) as refused:
        import_history([path], tmp_path / "store", now=IMPORTED_AT)

    found = [(p.file, p.row) for p in refused.value.problems]
    assert found == [(str(path), row) for row in [*range(1, 16), 17]]
    for problem, (_, _, reason) in zip(refused.value.problems, DEFECTS, strict=False):
        assert reason in problem.reason
    assert refused.value.problems[-1].reason == f"same instrument and minute as {path} row 16"
    assert refused.value.total == 16
    assert "bad.csv row 14: bar at 15:40" in refused.value.message
    assert not (tmp_path / "store").exists()


def _replace(row: int, **changes: str) -> list[Row]:
    rows = monday_bars()
    rows[row - 1] = {**rows[row - 1], **changes}
    return rows


def test_a_blank_line_and_a_minute_repeated_in_another_file_are_named(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "first.csv", [index_bar(MONDAY, "09:15", "26000")])
    second = write_csv(
        tmp_path / "second.csv", [index_bar(MONDAY, "09:16", "26001"), index_bar(MONDAY, "09:15", "26002")]
    )
    second.write_text(second.read_text(encoding="utf-8").replace("\n", "\n\n", 1), encoding="utf-8")

    with pytest.raises(HistoryImportRefused) as refused:
        import_history([first, second], tmp_path / "store", now=IMPORTED_AT)

    assert [(p.file, p.row, p.reason) for p in refused.value.problems] == [
        (str(second), 1, "the row is empty"),
        (str(second), 3, f"same instrument and minute as {first} row 1"),
    ]


def test_missing_columns_and_unsupported_files_are_named(tmp_path: Path) -> None:
    short = write_csv(tmp_path / "short.csv", monday_bars(), columns=COLUMNS[:-2])
    text = tmp_path / "bars.txt"
    text.write_text("timestamp\n", encoding="utf-8")

    with pytest.raises(HistoryImportRefused) as refused:
        import_history([short, text], tmp_path / "store", now=IMPORTED_AT)

    assert [(p.file, p.row) for p in refused.value.problems] == [(str(short), None), (str(text), None)]
    assert refused.value.problems[0].reason.startswith("missing columns: volume, oi")
    assert "unsupported file type" in refused.value.problems[1].reason


def test_problems_are_listed_up_to_the_limit_in_row_order_with_the_total(tmp_path: Path) -> None:
    rows = [{**row, "close": "n/a"} for row in monday_bars()]
    path = write_csv(tmp_path / "bad.csv", rows)

    with pytest.raises(HistoryImportRefused) as refused:
        import_history([path], tmp_path / "store", now=IMPORTED_AT, max_problems=5)

    assert [p.row for p in refused.value.problems] == [1, 2, 3, 4, 5]
    assert refused.value.total == 15
    assert "... and 10 more" in refused.value.message


def test_a_refused_import_leaves_the_previous_store_as_it_was(
    monday_store: tuple[Path, ImportReport], tmp_path: Path
) -> None:
    store, _ = monday_store
    before = store_files(store)
    good = write_csv(tmp_path / "wednesday.csv", [index_bar(WEDNESDAY, "09:15", "26100")])
    bad = write_csv(tmp_path / "bad.csv", _replace(4, strike="26010"))

    with pytest.raises(HistoryImportRefused):
        import_history([good, bad], store, now=IMPORTED_AT + timedelta(days=1))

    assert store_files(store) == before
    assert sorted(p.name for p in store.iterdir()) == ["NIFTY", "manifest.json"]


def test_importing_a_day_again_replaces_it_and_keeps_the_other_days(
    monday_store: tuple[Path, ImportReport], tmp_path: Path
) -> None:
    store, _ = monday_store
    later = IMPORTED_AT + timedelta(days=1)
    wednesday = write_csv(tmp_path / "wednesday.csv", [index_bar(WEDNESDAY, "09:15", "26100")])
    import_history([wednesday], store, now=later)
    again = write_csv(tmp_path / "monday-again.csv", [index_bar(MONDAY, "09:30", "25990")])

    report = import_history([again], store, now=later)

    quotes = HistoricalQuotes(store)
    assert quotes.days("NIFTY") == [MONDAY, WEDNESDAY]
    assert quotes.level("NIFTY", at(MONDAY, "09:15")) is None
    assert quotes.level("NIFTY", at(MONDAY, "09:30")) == Decimal("25990")
    assert quotes.level("NIFTY", at(WEDNESDAY, "09:15")) == Decimal("26100")
    assert quotes.expiries("NIFTY", MONDAY) == []
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["sources"]) == {
        report.files[0].sha256,
        hashlib.sha256(wednesday.read_bytes()).hexdigest(),
    }
    assert manifest["days"]["NIFTY"]["2026-11-23"]["imported_at"] == later.isoformat()


def test_the_reader_needs_neither_pandas_nor_pyarrow(
    monday_store: tuple[Path, ImportReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a Lambda without them: importing either fails while the reader is imported afresh."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setattr(market_data, "history", market_data.history)
    for name in [name for name in sys.modules if name.startswith("shared_utils.market_data.history")]:
        monkeypatch.delitem(sys.modules, name)

    fresh = importlib.import_module("shared_utils.market_data.history.quotes")

    assert fresh.HistoricalQuotes(monday_store[0]).level("NIFTY", at(MONDAY, "09:16")) == Decimal("26012")
    with pytest.raises(ImportError):
        importlib.import_module("shared_utils.market_data.history.importer")
