"""Upstox's BOD instrument files (NSE.json.gz, BSE.json.gz) downloaded from a stub on 127.0.0.1: the
index options read (expiry from epoch milliseconds as an IST date, ticks from paise), everything
else passed over, unreadable records skipped and counted, and every failed or unusable download
raised whole as `MarketDataUnavailableError` (never an NSE-only or partial list)."""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import upstox as upstox_symbols
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import ListedContract, summarize
from shared_utils.market_data.upstox_master import INSTRUMENTS_URL, UpstoxInstruments
from tests.integration.brokers.stub_server import Response
from tests.integration.market_data.master_server import DownloadContract, FileHost, unavailable

FIXTURES = Path(__file__).parent / "fixtures"
NSE_FIXTURE = FIXTURES / "upstox_nse_instruments.json"
BSE_FIXTURE = FIXTURES / "upstox_bse_instruments.json"
BASE = "/market-quote/instruments/exchange"
NSE_PATH, BSE_PATH = f"{BASE}/NSE.json.gz", f"{BASE}/BSE.json.gz"
SOURCE = "upstox instruments"


class Host(FileHost):
    downloads = (NSE_PATH, BSE_PATH)
    name = SOURCE

    def master(self, session: requests.Session | None = None) -> UpstoxInstruments:
        return UpstoxInstruments(f"{self.url}{BASE}/", timeout_s=self.timeout_s, session=session)


def _gz(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), mtime=0)


@pytest.fixture
def host() -> Iterator[Host]:
    """Like the static host behind assets.upstox.com (S3's answer for a missing file)."""
    missing = Response(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
    files = {NSE_PATH: _gz(NSE_FIXTURE), BSE_PATH: _gz(BSE_FIXTURE)}
    with Host.serving(files, "application/json", missing) as running:
        yield running


def test_the_default_is_upstoxs_public_bod_files() -> None:
    assert INSTRUMENTS_URL == "https://assets.upstox.com/market-quote/instruments/exchange/"


def test_index_options_are_read_with_rupee_ticks_and_ist_expiries(host: Host) -> None:
    contracts = host.master().listed_contracts()

    by_token = {contract.token: contract for contract in contracts}
    assert by_token["45672"] == ListedContract(
        underlying=Underlying.NIFTY,
        expiry=date(2026, 12, 1),  # 1796149799000: 23:59:59 IST
        strike=Decimal("26000"),
        option_type=OptionType.CE,
        lot_size=65,
        tick_size=Decimal("0.05"),  # 5.0 in the file: paise
        tradingsymbol="NIFTY 26000 CE 01 DEC 26",
        token="45672",
    )
    assert by_token["1133978"] == ListedContract(
        underlying=Underlying.BANKEX,
        expiry=date(2026, 12, 31),
        strike=Decimal("62000"),
        option_type=OptionType.PE,
        lot_size=30,
        tick_size=Decimal("0.05"),
        tradingsymbol="BANKEX 62000 PE 31 DEC 26",
        token="1133978",
    )
    # stamped at 00:00 IST, which is the 28th in UTC: the exchange's day is the 29th
    assert by_token["52102"].expiry == date(2026, 12, 29)
    assert str(by_token["45672"].strike) == "26000" and str(by_token["45672"].tick_size) == "0.05"
    assert {contract.tick_size for contract in contracts} == {Decimal("0.05")}


def test_every_supported_index_is_read_on_its_own_exchange(host: Host) -> None:
    contracts = host.master().listed_contracts()

    assert Counter(contract.underlying for contract in contracts) == {
        Underlying.NIFTY: 8,
        Underlying.BANKNIFTY: 2,
        Underlying.FINNIFTY: 2,
        Underlying.MIDCPNIFTY: 2,
        Underlying.NIFTYNXT50: 2,
        Underlying.SENSEX: 4,
        Underlying.BANKEX: 2,
    }
    lots = {contract.underlying: contract.lot_size for contract in contracts}
    assert lots == {
        Underlying.NIFTY: 65,
        Underlying.BANKNIFTY: 30,
        Underlying.FINNIFTY: 60,
        Underlying.MIDCPNIFTY: 120,
        Underlying.NIFTYNXT50: 25,
        Underlying.SENSEX: 20,
        Underlying.BANKEX: 30,
    }
    sensex = {(c.expiry, c.tradingsymbol) for c in contracts if c.underlying is Underlying.SENSEX}
    assert (date(2026, 12, 3), "SENSEX 85000 CE 03 DEC 26") in sensex  # weekly
    assert (date(2026, 12, 31), "SENSEX 85000 PE 31 DEC 26") in sensex  # monthly: the same format
    assert Counter(contract.option_type for contract in contracts) == {OptionType.CE: 11, OptionType.PE: 11}


def test_every_listed_symbol_is_the_one_orders_would_send(host: Host) -> None:
    """The master's symbol and `symbols/upstox.py` agree, weekly and monthly, NSE and BSE."""
    contracts = host.master().listed_contracts()
    summary = summarize(contracts, date(2026, 11, 25), "upstox")
    for contract in contracts:
        index = summary.indices[contract.underlying]
        instrument = OptionInstrument(
            underlying=contract.underlying,
            expiry=contract.expiry,
            strike=contract.strike,
            option_type=contract.option_type,
            monthly=index.is_monthly(contract.expiry),
        )
        assert upstox_symbols.tradingsymbol(instrument) == contract.tradingsymbol


def test_other_instruments_are_passed_over_and_unreadable_ones_counted(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        contracts = host.master().listed_contracts()

    symbols = {contract.tradingsymbol for contract in contracts}
    not_ours = {
        "RELIANCE",  # equity
        "NIFTY",  # the index itself
        "NIFTY FUT 29 DEC 26",  # index future
        "RELIANCE 1600 CE 29 DEC 26",  # stock option
        "NIFTY 26100 CE 29 DEC 26",  # an option on an equity underlying, however named
        "SENSEX50 27000 CE 31 DEC 26",  # an index the platform does not trade
        "SENSEX FUT 31 DEC 26",
    }
    unreadable = {
        "NIFTY 26100 PE 01 DEC 26",  # expiry null
        "NIFTY 26150 CE 01 DEC 26",  # strike "n/a"
        "NIFTY 26150 PE 01 DEC 26",  # lot 0
        "BANKNIFTY 59100 CE 29 DEC 26",  # instrument key without a token
        "FINNIFTY 27550 CE 29 DEC 26",  # no tick size
        "FINNIFTY 27550 PE 29 DEC 26",  # no underlying symbol
        "SENSEX 85100 CE 03 DEC 26",  # expiry as a date string, not epoch milliseconds
    }
    assert not symbols & (not_ours | unreadable)
    assert len(contracts) == 22
    records = {r.getMessage(): r for r in caplog.records if "upstox instruments" in r.getMessage()}
    nse = records["upstox instruments NSE.json.gz: unreadable index-option records skipped"]
    bse = records["upstox instruments BSE.json.gz: unreadable index-option records skipped"]
    assert nse.levelno == bse.levelno == logging.WARNING
    assert (nse.records, nse.contracts, nse.malformed) == (27, 16, 6)  # type: ignore[attr-defined]
    assert (bse.records, bse.contracts, bse.malformed) == (11, 6, 1)  # type: ignore[attr-defined]


def test_a_clean_file_logs_at_info(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    records = [r for r in json.loads(BSE_FIXTURE.read_text()) if not isinstance(r.get("expiry"), str)]
    host.put(BSE_PATH, gzip.compress(json.dumps(records).encode()))
    with caplog.at_level(logging.INFO):
        host.master().listed_contracts()
    [record] = [r for r in caplog.records if "upstox instruments BSE.json.gz" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert (record.records, record.contracts, record.malformed) == (10, 6, 0)  # type: ignore[attr-defined]


def test_a_body_the_transport_already_unzipped_is_read_as_json(host: Host) -> None:
    """A host answering with Content-Encoding: gzip hands requests' caller the JSON itself."""
    host.put(NSE_PATH, NSE_FIXTURE.read_bytes())
    assert len(host.master().listed_contracts()) == 22


def test_a_missing_file_fails_the_whole_listing(host: Host) -> None:
    del host.stub.files[BSE_PATH]
    unavailable(host.master().listed_contracts, f"{SOURCE} BSE.json.gz: unavailable: HTTP 404", whole=True)


# The download contract (master_server.py), with these unusable bodies in place of NSE's file.
class TestDownloads(DownloadContract):
    site = Host
    unusable_path = NSE_PATH
    unusable_bodies = [
        (_gz(NSE_FIXTURE)[:400], "not gzip (400 bytes)"),  # cut short
        (gzip.compress(b"<html>maintenance</html>"), "not JSON (24 bytes)"),
        (gzip.compress(NSE_FIXTURE.read_bytes()[:3000]), "not JSON (3000 bytes)"),
        (b"", "not JSON (0 bytes)"),
        (b"<html><body>Under maintenance</body></html>", "not JSON"),
        (gzip.compress(b"null"), "not a JSON array but NoneType"),
        (gzip.compress(b'{"status": "error"}'), "not a JSON array but dict"),
        (
            gzip.compress(b"[]"),
            "no readable index option of a supported underlying (0 records",
        ),
    ]
    unusable_ids = [
        "truncated-gzip",
        "gzip-of-html",
        "gzip-of-cut-json",
        "empty",
        "html",
        "null",
        "object",
        "empty-array",
    ]


def test_a_file_without_one_readable_index_option_of_its_exchange_raises(host: Host) -> None:
    """BSE's file listing only NSE's options (or futures, stocks, unreadable ones) is not a BSE list."""
    nse = json.loads(NSE_FIXTURE.read_text())
    bse = [r for r in json.loads(BSE_FIXTURE.read_text()) if r.get("instrument_type") not in ("CE", "PE")]
    broken = [{**r, "strike_price": None} for r in json.loads(BSE_FIXTURE.read_text()) if r.get("weekly")]
    host.put(BSE_PATH, gzip.compress(json.dumps(nse + bse + broken).encode()))
    records = len(nse) + len(bse) + len(broken)
    unavailable(
        host.master().listed_contracts,
        f"{SOURCE} BSE.json.gz: malformed answer: no readable index option of a supported "
        f"underlying ({records} records, {len(broken)} unreadable index options)",
        whole=True,
    )
    assert len(broken) == 3
