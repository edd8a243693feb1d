"""Angel One's scrip master downloaded from a stub on 127.0.0.1: the index options read in rupees
(Angel writes strikes and ticks in paise), everything else passed over, unreadable records
skipped and counted, and every failed or unusable download raised whole as
`MarketDataUnavailableError`."""

from __future__ import annotations

import json
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
from shared_utils.market_data.angel_master import SCRIP_MASTER_URL, AngelScripMaster
from shared_utils.market_data.listing import ListedContract
from tests.integration.market_data.master_server import DownloadContract, FileHost, unavailable

FIXTURE = Path(__file__).parent / "fixtures" / "angel_scrip_master.json"
PATH = "/OpenAPI_File/files/OpenAPIScripMaster.json"
SOURCE = "angel one scrip master"


class Host(FileHost):
    downloads = (PATH,)
    name = SOURCE

    def serve(self, body: bytes) -> None:
        self.put(PATH, body)

    def master(self, session: requests.Session | None = None) -> AngelScripMaster:
        return AngelScripMaster(f"{self.url}{PATH}", timeout_s=self.timeout_s, session=session)


@pytest.fixture
def host() -> Iterator[Host]:
    with Host.serving({PATH: FIXTURE.read_bytes()}, "application/json") as running:
        yield running


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


# The download contract (master_server.py), with these unusable bodies in place of the scrip master.
class TestDownloads(DownloadContract):
    site = Host
    unusable_path = PATH
    unusable_bodies = [
        (FIXTURE.read_bytes()[:5000], "not JSON (5000 bytes)"),  # cut short
        (b"", "not JSON (0 bytes)"),
        (b"<html><body>Under maintenance</body></html>", "not JSON"),
        (b"null", "not a JSON array but NoneType"),  # as Angel has served
        (b'{"status": false, "message": "error"}', "not a JSON array but dict"),
        (b"[]", "no readable index option of a supported underlying (0 records"),
    ]
    unusable_ids = ["truncated", "empty", "html", "null", "object", "empty-array"]


def test_a_master_without_one_readable_index_option_raises(host: Host) -> None:
    """Only futures, stocks and unreadable options: nothing partial (or empty) is returned."""
    fixture = [r for r in json.loads(FIXTURE.read_text()) if r and "instrumenttype" in r]
    others = [r for r in fixture if r["instrumenttype"] != "OPTIDX"]
    nifty = [r for r in fixture if r["instrumenttype"] == "OPTIDX" and r["name"] == "NIFTY"]
    broken = [{**r, "expiry": "31FOO2026"} for r in nifty]
    host.serve(json.dumps(others + broken).encode())
    unavailable(
        host.master().listed_contracts,
        f"{SOURCE}: malformed answer: no readable index option of a supported underlying "
        f"({len(others) + len(broken)} records, {len(broken)} unreadable index options)",
        whole=True,
    )
    assert len(broken) == 10
