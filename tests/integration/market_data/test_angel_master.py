"""Angel One's scrip master downloaded from a stub on 127.0.0.1: the index options read in rupees
(Angel writes strikes and ticks in paise), everything else passed over, unreadable records
skipped and counted, and every failed or unusable download raised whole as
`MarketDataUnavailableError`."""

from __future__ import annotations

import json
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
from shared_utils.market_data.angel_master import SCRIP_MASTER_URL, AngelScripMaster
from shared_utils.market_data.listing import ListedContract
from shared_utils.models.common import OptionType
from tests.integration.brokers.stub_server import BrokerStub, Fault, Request, Response, StubHttpServer

FIXTURE = Path(__file__).parent / "fixtures" / "angel_scrip_master.json"
PATH = "/OpenAPI_File/files/OpenAPIScripMaster.json"
CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0


@dataclass
class FileStub(BrokerStub):
    """Serves fixed files by path, like a static file host."""

    files: dict[str, bytes] = field(default_factory=dict)

    def route(self, request: Request) -> Response:
        body = self.files.get(request.path)
        if body is None:
            return Response(404, b"Not Found", "text/plain")
        return Response(200, body, "application/json")


@dataclass
class Host:
    stub: FileStub
    url: str

    def serve(self, body: bytes) -> None:
        self.stub.files[PATH] = body

    def master(self, **kwargs: object) -> AngelScripMaster:
        return AngelScripMaster(f"{self.url}{PATH}", timeout_s=CLIENT_TIMEOUT_S, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def host() -> Iterator[Host]:
    stub = FileStub(files={PATH: FIXTURE.read_bytes()})
    with StubHttpServer(stub) as server:
        yield Host(stub=stub, url=server.url)


def test_the_default_is_angels_public_scrip_master() -> None:
    assert (
        SCRIP_MASTER_URL
        == "https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json"
    )


def test_index_options_are_read_in_rupees_not_paise(host: Host) -> None:
    contracts = host.master().listed_contracts()

    by_token = {contract.token: contract for contract in contracts}
    assert by_token["45672"] == ListedContract(
        underlying=Underlying.NIFTY,
        expiry=date(2026, 12, 1),
        strike=Decimal("26000"),  # "2600000.000000" in the file
        option_type=OptionType.CE,
        lot_size=65,
        tick_size=Decimal("0.05"),  # "5.000000" in the file
        tradingsymbol="NIFTY01DEC2626000CE",
        token="45672",
    )
    assert by_token["826403"] == ListedContract(
        underlying=Underlying.BANKEX,
        expiry=date(2026, 12, 31),
        strike=Decimal("62000"),
        option_type=OptionType.PE,
        lot_size=30,
        tick_size=Decimal("0.05"),
        tradingsymbol="BANKEX26DEC62000PE",
        token="826403",
    )
    assert str(by_token["45672"].strike) == "26000" and str(by_token["45672"].tick_size) == "0.05"
    assert {contract.tick_size for contract in contracts} == {Decimal("0.05")}
    assert max(contract.strike for contract in contracts) == Decimal("85100")
    assert min(contract.strike for contract in contracts) == Decimal("13525")


def test_every_supported_index_is_read_with_its_lot_and_expiries(host: Host) -> None:
    contracts = host.master().listed_contracts()

    assert Counter(contract.underlying for contract in contracts) == {
        Underlying.NIFTY: 8,
        Underlying.BANKNIFTY: 4,
        Underlying.FINNIFTY: 2,
        Underlying.MIDCPNIFTY: 2,
        Underlying.NIFTYNXT50: 2,
        Underlying.SENSEX: 6,
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
    assert (date(2026, 12, 3), "SENSEX26D0385000CE") in sensex  # BSE's weekly scheme
    assert (date(2026, 12, 31), "SENSEX26DEC85000PE") in sensex
    assert Counter(contract.option_type for contract in contracts) == {OptionType.CE: 13, OptionType.PE: 13}


def test_other_instruments_are_passed_over_and_unreadable_ones_counted(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        contracts = host.master().listed_contracts()

    symbols = {contract.tradingsymbol for contract in contracts}
    not_ours = {
        "SBIN-EQ",  # equity
        "Nifty 50",  # the index itself
        "NIFTY29DEC26FUT",  # index future
        "RELIANCE29DEC261600CE",  # stock option
        "RELIANCE29DEC26FUT",
        "SENSEX26DECFUT",
        "SENSEX5026DEC27000CE",  # an index the platform does not trade
        "CRUDEOIL16DEC265400CE",  # MCX
    }
    unreadable = {
        "NIFTY01DEC2626100CE",  # no expiry
        "BANKNIFTY29DEC2659200CE",  # strike "n/a"
        "NIFTY01DEC2626100PE",  # lot 0
        "FINNIFTY29DEC2627550",  # no CE/PE suffix
        "FINNIFTY29DEC2627550PE",  # no instrumenttype
    }
    assert not symbols & (not_ours | unreadable)
    assert len(contracts) == 26
    [record] = [r for r in caplog.records if "angel one scrip master" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert (record.records, record.contracts, record.malformed) == (41, 26, 6)  # type: ignore[attr-defined]


def test_a_clean_master_logs_at_info(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    records = [r for r in json.loads(FIXTURE.read_text()) if r and r.get("token") == "45672"]
    host.serve(json.dumps(records).encode())
    with caplog.at_level(logging.INFO):
        [contract] = host.master().listed_contracts()
    assert contract.tradingsymbol == "NIFTY01DEC2626000CE"
    [record] = [r for r in caplog.records if "angel one scrip master" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert (record.records, record.contracts, record.malformed) == (1, 1, 0)  # type: ignore[attr-defined]


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
        (Fault(PATH, status=404, body=b"Not Found", content_type="text/plain"), "unavailable: HTTP 404"),
        (Fault(PATH, stall_s=STALL_S), f"unavailable: no answer in {CLIENT_TIMEOUT_S}s"),
    ],
    ids=["500", "503", "404", "stall"],
)
def test_a_failed_download_raises_market_data_unavailable(host: Host, fault: Fault, cause: str) -> None:
    host.stub.faults.append(fault)
    started = time.monotonic()
    with pytest.raises(MarketDataUnavailableError) as error:
        host.master().listed_contracts()
    assert time.monotonic() - started < STALL_S
    assert error.value.message == f"angel one scrip master: {cause}"


def test_a_refused_connection_raises_market_data_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    master = AngelScripMaster(f"http://127.0.0.1:{closed_port}{PATH}", timeout_s=CLIENT_TIMEOUT_S)
    with pytest.raises(
        MarketDataUnavailableError, match="angel one scrip master: unavailable: ConnectionError"
    ):
        master.listed_contracts()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (FIXTURE.read_bytes()[:5000], "malformed answer: not JSON (5000 bytes)"),  # cut short
        (b"", "malformed answer: not JSON (0 bytes)"),
        (b"<html><body>Under maintenance</body></html>", "malformed answer: not JSON"),
        (b"null", "malformed answer: not a JSON array but NoneType"),  # as Angel has served
        (b'{"status": false, "message": "error"}', "malformed answer: not a JSON array but dict"),
        (b"[]", "malformed answer: no readable index option of a supported underlying (0 records"),
    ],
    ids=["truncated", "empty", "html", "null", "object", "empty-array"],
)
def test_an_unusable_body_raises_market_data_unavailable(host: Host, body: bytes, cause: str) -> None:
    host.serve(body)
    with pytest.raises(MarketDataUnavailableError) as error:
        host.master().listed_contracts()
    assert error.value.message.startswith(f"angel one scrip master: {cause}")


def test_a_master_without_one_readable_index_option_raises(host: Host) -> None:
    """Only futures, stocks and unreadable options: nothing partial (or empty) is returned."""
    fixture = [r for r in json.loads(FIXTURE.read_text()) if r and "instrumenttype" in r]
    others = [r for r in fixture if r["instrumenttype"] != "OPTIDX"]
    nifty = [r for r in fixture if r["instrumenttype"] == "OPTIDX" and r["name"] == "NIFTY"]
    broken = [{**r, "expiry": "31FOO2026"} for r in nifty]
    host.serve(json.dumps(others + broken).encode())
    with pytest.raises(MarketDataUnavailableError) as error:
        host.master().listed_contracts()
    assert error.value.message == (
        "angel one scrip master: malformed answer: no readable index option of a supported underlying "
        f"({len(others) + len(broken)} records, {len(broken)} unreadable index options)"
    )
    assert len(broken) == 10
