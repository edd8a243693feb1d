"""Dhan's compact scrip master downloaded from a stub on 127.0.0.1: the index options read with
their securityId and a symbol naming one contract (Dhan's SEM_TRADING_SYMBOL is shared by a
month's weeklies), ticks read from paise, everything else passed over, unreadable rows skipped
and counted, and every failed or unusable download raised whole as `MarketDataUnavailableError`."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.dhan_master import COMPACT_URL, DhanScripMaster
from shared_utils.market_data.listing import ListedContract, summarize
from tests.integration.market_data.master_server import DownloadContract, FileHost, unavailable

FIXTURE = Path(__file__).parent / "fixtures" / "dhan_scrip_master.csv"
PATH = "/api-data/api-scrip-master.csv"
SOURCE = "dhan scrip master"
HEADER = FIXTURE.read_text().splitlines()[0]


class Host(FileHost):
    downloads = (PATH,)
    name = SOURCE

    def serve(self, body: bytes) -> None:
        self.put(PATH, body)

    def serve_rows(self, *rows: str) -> None:
        self.serve("\n".join([HEADER, *rows]).encode())

    def master(self, session: requests.Session | None = None) -> DhanScripMaster:
        return DhanScripMaster(f"{self.url}{PATH}", timeout_s=self.timeout_s, session=session)


@pytest.fixture
def host() -> Iterator[Host]:
    with Host.serving({PATH: FIXTURE.read_bytes()}, "text/csv") as running:
        yield running


def _log(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    [record] = [r for r in caplog.records if "dhan scrip master" in r.getMessage()]
    return record


def test_the_default_is_dhans_public_compact_master() -> None:
    assert COMPACT_URL == "https://images.dhan.co/api-data/api-scrip-master.csv"


def test_index_options_are_read_with_their_security_id(host: Host) -> None:
    by_token = {contract.token: contract for contract in host.master().listed_contracts()}
    assert by_token["43650"] == ListedContract(
        underlying=Underlying.NIFTY,
        expiry=date(2026, 11, 24),  # "2026-11-24 14:30:00"
        strike=Decimal("24000"),  # "24000.00000"
        option_type=OptionType.CE,
        lot_size=65,  # "65.0"
        tick_size=Decimal("0.05"),  # "5.0000", paise
        tradingsymbol="NIFTY 24 NOV 24000 CALL",
        token="43650",
    )
    assert by_token["1100481"] == ListedContract(
        underlying=Underlying.SENSEX,
        expiry=date(2026, 11, 26),
        strike=Decimal("85000"),
        option_type=OptionType.PE,
        lot_size=20,
        tick_size=Decimal("0.05"),
        tradingsymbol="SENSEX 26 NOV 85000 PUT",
        token="1100481",
    )
    assert str(by_token["43650"].strike) == "24000" and str(by_token["43650"].tick_size) == "0.05"
    assert by_token["43720"].strike == Decimal("12862.5")
    assert by_token["43720"].tradingsymbol == "MIDCPNIFTY 24 NOV 12862.5 CALL"


def test_weeklies_sharing_dhans_trading_symbol_get_one_symbol_each(host: Host) -> None:
    """NIFTY-Dec2026-24000-CE is the 1, 8 and 29 Dec contract in Dhan's SEM_TRADING_SYMBOL."""
    contracts = host.master().listed_contracts()
    december = {c.token: c.tradingsymbol for c in contracts if c.token in ("61200", "61210", "62400")}
    assert december == {
        "61200": "NIFTY 01 DEC 24000 CALL",
        "61210": "NIFTY 08 DEC 24000 CALL",
        "62400": "NIFTY 29 DEC 24000 CALL",
    }
    keys = Counter((c.underlying, c.tradingsymbol) for c in contracts)
    assert max(keys.values()) == 1


def test_every_supported_index_is_read_with_its_lot(host: Host) -> None:
    contracts = host.master().listed_contracts()
    assert Counter(contract.underlying for contract in contracts) == {
        Underlying.NIFTY: 14,
        Underlying.BANKNIFTY: 3,
        Underlying.FINNIFTY: 2,
        Underlying.MIDCPNIFTY: 2,
        Underlying.NIFTYNXT50: 1,
        Underlying.SENSEX: 5,
        Underlying.BANKEX: 2,
    }
    assert {contract.underlying: contract.lot_size for contract in contracts} == {
        Underlying.NIFTY: 65,
        Underlying.BANKNIFTY: 30,
        Underlying.FINNIFTY: 60,
        Underlying.MIDCPNIFTY: 120,
        Underlying.NIFTYNXT50: 25,
        Underlying.SENSEX: 20,
        Underlying.BANKEX: 30,
    }
    assert {contract.tick_size for contract in contracts} == {Decimal("0.05")}


def test_the_listing_summarizes_the_dhan_master(host: Host) -> None:
    listing = summarize(host.master().listed_contracts(), date(2026, 11, 24), "dhan")
    nifty = listing.indices[Underlying.NIFTY]
    assert nifty.expiry_dates == [
        date(2026, 11, 24),
        date(2026, 12, 1),
        date(2026, 12, 8),
        date(2026, 12, 29),
    ]
    assert nifty.expiry(date(2026, 11, 24)) is not None
    assert nifty.expiry(date(2026, 11, 17)) is None  # expired: left out
    assert (nifty.tick_size, nifty.expiries[0].lot_size, nifty.expiries[0].strike_step) == (
        Decimal("0.05"),
        65,
        Decimal("50"),
    )
    assert listing.indices[Underlying.SENSEX].expiry_dates == [
        date(2026, 11, 26),
        date(2026, 12, 3),
    ]


def test_other_instruments_are_passed_over_and_unreadable_ones_counted(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        contracts = host.master().listed_contracts()
    tokens = {contract.token for contract in contracts}
    not_ours = {
        "1333",  # equity
        "13",  # the index itself
        "52175",  # index future
        "88001",  # stock option
        "9001",  # currency option
        "513413",  # MCX option on a future
        "1100600",  # SENSEX50: an index the platform does not trade
        "1100610",  # SENSEX future
    }
    unreadable = {"43731", "43732"}  # no strike; option type XX
    assert not tokens & (not_ours | unreadable)
    assert len(contracts) == 29
    record = _log(caplog)
    assert record.levelno == logging.WARNING
    counts = (record.rows, record.contracts, record.malformed, record.ambiguous)  # type: ignore[attr-defined]
    assert counts == (45, 29, 2, 0)


def test_a_clean_master_logs_at_info(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    host.serve_rows(
        "NSE,D,43650,OPTIDX,0,NIFTY-Nov2026-24000-CE,65.0,NIFTY 24 NOV 24000 CALL,"
        "2026-11-24 14:30:00,24000.00000,CE,5.0000,M,OP,,"
    )
    with caplog.at_level(logging.INFO):
        [contract] = host.master().listed_contracts()
    assert contract.tradingsymbol == "NIFTY 24 NOV 24000 CALL"
    assert _log(caplog).levelno == logging.INFO


def test_two_contracts_with_one_display_symbol_are_both_dropped(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    """The display symbol has no year: long-dated contracts of one day and month collide."""
    host.serve_rows(
        "NSE,D,43650,OPTIDX,0,NIFTY-Nov2026-24000-CE,65.0,NIFTY 24 NOV 24000 CALL,"
        "2026-11-24 14:30:00,24000.00000,CE,5.0000,M,OP,,",
        "NSE,D,70001,OPTIDX,0,NIFTY-Jun2027-30000-CE,65.0,NIFTY 29 JUN 30000 CALL,"
        "2027-06-29 14:30:00,30000.00000,CE,5.0000,M,OP,,",
        "NSE,D,70002,OPTIDX,0,NIFTY-Jun2032-30000-CE,65.0,NIFTY 29 JUN 30000 CALL,"
        "2032-06-29 14:30:00,30000.00000,CE,5.0000,M,OP,,",
    )
    with caplog.at_level(logging.INFO):
        [contract] = host.master().listed_contracts()
    assert contract.token == "43650"
    assert _log(caplog).ambiguous == 2  # type: ignore[attr-defined]


def test_a_display_symbol_of_another_form_is_counted_not_dropped(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    host.serve_rows(
        "NSE,D,43650,OPTIDX,0,NIFTY-Nov2026-24000-CE,65.0,NIFTY 24 NOV 24000 CE,"
        "2026-11-24 14:30:00,24000.00000,CE,5.0000,M,OP,,"
    )
    with caplog.at_level(logging.INFO):
        [contract] = host.master().listed_contracts()
    assert contract.tradingsymbol == "NIFTY 24 NOV 24000 CALL"
    record = _log(caplog)
    assert record.levelno == logging.WARNING and record.display_symbol_differs == 1  # type: ignore[attr-defined]


def test_a_tick_below_one_is_already_in_rupees(host: Host) -> None:
    host.serve_rows(
        "BSE,D,1100480,OPTIDX,0,SENSEX-Nov2026-85000-CE,20.0,SENSEX 26 NOV 85000 CALL,"
        "2026-11-26 14:30:00,85000.00000,CE,0.05,M,IO,,"
    )
    [contract] = host.master().listed_contracts()
    assert contract.tick_size == Decimal("0.05")


# The download contract (master_server.py), with these unusable bodies in place of the scrip master.
class TestDownloads(DownloadContract):
    site = Host
    unusable_path = PATH
    unusable_bodies = [
        (b"", "no column SEM_EXM_EXCH_ID"),
        (b"<html><body>Under maintenance</body></html>", "no column SEM_EXM_EXCH_ID"),
        (b"SEM_EXM_EXCH_ID,SEM_SEGMENT\nNSE,D\n", "no column SEM_SMST_SECURITY_ID"),
        (b"\xff\xfeS\x00E\x00M\x00", "not UTF-8 text (8 bytes)"),
        (
            HEADER.encode() + b"\n",
            "no readable index option of a supported underlying (0 rows",
        ),
    ]
    unusable_ids = ["empty", "html", "columns", "utf16", "header-only"]


def test_a_master_without_one_readable_index_option_raises(host: Host) -> None:
    """Only futures, stocks and unreadable options: nothing partial (or empty) is returned."""
    rows = FIXTURE.read_text().splitlines()[1:]
    others = [row for row in rows if ",OPTIDX," not in row]
    broken = [
        row.replace(" 14:30:00", "x").replace("2026-", "26-") for row in rows if ",OPTIDX,0,NIFTY-" in row
    ]
    host.serve_rows(*others, *broken)
    unavailable(
        host.master().listed_contracts,
        f"{SOURCE}: malformed answer: no readable index option of a supported underlying "
        f"({len(others) + len(broken)} rows, {len(broken)} unreadable index options, 0 ambiguous)",
        whole=True,
    )
    assert len(broken) == 16
