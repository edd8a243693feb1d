"""Finvasia Noren REST as `NorenApi` sees it (`jData=<json>&jKey=<token>` posts, `stat`/`emsg`).

Logins too: `QuickAuth` checks the documented hashes (`pwd` = SHA-256 of the password, `appkey` =
SHA-256 of `<uid>|<api secret>`), the vendor code and the TOTP the test expects; `GenAcsTok`
checks the checksum (SHA-256 of client id + secret code + code) and spends the code; both answer
the one `SESSION` the order routes accept. `Logout` counts what reaches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubOrder

USER, SESSION = "FA12345", "noren-session"
NO_DATA = {"stat": "Not_Ok", "emsg": 'Error Occurred : 5 "no data"'}
# Logins. The vendor code of an API user and the OAuth client id are both `<uid>_U`.
PASSWORD, TOTP_SECRET = "Shoonya@Pass1", "JBSWY3DPEHPK3PXP"
CLIENT_ID = f"{USER}_U"
API_SECRET = "quickauth-api-key"  # QuickAuth's API key, hashed with the uid
SECRET_CODE = "oauth-secret-code"  # the OAuth app's secret code, in GenAcsTok's checksum
AUTH_CODE = "c61de38b-7c0c-46e4-8abe-acb1f6a15089"
ACCESS_TOKEN, REFRESH_TOKEN = "oauth-access-token", "oauth-refresh-token"
EXPIRED = {"stat": "Not_Ok", "emsg": "Session Expired :  Invalid Session Key"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_SIDES = {"B": "BUY", "S": "SELL"}


@dataclass
class NorenStub(BrokerStub):
    tokens: dict[str, str] = field(default_factory=dict)  # token -> tsym
    # `GetQuotes`: `exch|token` -> Noren's answer for it (without `stat`); others as before.
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The TOTP QuickAuth must carry (the test computes it from TOTP_SECRET at its clock's time).
    expected_totp: str = ""
    # GenAcsTok: the codes Shoonya's login page handed out (each good once), and `expires_in`.
    auth_codes: set[str] = field(default_factory=lambda: {AUTH_CODE})
    expires_in: str | None = None
    logged_out: int = 0

    def _render(self, order: StubOrder) -> dict[str, object]:
        return {
            "stat": "Ok",
            "norenordno": order.order_id,
            "remarks": order.tag,
            "tsym": order.symbol,
            "exch": order.exchange,
            "trantype": order.side,
            "qty": str(order.quantity),
            "fillshares": str(order.filled),
            "avgprc": f"{order.average_price:.2f}",
            "status": "CANCELED" if order.status == "CANCELLED" else order.status,
            "rejreason": order.reason,
            "norentm": "09:30:01 24-11-2026",
        }

    def route(self, request: Request) -> Response:
        form = request.form()
        data = json.loads(form.get("jData", "{}"))
        path = request.path
        if path.endswith("/QuickAuth"):
            return self._quick_auth(data)
        if path.endswith("/GenAcsTok"):
            return self._gen_access_token(data)
        if form.get("jKey") != SESSION or data.get("uid") != USER:
            return Response(200, EXPIRED)
        if path.endswith("/Logout"):
            self.logged_out += 1
            return Response(200, {"stat": "Ok", "request_time": "16:00:01 24-11-2026"})
        if path.endswith("/PlaceOrder"):
            return self._place(data)
        if path.endswith("/OrderBook"):
            book = [self._render(order) for order in reversed(self.orders)]
            return Response(200, book or NO_DATA)
        if path.endswith("/SingleOrdHist"):
            order = self.find(data["norenordno"])
            if order is None:
                return Response(200, NO_DATA)
            return Response(200, [self._render(order), {**self._render(order), "status": "PENDING"}])
        if path.endswith("/CancelOrder"):
            order = self.find(data["norenordno"])
            if order is None or order.status != "OPEN":
                return Response(200, {"stat": "Not_Ok", "emsg": "Rejected : Order not open"})
            order.status = "CANCELLED"
            return Response(200, {"stat": "Ok", "result": order.order_id})
        if path.endswith("/PositionBook"):
            rows = [
                {
                    "stat": "Ok",
                    "exch": order.exchange,
                    "tsym": symbol,
                    "prd": "M" if order.product == "NRML" else "I",
                    "netqty": str(quantity),
                    "netavgprc": f"{average:.2f}",
                    "lp": f"{self.prices.get(symbol, 100.0):.2f}",
                    "rpnl": "0.00",
                }
                for symbol, (order, quantity, average) in self.net_positions().items()
            ]
            return Response(200, rows or NO_DATA)
        if path.endswith("/GetQuotes"):
            answer = self.quotes.get(f"{data.get('exch')}|{data['token']}")
            if answer is not None:
                return Response(200, {"request_time": "10:00:00 24-11-2026", "stat": "Ok", **answer})
            symbol = self.tokens.get(data["token"])
            if symbol is None or symbol not in self.prices:
                return Response(200, NO_DATA)
            return Response(200, {"stat": "Ok", "tsym": symbol, "lp": f"{self.prices[symbol]:.2f}"})
        return Response(404, "not found", "text/html")

    def _place(self, data: dict[str, str]) -> Response:
        symbol = unquote_plus(data["tsym"])
        if symbol in self.unknown_symbols:
            return Response(200, {"stat": "Not_Ok", "emsg": "Invalid Trading Symbol"})
        order = self.book(
            StubOrder(
                order_id=f"2611240000{len(self.orders) + 1:04d}",
                tag=data.get("remarks") or "",
                symbol=symbol,
                exchange=data["exch"],
                side=_SIDES[data["trantype"]],
                quantity=int(data["qty"]),
                order_type=data["prctyp"],
                price=float(data["prc"]),
                product="NRML" if data["prd"] == "M" else "MIS",
            )
        )
        return Response(
            200, {"request_time": "09:30:00 24-11-2026", "stat": "Ok", "norenordno": order.order_id}
        )

    def _quick_auth(self, data: dict[str, str]) -> Response:
        def refused(emsg: str) -> Response:
            return Response(200, {"request_time": "08:30:00 24-11-2026", "stat": "Not_Ok", "emsg": emsg})

        if data.get("source") != "API" or not data.get("apkversion") or not data.get("imei"):
            return refused("Invalid Input : Missing Fields")
        if data.get("uid") != USER or data.get("pwd") != _sha256(PASSWORD):
            return refused("Invalid Input : Wrong Password")
        if data.get("vc") != CLIENT_ID or data.get("appkey") != _sha256(f"{USER}|{API_SECRET}"):
            return refused("Invalid Input : Invalid Vendor code or App Key")
        if not self.expected_totp or data.get("factor2") != self.expected_totp:
            return refused("Invalid Input : Invalid OTP")
        return Response(
            200,
            {
                "request_time": "08:30:00 24-11-2026",
                "stat": "Ok",
                "susertoken": SESSION,
                "lastaccesstime": "1795492800",
                "actid": USER,
                "uname": "TEST USER",
            },
        )

    def _gen_access_token(self, data: dict[str, str]) -> Response:
        code = data.get("code", "")
        if code not in self.auth_codes or data.get("checksum") != _sha256(CLIENT_ID + SECRET_CODE + code):
            return Response(200, {"stat": "Not_Ok", "emsg": "Invalid Input : INVALID_VERIFIER", "uid": USER})
        self.auth_codes.discard(code)
        answer: dict[str, object] = {
            "request_time": "08:30:00 24-11-2026",
            "stat": "Ok",
            "USERID": USER,
            "uid": USER,
            "actid": USER,
            "susertoken": SESSION,
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
        }
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return Response(200, answer)
