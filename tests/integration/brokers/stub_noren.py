"""Finvasia Noren REST as `NorenApi` sees it (`jData=<json>&jKey=<token>` posts, `stat`/`emsg`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from tests.integration.brokers.stub_server import BrokerStub, Request, Response, StubOrder

USER, SESSION = "FA12345", "noren-session"
NO_DATA = {"stat": "Not_Ok", "emsg": 'Error Occurred : 5 "no data"'}
_SIDES = {"B": "BUY", "S": "SELL"}


@dataclass
class NorenStub(BrokerStub):
    tokens: dict[str, str] = field(default_factory=dict)  # token -> tsym
    # `GetQuotes`: `exch|token` -> Noren's answer for it (without `stat`); others as before.
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        if form.get("jKey") != SESSION or data.get("uid") != USER:
            return Response(200, {"stat": "Not_Ok", "emsg": "Session Expired :  Invalid Session Key"})
        path = request.path
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
