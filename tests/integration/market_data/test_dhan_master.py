"""Dhan's compact scrip master downloaded from a stub on 127.0.0.1: the index options read with
their securityId and a symbol naming one contract (Dhan's SEM_TRADING_SYMBOL is shared by a
month's weeklies), ticks read from paise, everything else passed over, unreadable rows skipped
and counted, and every failed or unusable download raised whole as `MarketDataUnavailableError`."""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.dhan_master import COMPACT_URL, DhanScripMaster
from shared_utils.market_data.listing import ListedContract, summarize
from shared_utils.models.common import OptionType
from tests.integration.brokers.stub_server import BrokerStub, Fault, Request, Response, StubHttpServer

FIXTURE = Path(__file__).parent / "fixtures" / "dhan_scrip_master.csv"
PATH = "/api-data/api-scrip-master.csv"
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0
HEADER = FIXTURE.read_text().splitlines()[0]


@dataclass
class FileStub(BrokerStub):
    """Serves fixed files by path, like Dhan's static file host."""

    files: dict[str, bytes] = field(default_factory=dict)

    def route(self, request: Request) -> Response:
        body = self.files.get(request.path)
        if body is None:
            return Response(404, b"Not Found", "text/plain")
        return Response(200, body, "text/csv")


@dataclass
class Host:
    stub: FileStub
    url: str

    def serve(self, body: bytes) -> None:
        self.stub.files[PATH] = body

    def serve_rows(self, *rows: str) -> None:
        self.serve("\n".join([HEADER, *rows]).encode())

    def master(self, session: requests.Session | None = None) -> DhanScripMaster:
        return DhanScripMaster(f"{self.url}{PATH}", timeout_s=CLIENT_TIMEOUT_S, session=session)


@pytest.fixture
def host() -> Iterator[Host]:
    stub = FileStub(files={PATH: FIXTURE.read_bytes()})
    with StubHttpServer(stub) as server:
        yield Host(stub=stub, url=server.url)


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


def test_the_injected_session_is_used(host: Host) -> None:
    session = requests.Session()
    session.headers["User-Agent"] = "options-platform/listing"
    host.master(session=session).listed_contracts()
    [call] = host.stub.requests
    assert (call.method, call.path, call.headers["user-agent"]) == ("GET", PATH, "options-platform/listing")


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (
            Fault(PATH, status=500, body=b"<html>500</html>", content_type="text/html"),
            "unavailable: HTTP 500",
        ),
        (
            Fault(PATH, status=503, body=b"Service Unavailable", content_type="text/plain"),
            "unavailable: HTTP 503",
        ),
        (Fault(PATH, status=403, body=b"AccessDenied", content_type="text/xml"), "unavailable: HTTP 403"),
        (Fault(PATH, stall_s=STALL_S), f"unavailable: no answer in {CLIENT_TIMEOUT_S}s"),
    ],
    ids=["500", "503", "403", "stall"],
)
def test_a_failed_download_raises_market_data_unavailable(host: Host, fault: Fault, cause: str) -> None:
    host.stub.faults.append(fault)
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailableError) as error:
        host.master().listed_contracts()
    assert time.monotonic() - started < STALL_S
    assert error.value.message == f"dhan scrip master: {cause}"


def test_a_refused_connection_raises_market_data_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    master = DhanScripMaster(f"http://127.0.0.1:{closed_port}{PATH}", timeout_s=CLIENT_TIMEOUT_S)
    with pytest.raises(MarketDataUnavailableError, match="dhan scrip master: unavailable: ConnectionError"):
        master.listed_contracts()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"", "malformed answer: no column SEM_EXM_EXCH_ID"),
        (b"<html><body>Under maintenance</body></html>", "malformed answer: no column SEM_EXM_EXCH_ID"),
        (b"SEM_EXM_EXCH_ID,SEM_SEGMENT\nNSE,D\n", "malformed answer: no column SEM_SMST_SECURITY_ID"),
        (b"\xff\xfeS\x00E\x00M\x00", "malformed answer: not UTF-8 text (8 bytes)"),
        (
            HEADER.encode() + b"\n",
            "malformed answer: no readable index option of a supported underlying (0 rows",
        ),
    ],
    ids=["empty", "html", "columns", "utf16", "header-only"],
)
def test_an_unusable_body_raises_market_data_unavailable(host: Host, body: bytes, cause: str) -> None:
    host.serve(body)
    with pytest.raises(MarketDataUnavailableError) as error:
        host.master().listed_contracts()
    assert error.value.message.startswith(f"dhan scrip master: {cause}")


def test_a_master_without_one_readable_index_option_raises(host: Host) -> None:
    """Only futures, stocks and unreadable options: nothing partial (or empty) is returned."""
    rows = FIXTURE.read_text().splitlines()[1:]
    others = [row for row in rows if ",OPTIDX," not in row]
    broken = [
        row.replace(" 14:30:00", "x").replace("2026-", "26-") for row in rows if ",OPTIDX,0,NIFTY-" in row
    ]
    host.serve_rows(*others, *broken)
    with pytest.raises(MarketDataUnavailableError) as error:
        host.master().listed_contracts()
    assert error.value.message == (
        "dhan scrip master: malformed answer: no readable index option of a supported underlying "
        f"({len(others) + len(broken)} rows, {len(broken)} unreadable index options, 0 ambiguous)"
    )
    assert len(broken) == 16
