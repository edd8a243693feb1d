"""Shoonya's login against the stub Noren API on 127.0.0.1: the OAuth code exchange (GenAcsTok,
its checksum, the spent code), QuickAuth with the documented hashes and the TOTP of a fixed
clock's time, the session's end, Logout, and a session that drives the order adapter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.finvasia import FinvasiaBroker
from shared_utils.brokers.finvasia_login import FinvasiaLogin, session_end, sha256_hex
from shared_utils.brokers.login import AppCredentials, BrokerLogin, Session
from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.port import BrokerAuthError, BrokerUnavailableError
from shared_utils.brokers.totp import totp
from shared_utils.clock import FixedClock
from tests.integration.brokers import stub_noren
from tests.integration.brokers.stub_noren import NorenStub
from tests.integration.brokers.stub_server import Fault, Request, StubHttpServer

MORNING = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 08:30 IST
NEXT_FIVE_IST = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 05:00 IST on the 25th
OAUTH_APP = AppCredentials(
    client_id=stub_noren.USER,
    api_key=SecretStr(stub_noren.CLIENT_ID),
    api_secret=SecretStr(stub_noren.SECRET_CODE),
)
QUICK_APP = AppCredentials(
    client_id=stub_noren.USER,
    api_key=SecretStr(stub_noren.CLIENT_ID),  # the vendor code
    api_secret=SecretStr(stub_noren.API_SECRET),
    pin=SecretStr(stub_noren.PASSWORD),
    totp_secret=SecretStr(stub_noren.TOTP_SECRET),
)


@dataclass
class Shoonya:
    clock: FixedClock
    stub: NorenStub
    url: str
    login: FinvasiaLogin

    def expect_totp(self) -> None:
        self.stub.expected_totp = totp(stub_noren.TOTP_SECRET, self.clock.now())

    def calls(self, route: str) -> list[Request]:
        return [r for r in self.stub.requests if r.path.endswith(route)]


@pytest.fixture
def shoonya() -> Iterator[Shoonya]:
    clock = FixedClock(MORNING)
    with StubHttpServer(NorenStub()) as server:
        endpoint = BrokerEndpoint(base_url=server.url, timeout_s=2)
        assert isinstance(server.stub, NorenStub)
        yield Shoonya(clock, server.stub, server.url, FinvasiaLogin(clock, endpoint))


def _jdata(request: Request) -> dict[str, str]:
    data: dict[str, str] = json.loads(request.form()["jData"])
    return data


def test_it_is_a_broker_login_and_the_morning_waits_for_the_oauth_page(shoonya: Shoonya) -> None:
    assert isinstance(shoonya.login, BrokerLogin)
    assert shoonya.login.name is BrokerName.FINVASIA
    assert shoonya.login.logs_in_by_itself is False
    assert FinvasiaLogin(shoonya.clock, quick_auth=True).logs_in_by_itself is True


# --- OAuth ---


def test_the_login_page_is_shoonyas_authorize_url_for_the_apps_client_id(shoonya: Shoonya) -> None:
    url = urlsplit(shoonya.login.login_url(OAUTH_APP, "state-of-the-pending-login"))
    assert (url.scheme, url.netloc, url.path) == ("https", "api.shoonya.com", "/OAuthlogin/authorize/oauth")
    assert parse_qs(url.query) == {"client_id": [stub_noren.CLIENT_ID]}
    assert shoonya.stub.requests == []


def test_the_code_exchange_gives_the_days_session(shoonya: Shoonya) -> None:
    session = shoonya.login.complete(OAUTH_APP, {"state": "s" * 12, "code": stub_noren.AUTH_CODE})
    assert session.access_token.get_secret_value() == stub_noren.SESSION  # the susertoken
    assert session.user_id == stub_noren.USER
    assert session.refresh_token is not None
    assert session.refresh_token.get_secret_value() == stub_noren.REFRESH_TOKEN
    assert session.expires_at == NEXT_FIVE_IST
    [call] = shoonya.calls("/GenAcsTok")
    sent = _jdata(call)
    assert sent == {
        "code": stub_noren.AUTH_CODE,
        "checksum": sha256_hex(stub_noren.CLIENT_ID + stub_noren.SECRET_CODE + stub_noren.AUTH_CODE),
        "uid": stub_noren.USER,
    }
    assert stub_noren.SECRET_CODE not in call.body.decode()


def test_an_earlier_expires_in_ends_the_session_then(shoonya: Shoonya) -> None:
    ends = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 17:30 IST, before 05:00
    shoonya.stub.expires_in = str(int(ends.timestamp()))
    session = shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})
    assert session.expires_at == ends


@pytest.mark.parametrize(
    "expires_in", ["1795665600", "1756979040", "not-a-date", "99999999999999999999"]
)  # after 05:00, already past, unreadable, out of range
def test_an_expires_in_later_past_or_unreadable_leaves_five_ist(shoonya: Shoonya, expires_in: str) -> None:
    shoonya.stub.expires_in = expires_in
    session = shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})
    assert session.expires_at == NEXT_FIVE_IST


def test_a_wrong_secret_code_is_refused_with_norens_message(shoonya: Shoonya) -> None:
    wrong = OAUTH_APP.model_copy(update={"api_secret": SecretStr("not-the-secret")})
    with pytest.raises(BrokerAuthError) as refused:
        shoonya.login.complete(wrong, {"code": stub_noren.AUTH_CODE})
    assert "INVALID_VERIFIER" in refused.value.message
    assert "not-the-secret" not in refused.value.message


def test_a_code_is_good_once(shoonya: Shoonya) -> None:
    shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})
    with pytest.raises(BrokerAuthError, match="INVALID_VERIFIER"):
        shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})


def test_a_redirect_without_a_code_is_refused_unsent(shoonya: Shoonya) -> None:
    with pytest.raises(BrokerAuthError, match="no code"):
        shoonya.login.complete(OAUTH_APP, {"state": "s" * 12})
    assert shoonya.stub.requests == []


def test_a_login_for_another_client_is_refused(shoonya: Shoonya) -> None:
    other = OAUTH_APP.model_copy(update={"client_id": "FA99999"})
    with pytest.raises(BrokerAuthError, match="another Shoonya client"):
        shoonya.login.complete(other, {"code": stub_noren.AUTH_CODE})


def test_an_unreadable_exchange_answer_is_unavailable_not_refused(shoonya: Shoonya) -> None:
    shoonya.stub.faults.append(Fault("/GenAcsTok", status=200, body=b"<html>", content_type="text/html"))
    with pytest.raises(BrokerUnavailableError):
        shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})


# --- QuickAuth ---


def test_quick_auth_with_the_right_totp_gives_the_session(shoonya: Shoonya) -> None:
    shoonya.expect_totp()
    session = shoonya.login.login(QUICK_APP, shoonya.clock.now())
    assert session.access_token.get_secret_value() == stub_noren.SESSION
    assert session.user_id == stub_noren.USER
    assert session.expires_at == NEXT_FIVE_IST
    [call] = shoonya.calls("/QuickAuth")
    sent = _jdata(call)
    assert sent["pwd"] == sha256_hex(stub_noren.PASSWORD)
    assert sent["appkey"] == sha256_hex(f"{stub_noren.USER}|{stub_noren.API_SECRET}")
    assert (sent["uid"], sent["vc"], sent["source"]) == (stub_noren.USER, stub_noren.CLIENT_ID, "API")
    assert sent["factor2"] == totp(stub_noren.TOTP_SECRET, MORNING)
    body = call.body.decode()
    assert stub_noren.PASSWORD not in body and stub_noren.API_SECRET not in body


def test_quick_auth_with_a_wrong_totp_is_refused(shoonya: Shoonya) -> None:
    shoonya.expect_totp()
    wrong = QUICK_APP.model_copy(update={"totp_secret": SecretStr("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")})
    with pytest.raises(BrokerAuthError, match="Invalid OTP"):
        shoonya.login.login(wrong, shoonya.clock.now())


def test_a_totp_of_another_moment_is_refused(shoonya: Shoonya) -> None:
    shoonya.expect_totp()
    with pytest.raises(BrokerAuthError, match="Invalid OTP"):
        shoonya.login.login(QUICK_APP, shoonya.clock.now() + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("update", "said"),
    [
        ({"pin": SecretStr("wrong-password")}, "Wrong Password"),
        ({"api_secret": SecretStr("wrong-api-key")}, "App Key"),
        ({"api_key": SecretStr("FA12345_X")}, "Vendor code"),
    ],
)
def test_quick_auth_with_a_wrong_password_or_secret_is_refused(
    shoonya: Shoonya, update: dict[str, object], said: str
) -> None:
    shoonya.expect_totp()
    with pytest.raises(BrokerAuthError, match=said) as refused:
        shoonya.login.login(QUICK_APP.model_copy(update=update), shoonya.clock.now())
    assert "wrong-password" not in refused.value.message and "wrong-api-key" not in refused.value.message


def test_quick_auth_needs_the_password_and_a_base32_totp_secret(shoonya: Shoonya) -> None:
    with pytest.raises(BrokerAuthError, match="TOTP secret"):
        shoonya.login.login(QUICK_APP.model_copy(update={"totp_secret": None}), shoonya.clock.now())
    with pytest.raises(BrokerAuthError, match="base32"):
        shoonya.login.login(
            QUICK_APP.model_copy(update={"totp_secret": SecretStr("not base32!")}), shoonya.clock.now()
        )
    assert shoonya.stub.requests == []


def test_a_login_after_five_ist_lasts_until_the_next_morning() -> None:
    late = datetime(2026, 11, 24, 23, 45, tzinfo=UTC)  # 05:15 IST on the 25th
    assert session_end(late) == datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert session_end(MORNING) == NEXT_FIVE_IST


def test_the_session_drives_the_order_adapter(shoonya: Shoonya) -> None:
    shoonya.expect_totp()
    session = shoonya.login.login(QUICK_APP, shoonya.clock.now())
    assert session.user_id is not None
    broker = FinvasiaBroker(
        BrokerCredentials(user_id=session.user_id, access_token=session.access_token),
        shoonya.clock,
        BrokerEndpoint(base_url=shoonya.url, timeout_s=2),
    )
    assert broker.positions() == [] and broker.find_order_by_tag("no-such-tag") is None


# --- Logout ---


def test_logout_reaches_noren_with_the_session(shoonya: Shoonya) -> None:
    session = shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})
    shoonya.login.logout(OAUTH_APP, session)
    assert shoonya.stub.logged_out == 1
    [call] = shoonya.calls("/Logout")
    assert call.form()["jKey"] == stub_noren.SESSION
    assert _jdata(call) == {"ordersource": "API", "uid": stub_noren.USER}


def test_logout_of_a_session_noren_no_longer_knows_is_quiet(shoonya: Shoonya) -> None:
    stale = Session(
        access_token=SecretStr("expired-session"), expires_at=NEXT_FIVE_IST, user_id=stub_noren.USER
    )
    shoonya.login.logout(OAUTH_APP, stale)
    assert shoonya.stub.logged_out == 0 and len(shoonya.calls("/Logout")) == 1


def test_a_failed_logout_is_reported(shoonya: Shoonya) -> None:
    session = shoonya.login.complete(OAUTH_APP, {"code": stub_noren.AUTH_CODE})
    shoonya.stub.faults.append(
        Fault("/Logout", status=200, body={"stat": "Not_Ok", "emsg": "Server Timeout :  "})
    )
    with pytest.raises(BrokerUnavailableError, match="Server Timeout"):
        shoonya.login.logout(OAUTH_APP, session)
