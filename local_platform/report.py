"""The simulated day's report: summary.json and a self-contained HTML page with inline SVG charts
(P&L through the day per strategy beside the index moves, payoff at entry per strategy) that
needs no network.

It reports its own day only: the positions entered that day (a data directory keeps every
session's), per strategy, per broker account and for the portfolio, the legs with their strikes
and fill prices, and a warning for anything still open after the close, not entered, or left
out. Strategies are told apart by a unique label and a colour fixed by their id.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_utils.backtest.charts import COLOURS, strategy_colours, strategy_labels, svg_chart
from shared_utils.clock import to_ist
from shared_utils.execution.models import ExecutionRecord, PositionView
from shared_utils.market.options import Action, OptionType
from shared_utils.market.payoff import PricedLeg, payoff_at_expiry, price_grid
from shared_utils.timer.emitter import EmitResult

if TYPE_CHECKING:
    from local_platform.session_log import SessionLog


def _ist(instant: datetime) -> str:
    return f"{to_ist(instant):%H:%M}"


def entry_legs(records: Sequence[ExecutionRecord]) -> dict[str, list[PricedLeg]]:
    """Per strategy, the filled entry orders as payoff legs (quantity summed over brokers)."""
    filled: dict[str, dict[tuple[str, str], list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.action.value != "ENTRY":
            continue
        for broker in record.brokers:
            for order in broker.orders:
                if not order.filled_quantity or order.average_price is None:
                    continue
                quantity, value = Decimal(order.filled_quantity), order.average_price * order.filled_quantity
                slot = filled[record.strategy_id][(order.instrument, order.side.value)]
                if not slot:
                    slot.extend([Decimal(0), Decimal(0)])
                slot[0] += quantity
                slot[1] += value
    legs: dict[str, list[PricedLeg]] = {}
    for strategy_id, orders in filled.items():
        legs[strategy_id] = []
        for (instrument, side), (quantity, value) in orders.items():
            _underlying, _expiry, strike, option_type = instrument.split("|")
            legs[strategy_id].append(
                PricedLeg(
                    option_type=OptionType(option_type),
                    strike=float(strike),
                    side=Action(side),
                    lots=int(quantity),
                    lot_size=1,
                    premium=float(value / quantity),
                )
            )
    return legs


def _minutes(hhmm: str) -> float:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def write_report(
    report_dir: Path,
    *,
    day: date,
    first_tick: datetime,
    close: datetime,
    wall_seconds: float,
    results: Sequence[EmitResult],
    log: SessionLog,
    records: Sequence[ExecutionRecord],
    positions: Mapping[str, Sequence[PositionView]],
    strategies: Mapping[str, Sequence[Mapping[str, Any]]],
    calendar: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`calendar`: `{"provisional": bool, "confirmed_until": "YYYY-MM-DD" | None}` of the day.
    `positions`: each user's, marked; only those entered on `day` are the day's."""
    report_dir.mkdir(parents=True, exist_ok=True)
    labels = strategy_labels({s["strategy_id"]: s["name"] for items in strategies.values() for s in items})
    names = {
        s["strategy_id"]: (labels[s["strategy_id"]], s["basket_id"], user)
        for user, items in strategies.items()
        for s in items
    }
    carried = sum(1 for items in positions.values() for p in items if p.entry_date != day)
    positions = {user: [p for p in items if p.entry_date == day] for user, items in positions.items()}
    by_type: Counter[str] = Counter()
    by_phase: Counter[str] = Counter()
    nested: dict[str, dict[str, int]] = defaultdict(dict)
    for (detail_type, phase), count in sorted(log.events.items()):
        by_type[detail_type] += count
        by_phase[phase] += count
        nested[detail_type][phase] = count
    orders_per_broker: Counter[str] = Counter()
    quantity_per_broker: Counter[str] = Counter()
    fills = {"orders": 0, "filled": 0, "rejected_or_failed": 0, "filled_quantity": 0}
    executions = []
    for record in records:
        for broker in record.brokers:
            for order in broker.orders:
                orders_per_broker[broker.broker] += 1
                fills["orders"] += 1
                if order.filled_quantity:
                    fills["filled"] += 1
                    fills["filled_quantity"] += order.filled_quantity
                    quantity_per_broker[broker.broker] += order.filled_quantity
                else:
                    fills["rejected_or_failed"] += 1
        executions.append(
            {
                "user_id": record.user_id,
                "strategy_id": record.strategy_id,
                "strategy": names.get(record.strategy_id, ("?", "?", ""))[0],
                "action": record.action.value,
                "status": record.status.value,
                "at_ist": _ist(record.started_at),
                "reason": record.reason,
                "exit_reason": record.exit_reason.value if record.exit_reason else None,
                "provisional_calendar": record.provisional_calendar,
                "orders": {
                    b.broker_account_id: sum(o.filled_quantity for o in b.orders) for b in record.brokers
                },
            }
        )
    per_strategy: dict[str, dict[str, Any]] = {}
    per_basket: dict[str, Decimal] = defaultdict(Decimal)
    per_account: dict[str, dict[str, Any]] = {}
    for user, items in positions.items():
        for position in items:
            account = per_account.setdefault(
                position.broker_account_id,
                {"broker": position.broker, "user_id": user, "realised": 0.0, "unrealised": 0.0},
            )
            account["realised"] += float(position.realised_pnl)
            account["unrealised"] += float(position.unrealised_pnl or 0)
            name, basket_id, _ = names.get(position.strategy_id, (position.strategy_id, "?", user))
            row = per_strategy.setdefault(
                position.strategy_id,
                {"name": name, "basket_id": basket_id, "user_id": user, "realised": 0.0, "unrealised": 0.0},
            )
            row["realised"] += float(position.realised_pnl)
            row["unrealised"] += float(position.unrealised_pnl or 0)
            per_basket[basket_id] += position.realised_pnl + (position.unrealised_pnl or Decimal("0"))
    for row in (*per_strategy.values(), *per_account.values()):
        row["realised"], row["unrealised"] = round(row["realised"], 2), round(row["unrealised"], 2)
        row["total"] = round(row["realised"] + row["unrealised"], 2)
    portfolio = {
        key: round(sum(row[key] for row in per_account.values()), 2)
        for key in ("realised", "unrealised", "total")
    }
    summary: dict[str, Any] = {
        "trade_date": day.isoformat(),
        "session_ist": {"first_tick": _ist(first_tick), "close": _ist(close)},
        "calendar": dict(calendar or {"provisional": False, "confirmed_until": None}),
        "wall_seconds": round(wall_seconds, 2),
        "ticks": len(results),
        "events": {"by_type": dict(by_type), "by_phase": dict(by_phase), "by_type_and_phase": dict(nested)},
        "handler_errors": log.errors,
        "triggers": log.requested,
        "executions": executions,
        # Not entered, partial and failed runs are outcomes a trader must see, not "0 errors".
        "execution_outcomes": dict(Counter(record.status.value for record in records)),
        "orders_per_broker": dict(orders_per_broker),
        "filled_quantity_per_broker": dict(quantity_per_broker),
        "fills": fills,
        "pnl": {
            "per_strategy": per_strategy,
            "per_basket": {basket: float(total) for basket, total in per_basket.items()},
            "per_account": per_account,
            "portfolio": portfolio,
        },
        "pnl_through_the_day": {
            names.get(sid, (sid,))[0]: [[label, round(value, 2)] for label, value in line]
            for sid, line in log.pnl.items()
        },
        "index_through_the_day": {
            underlying: [[label, round(value, 2)] for label, value in line]
            for underlying, line in log.index.items()
        },
        "legs": fills_of(records, names),
        "warnings": warnings(records, positions, names, carried),
    }
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (report_dir / "report.html").write_text(_html(summary, log, records, names))
    return summary


def fills_of(
    records: Sequence[ExecutionRecord], names: Mapping[str, tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """Every order of the day's runs: the strategy, the run, the account, the contract (strike,
    type, expiry), the side and quantity, and what filled at what average price."""
    rows = []
    for record in records:
        for broker in record.brokers:
            for order in broker.orders:
                underlying, expiry, strike, option_type = order.instrument.split("|")
                rows.append(
                    {
                        "at_ist": _ist(record.started_at),
                        "strategy": names.get(record.strategy_id, (record.strategy_id,))[0],
                        "run": record.run_name,
                        "account": broker.broker_account_id,
                        "leg": order.leg_no,
                        "contract": f"{underlying} {expiry} {int(Decimal(strike)):d} {option_type}",
                        "side": order.side.value,
                        "quantity": order.quantity,
                        "filled": order.filled_quantity,
                        "average_price": float(order.average_price)
                        if order.average_price is not None
                        else None,
                        "status": order.status.value if order.status else None,
                    }
                )
    return rows


def warnings(
    records: Sequence[ExecutionRecord],
    positions: Mapping[str, Sequence[PositionView]],
    names: Mapping[str, tuple[str, str, str]],
    carried: int,
) -> list[str]:
    """What a trader must not miss: a position still open after the close, a run that did not
    complete (not entered, partly done, failed) with its reason, positions left out of the day."""
    found = []
    for items in positions.values():
        for p in items:
            if p.net_quantity:
                name = names.get(p.strategy_id, (p.strategy_id,))[0]
                found.append(
                    f"open after the close: {name} leg {p.leg_no} on {p.broker_account_id}, "
                    f"{p.net_quantity:+d} {p.instrument.key}"
                )
    for record in records:
        if record.status.value != "COMPLETE":
            name = names.get(record.strategy_id, (record.strategy_id,))[0]
            found.append(
                f"{record.action.value.lower()} {record.status.value}: {name}: {record.reason or 'no reason'}"
            )
    if carried:
        found.append(f"{carried} position(s) entered before this day are not in its P&L")
    return found


def _calendar_note(calendar: Mapping[str, Any]) -> str:
    if not calendar.get("provisional"):
        return ""
    return (
        '<p class="warning"><strong>Provisional calendar:</strong> no official holiday list covers '
        f"this day (official data ends {html.escape(str(calendar.get('confirmed_until')))}); weekends and "
        "the fixed national holidays are off, and a holiday announced later may move expiries.</p>"
    )


def _html(
    summary: Mapping[str, Any],
    log: SessionLog,
    records: Sequence[ExecutionRecord],
    names: Mapping[str, tuple[str, str, str]],
) -> str:
    colours = strategy_colours(list(names) + list(log.pnl))
    series = {
        names.get(sid, (sid,))[0]: [(_minutes(label), value) for label, value in line]
        for sid, line in log.pnl.items()
    }
    series_colours = {names.get(sid, (sid,))[0]: colours[sid] for sid in log.pnl}
    labels = sorted({(_minutes(label), label) for line in log.pnl.values() for label, _ in line})
    pnl_chart = svg_chart(
        series, labels[:: max(1, len(labels) // 8)], "P&L through the day (INR)", colours=series_colours
    )
    index_labels = sorted({(_minutes(label), label) for line in log.index.values() for label, _ in line})
    # Indices tens of thousands of points apart share one axis as moves from their first sample.
    index_chart = svg_chart(
        {
            f"{u} ({line[0][1]:,.0f} at {line[0][0]})": [
                (_minutes(label), (value / line[0][1] - 1) * 100) for label, value in line
            ]
            for u, line in log.index.items()
            if line
        },
        index_labels[:: max(1, len(index_labels) // 8)],
        "Index moves through the day (%)",
    )
    payoffs = []
    for strategy_id, legs in entry_legs(records).items():
        centre = sum(leg.strike for leg in legs) / len(legs)
        grid = price_grid(legs, centre, width=0.06, points=121)
        values = payoff_at_expiry(legs, grid)
        line = [(float(x), float(y)) for x, y in zip(grid, values, strict=True)]
        ticks = [(float(grid[i]), f"{grid[i]:,.0f}") for i in range(0, len(grid), max(1, len(grid) // 6))]
        payoffs.append(
            svg_chart(
                {"payoff at expiry": line},
                ticks,
                f"Payoff at entry: {names.get(strategy_id, (strategy_id,))[0]}",
                colours={"payoff at expiry": colours.get(strategy_id, COLOURS[0])},
            )
        )
    rows = "\n".join(
        f"<tr><td>{html.escape(e['at_ist'])}</td><td>{html.escape(e['strategy'])}</td><td>{e['action']}</td>"
        f"<td>{e['status']}</td><td>{html.escape(json.dumps(e['orders']))}</td></tr>"
        for e in summary["executions"]
    )
    pnl_rows = "\n".join(
        f"<tr><td>{html.escape(row['name'])}</td><td>{row['realised']:,.2f}</td><td>{row['unrealised']:,.2f}</td>"
        f"<td>{row['total']:,.2f}</td></tr>"
        for row in summary["pnl"]["per_strategy"].values()
    )
    account_rows = "\n".join(
        f"<tr><td>{html.escape(account)}</td><td>{html.escape(row['broker'])}</td><td>{row['realised']:,.2f}</td>"
        f"<td>{row['unrealised']:,.2f}</td><td>{row['total']:,.2f}</td></tr>"
        for account, row in summary["pnl"]["per_account"].items()
    )
    portfolio = summary["pnl"]["portfolio"]
    leg_rows = "\n".join(
        f"<tr><td>{leg['at_ist']}</td><td>{html.escape(leg['strategy'])}</td><td>{html.escape(leg['run'])}</td>"
        f"<td>{html.escape(leg['account'])}</td><td>{leg['leg']}</td><td>{html.escape(leg['contract'])}</td>"
        f"<td>{leg['side']}</td><td>{leg['filled']}/{leg['quantity']}</td>"
        f"<td>{'' if leg['average_price'] is None else format(leg['average_price'], ',.2f')}</td>"
        f"<td>{leg['status'] or ''}</td></tr>"
        for leg in summary["legs"]
    )
    warning_items = "".join(f"<li>{html.escape(text)}</li>" for text in summary["warnings"])
    warning_block = (
        f'<div class="warning" role="alert"><strong>Check:</strong><ul>{warning_items}</ul></div>'
        if warning_items
        else ""
    )
    events = "\n".join(
        f"<tr><td>{html.escape(kind)}</td><td>{count}</td></tr>"
        for kind, count in summary["events"]["by_type"].items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Simulated session {summary["trade_date"]}</title>
<style>body{{font-family:sans-serif;margin:24px;}}table{{border-collapse:collapse;margin:8px 0 24px}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}
.chart{{display:block;margin:12px 0}}.side-by-side{{display:flex;flex-wrap:wrap;gap:12px}}
.warning{{background:#fff4e5;border:1px solid #f0b060;padding:8px 12px;margin:12px 0}}</style></head>
<body>
<h1>Simulated session {summary["trade_date"]}</h1>
<p>{summary["session_ist"]["first_tick"]}&ndash;{summary["session_ist"]["close"]} IST,
{summary["ticks"]} ticks,
{summary["fills"]["orders"]} orders ({summary["fills"]["filled"]} filled),
{len(summary["handler_errors"])} handler errors, run in {summary["wall_seconds"]} s.</p>
{_calendar_note(summary["calendar"])}
{warning_block}
<h2>P&amp;L through the day</h2>
<div class="side-by-side">
{pnl_chart}
{index_chart}
</div>
<h2>P&amp;L per strategy</h2>
<table id="pnl-per-strategy"><tr><th>strategy</th><th>realised</th><th>unrealised</th><th>total</th></tr>
{pnl_rows}</table>
<h2>P&amp;L per broker account</h2>
<table id="pnl-per-account"><tr><th>account</th><th>broker</th><th>realised</th><th>unrealised</th>
<th>total</th></tr>
{account_rows}
<tr><th colspan="2">portfolio</th><th>{portfolio["realised"]:,.2f}</th><th>{portfolio["unrealised"]:,.2f}</th>
<th>{portfolio["total"]:,.2f}</th></tr></table>
<h2>Payoff at entry</h2>
{"".join(payoffs) or "<p>No strategy was entered.</p>"}
<h2>Legs and fills</h2>
<table id="legs"><tr><th>IST</th><th>strategy</th><th>run</th><th>account</th><th>leg</th><th>contract</th>
<th>side</th><th>filled</th><th>average price</th><th>status</th></tr>
{leg_rows}</table>
<h2>Executions</h2>
<table id="executions"><tr><th>IST</th><th>strategy</th><th>action</th><th>status</th>
<th>filled quantity per account</th></tr>
{rows}</table>
<h2>Timer events</h2>
<table id="timer-events"><tr><th>detail-type</th><th>delivered</th></tr>
{events}</table>
</body></html>
"""
