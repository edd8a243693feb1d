"""Shoonya's NFO and BFO symbol files (zips of one CSV each, zipped here from the fixtures) from a
stub on 127.0.0.1: the index options read (BFO's by BSE's product codes BSXOPT and BKXOPT),
everything else passed over, unreadable rows skipped and counted per file, and every failed or
unusable download of either file raised whole as `MarketDataUnavailableError`."""

from __future__ import annotations

import io
import logging
import re
import socket
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing import ListedContract
from shared_utils.market_data.noren_master import SYMBOL_FILES_URL, NorenSymbolFiles
from shared_utils.models.common import OptionType
from tests.integration.brokers.stub_server import BrokerStub, Fault, Request, Response, StubHttpServer

FIXTURES = Path(__file__).parent / "fixtures"
NFO_CSV = (FIXTURES / "noren_nfo_symbols.csv").read_text()
BFO_CSV = (FIXTURES / "noren_bfo_symbols.csv").read_text()
NFO, BFO = "/NFO_symbols.txt.zip", "/BFO_symbols.txt.zip"
HEADER = "Exchange,Token,LotSize,Symbol,TradingSymbol,Expiry,Instrument,OptionType,StrikePrice,TickSize,\n"
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0


def zipped(*members: tuple[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


@dataclass
class FileStub(BrokerStub):
    """Serves fixed files by path, like a static file host."""

    files: dict[str, bytes] = field(default_factory=dict)

    def route(self, request: Request) -> Response:
        body = self.files.get(request.path)
        if body is None:
            return Response(404, b"Not Found", "text/plain")
        return Response(200, body, "application/zip")


@dataclass
class Host:
    stub: FileStub
    url: str

    def files(self) -> NorenSymbolFiles:
        return NorenSymbolFiles(f"{self.url}/", timeout_s=CLIENT_TIMEOUT_S)

    def paths(self) -> list[str]:
        return [request.path for request in self.stub.requests]


@pytest.fixture
def host() -> Iterator[Host]:
    stub = FileStub(
        files={NFO: zipped(("NFO_symbols.txt", NFO_CSV)), BFO: zipped(("BFO_symbols.txt", BFO_CSV))}
    )
    with StubHttpServer(stub) as server:
        yield Host(stub=stub, url=server.url)


def test_the_default_is_shoonyas_public_base_url() -> None:
    assert SYMBOL_FILES_URL == "https://api.shoonya.com/"


def test_index_options_of_both_files_are_read(host: Host) -> None:
    contracts = host.files().listed_contracts()

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
    contracts = host.files().listed_contracts()

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
        contracts = host.files().listed_contracts()

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
    host.stub.files[NFO] = zipped(("NFO_symbols.txt", "\r\n".join(nfo) + "\r\n"))
    with caplog.at_level(logging.INFO):
        contracts = host.files().listed_contracts()
    assert [c.tradingsymbol for c in contracts if c.underlying is Underlying.NIFTY] == ["NIFTY01DEC26C25950"]
    [record] = [r for r in caplog.records if r.getMessage() == "finvasia NFO_symbols.txt.zip: read"]
    assert record.levelno == logging.INFO
    assert (record.rows, record.contracts, record.malformed) == (2, 1, 0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (
            Fault(NFO, status=500, body=b"<html>500</html>", content_type="text/html"),
            "NFO: unavailable: HTTP 500",
        ),
        (
            Fault(BFO, status=500, body=b"<html>500</html>", content_type="text/html"),
            "BFO: unavailable: HTTP 500",
        ),
        (Fault(BFO, status=404, body=b"Not Found", content_type="text/plain"), "BFO: unavailable: HTTP 404"),
        (Fault(NFO, stall_s=STALL_S), f"NFO: unavailable: no answer in {CLIENT_TIMEOUT_S}s"),
        (Fault(BFO, stall_s=STALL_S), f"BFO: unavailable: no answer in {CLIENT_TIMEOUT_S}s"),
    ],
    ids=["nfo-500", "bfo-500", "bfo-404", "nfo-stall", "bfo-stall"],
)
def test_a_failed_download_of_either_file_raises_market_data_unavailable(
    host: Host, fault: Fault, cause: str
) -> None:
    """A failed BFO download after a good NFO one fails the whole read: no NSE-only listing."""
    host.stub.faults.append(fault)
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailableError) as error:
        host.files().listed_contracts()
    assert time.monotonic() - started < STALL_S
    exchange, detail = cause.split(": ", 1)
    assert error.value.message == f"finvasia {exchange}_symbols.txt.zip: {detail}"


def test_a_refused_connection_raises_market_data_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    files = NorenSymbolFiles(f"http://127.0.0.1:{closed_port}", timeout_s=CLIENT_TIMEOUT_S)
    with pytest.raises(
        MarketDataUnavailableError,
        match=re.escape("finvasia NFO_symbols.txt.zip: unavailable: ConnectionError"),
    ):
        files.listed_contracts()


GOOD_BFO = zipped(("BFO_symbols.txt", BFO_CSV))


@pytest.mark.parametrize(
    ("body", "cause"),
    [
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
    ],
    ids=[
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
    ],
)
def test_an_unusable_file_raises_market_data_unavailable(host: Host, body: bytes, cause: str) -> None:
    host.stub.files[BFO] = body
    with pytest.raises(MarketDataUnavailableError) as error:
        host.files().listed_contracts()
    assert error.value.message.startswith(f"finvasia BFO_symbols.txt.zip: malformed answer: {cause}")


def test_a_file_without_one_readable_index_option_raises(host: Host) -> None:
    """Futures, another index and unreadable options only: nothing partial is returned."""
    lines = BFO_CSV.splitlines()
    kept = [line for line in lines[1:] if "OPTIDX" not in line or "SX50OPT" in line]
    broken = [line.replace("-DEC-2026", "-XYZ-2026") for line in lines[1:] if ",BSXOPT," in line]
    host.stub.files[BFO] = zipped(("BFO_symbols.txt", "\n".join([lines[0], *kept, *broken]) + "\n"))
    with pytest.raises(MarketDataUnavailableError) as error:
        host.files().listed_contracts()
    assert error.value.message == (
        "finvasia BFO_symbols.txt.zip: malformed answer: no readable index option of a supported underlying "
        f"({len(kept) + len(broken)} rows, {len(broken)} unreadable index options)"
    )
    assert len(broken) == 9
