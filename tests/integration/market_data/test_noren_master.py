"""Shoonya's NFO and BFO symbol files (zips of one CSV each, zipped here from the fixtures) from a
stub on 127.0.0.1: the index options read (BFO's by BSE's product codes BSXOPT and BKXOPT),
everything else passed over, unreadable rows skipped and counted per file, and every failed or
unusable download of either file raised whole as `MarketDataUnavailableError`."""

from __future__ import annotations

import io
import logging
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import ListedContract
from shared_utils.market_data.noren_master import SYMBOL_FILES_URL, NorenSymbolFiles
from tests.integration.market_data.master_server import DownloadContract, FileHost, unavailable

FIXTURES = Path(__file__).parent / "fixtures"
NFO_CSV = (FIXTURES / "noren_nfo_symbols.csv").read_text()
BFO_CSV = (FIXTURES / "noren_bfo_symbols.csv").read_text()
NFO, BFO = "/NFO_symbols.txt.zip", "/BFO_symbols.txt.zip"
HEADER = "Exchange,Token,LotSize,Symbol,TradingSymbol,Expiry,Instrument,OptionType,StrikePrice,TickSize,\n"
SOURCE = "finvasia"


def zipped(*members: tuple[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


class Host(FileHost):
    downloads = (NFO, BFO)
    name = SOURCE

    def master(self, session: requests.Session | None = None) -> NorenSymbolFiles:
        return NorenSymbolFiles(f"{self.url}/", timeout_s=self.timeout_s, session=session)


@pytest.fixture
def host() -> Iterator[Host]:
    files = {NFO: zipped(("NFO_symbols.txt", NFO_CSV)), BFO: zipped(("BFO_symbols.txt", BFO_CSV))}
    with Host.serving(files, "application/zip") as running:
        yield running


def test_the_default_is_shoonyas_public_base_url() -> None:
    assert SYMBOL_FILES_URL == "https://api.shoonya.com/"


def test_index_options_of_both_files_are_read(host: Host) -> None:
    contracts = host.master().listed_contracts()

    assert host.paths() == [NFO, BFO]
    by_token = {contract.token: contract for contract in contracts}
    assert by_token["45672"] == ListedContract(
        underlying=Underlying.NIFTY,
        expiry=date(2026, 12, 1),
        strike=Decimal("26000"),
        option_type=OptionType.CE,
        lot_size=65,
        tick_size=Decimal("0.05"),
        tradingsymbol="NIFTY01DEC26C26000",
        token="45672",
    )
    assert by_token["825311"] == ListedContract(
        underlying=Underlying.SENSEX,  # Symbol BSXOPT
        expiry=date(2026, 12, 3),
        strike=Decimal("85000"),
        option_type=OptionType.PE,
        lot_size=20,
        tick_size=Decimal("0.05"),
        tradingsymbol="SENSEX26D0385000PE",
        token="825311",
    )
    assert by_token["826404"].underlying is Underlying.BANKEX  # Symbol BKXOPT
    assert str(by_token["45672"].strike) == "26000" and str(by_token["45672"].tick_size) == "0.05"
    assert {contract.tick_size for contract in contracts} == {Decimal("0.05")}
    assert (min(c.strike for c in contracts), max(c.strike for c in contracts)) == (13525, 85100)


def test_every_supported_index_is_read_with_its_lot(host: Host) -> None:
    contracts = host.master().listed_contracts()

    assert Counter(contract.underlying for contract in contracts) == {
        Underlying.NIFTY: 8,
        Underlying.BANKNIFTY: 2,
        Underlying.FINNIFTY: 2,
        Underlying.MIDCPNIFTY: 2,
        Underlying.NIFTYNXT50: 2,
        Underlying.SENSEX: 8,
        Underlying.BANKEX: 4,
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
    assert {c.expiry for c in contracts if c.underlying is Underlying.SENSEX} == {
        date(2026, 12, 3),
        date(2026, 12, 31),
    }


def test_other_rows_are_passed_over_and_unreadable_ones_counted_per_file(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        contracts = host.master().listed_contracts()

    symbols = {contract.tradingsymbol for contract in contracts}
    not_ours = {
        "NIFTY29DEC26F",  # FUTIDX
        "BANKNIFTY29DEC26F",
        "RELIANCE29DEC26C1600",  # OPTSTK
        "RELIANCE29DEC26F",  # FUTSTK
        "SENSEX26DECFUT",  # BSXFUT
        "BANKEX26DECFUT",
        "SENSEX5026DEC27000CE",  # SX50OPT: an index the platform does not trade
    }
    unreadable = {
        "NIFTY01DEC26C26100",  # expiry 31-FOO-2026
        "BANKNIFTY29DEC26C59200",  # no strike
        "FINNIFTY29DEC26X27550",  # option type XX
        "NIFTY01DEC26P26100",  # the line stops after the expiry
        "SENSEX26D0385200CE",  # no token
    }
    assert not symbols & (not_ours | unreadable)
    assert len(contracts) == 28
    logged = {r.getMessage(): r for r in caplog.records if r.getMessage().startswith("finvasia")}
    nfo = logged["finvasia NFO_symbols.txt.zip: unreadable index-option rows skipped"]
    bfo = logged["finvasia BFO_symbols.txt.zip: unreadable index-option rows skipped"]
    assert nfo.levelno == bfo.levelno == logging.WARNING
    assert (nfo.rows, nfo.contracts, nfo.malformed) == (24, 16, 4)  # type: ignore[attr-defined]
    assert (bfo.rows, bfo.contracts, bfo.malformed) == (16, 12, 1)  # type: ignore[attr-defined]


def test_a_file_of_clean_rows_logs_at_info_and_needs_no_trailing_comma(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    nfo = [line.rstrip(",") for line in NFO_CSV.splitlines()[:3]]  # header, a future, an option
    host.put(NFO, zipped(("NFO_symbols.txt", "\r\n".join(nfo) + "\r\n")))
    with caplog.at_level(logging.INFO):
        contracts = host.master().listed_contracts()
    assert [c.tradingsymbol for c in contracts if c.underlying is Underlying.NIFTY] == ["NIFTY01DEC26C25950"]
    [record] = [r for r in caplog.records if r.getMessage() == "finvasia NFO_symbols.txt.zip: read"]
    assert record.levelno == logging.INFO
    assert (record.rows, record.contracts, record.malformed) == (2, 1, 0)  # type: ignore[attr-defined]


GOOD_BFO = zipped(("BFO_symbols.txt", BFO_CSV))


# The download contract (master_server.py), with these unusable bodies in place of the BFO file.
class TestDownloads(DownloadContract):
    site = Host
    unusable_path = BFO
    unusable_bodies = [
        (b"", "not a zip of a text (0 bytes)"),
        (b"PK\x03\x04 this is not what it claims to be", "not a zip of a text"),
        (GOOD_BFO[: len(GOOD_BFO) // 2], "not a zip of a text"),  # cut short
        (
            GOOD_BFO.replace(b"BFO_symbols.txt", b"BFO_symbols.txx", 1)[:-30] + b"\0" * 30,
            "not a zip of a text",
        ),
        (b"<html><body>Under maintenance</body></html>", "not a zip of a text"),
        (zipped(), "a zip of 0 files [], not one"),
        (zipped(("BFO_symbols.txt", BFO_CSV), ("readme.txt", "x")), "a zip of 2 files"),
        (zipped(("BFO_symbols.txt", BFO_CSV.encode("utf-16"))), "not a zip of a text"),
        (zipped(("BFO_symbols.txt", "")), "missing columns ['Exchange', 'Token'"),
        (
            zipped(("BFO_symbols.txt", "Exchange,Token,LotSize,Symbol,TradingSymbol,Instrument,TickSize,\n")),
            "missing columns ['Expiry', 'OptionType', 'StrikePrice']",
        ),
        (
            zipped(("BFO_symbols.txt", HEADER)),
            "no readable index option of a supported underlying (0 rows, 0 unreadable index options)",
        ),
    ]
    unusable_ids = [
        "empty-body",
        "corrupt",
        "truncated",
        "bad-directory",
        "html",
        "empty-zip",
        "two-files",
        "not-utf8",
        "empty-text",
        "cash-segment-header",
        "header-only",
    ]


def test_a_file_without_one_readable_index_option_raises(host: Host) -> None:
    """Futures, another index and unreadable options only: nothing partial is returned."""
    lines = BFO_CSV.splitlines()
    kept = [line for line in lines[1:] if "OPTIDX" not in line or "SX50OPT" in line]
    broken = [line.replace("-DEC-2026", "-XYZ-2026") for line in lines[1:] if ",BSXOPT," in line]
    host.put(BFO, zipped(("BFO_symbols.txt", "\n".join([lines[0], *kept, *broken]) + "\n")))
    unavailable(
        host.master().listed_contracts,
        f"{SOURCE} BFO_symbols.txt.zip: malformed answer: no readable index option of a supported underlying "
        f"({len(kept) + len(broken)} rows, {len(broken)} unreadable index options)",
        whole=True,
    )
    assert len(broken) == 9
