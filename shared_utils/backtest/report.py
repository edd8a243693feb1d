"""A backtest's report: one self-contained HTML page (inline SVG charts, CSS in the page, no script,
nothing fetched) with the headline figures, the equity curve and its largest drawdown, the P&L of
each day, by weekday, by month and by strategy, the worst days with their fills, and the warnings.

Every chart is an `<svg role="img">` with an id and a `<title>`, every table has an id; strategies
are told apart by a unique label and a colour fixed by their id. Everything that comes from a
user (names, ids, notes, the request) is escaped."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from shared_utils.backtest.charts import strategy_colours, strategy_labels, svg_bar_chart, svg_chart
from shared_utils.backtest.results import WEEKDAYS, BacktestResult, BacktestSummary, DayOutcome
from shared_utils.clock import to_ist

MAX_X_LABELS = 8
STYLE = """body{font-family:sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 24px}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.gain{color:#1a7f2a}.loss{color:#c62828}
.chart{display:block;margin:12px 0}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
tr.day th{background:#f4f4f4}
.warning{background:#fff4e5;border:1px solid #f0b060;padding:8px 12px;margin:12px 0}"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _money(value: Decimal | None) -> str:
    return "&ndash;" if value is None else f"{value:,.2f}"


def _pnl(value: Decimal | None) -> str:
    """A P&L cell: right-aligned, green when a gain and red when a loss."""
    if value is None:
        return '<td class="num">&ndash;</td>'
    tone = "gain" if value > 0 else "loss" if value < 0 else ""
    return f'<td class="num {tone}">{_money(value)}</td>'


def _day(value: date | None, missing: str = "&ndash;") -> str:
    return missing if value is None else f"{value.isoformat()} ({WEEKDAYS[value.weekday()]})"


def _contract(instrument: str) -> str:
    """`NIFTY|2026-11-24|24000|CE` as `NIFTY 2026-11-24 24000 CE`."""
    return " ".join(instrument.split("|"))


def _x_labels(days: Sequence[date], offset: int) -> list[tuple[float, str]]:
    every = max(1, -(-len(days) // MAX_X_LABELS))
    return [(index + offset, day.isoformat()) for index, day in enumerate(days) if index % every == 0]


def _summary_table(summary: BacktestSummary, elapsed_seconds: float | None) -> str:
    win_rate = "&ndash;" if summary.win_rate is None else f"{summary.win_rate * 100:.2f}%"
    best, worst = summary.best_day, summary.worst_day
    if summary.max_drawdown:
        span = (
            f"{_day(summary.max_drawdown_peak, 'the start')} &rarr; {_day(summary.max_drawdown_trough)}, "
            f"{'recovered on ' + _day(summary.recovered_on) if summary.recovered_on else 'not recovered'}"
        )
    else:
        span = "no drawdown"
    rows = [
        ("Net P&amp;L", _pnl(summary.net_pnl)),
        ("Gross P&amp;L", _pnl(summary.gross_pnl)),
        ("Charges", f'<td class="num">{_money(summary.charges)}</td>'),
        ("Max drawdown", f'<td class="num">{_money(summary.max_drawdown)}</td>'),
        ("Drawdown peak &rarr; trough", f"<td>{span}</td>"),
        ("Trading days", f'<td class="num">{summary.trading_days}</td>'),
        ("Days traded", f'<td class="num">{summary.days_traded}</td>'),
        ("Winning / losing days", f'<td class="num">{summary.winning_days} / {summary.losing_days}</td>'),
        ("Win rate", f'<td class="num">{win_rate}</td>'),
        ("Average win", _pnl(summary.average_win)),
        ("Average loss", _pnl(summary.average_loss)),
        ("Expectancy per day traded", _pnl(summary.expectancy)),
        ("Best day", f"<td>{_day(best[0])}: {_money(best[1])}</td>" if best else "<td>&ndash;</td>"),
        ("Worst day", f"<td>{_day(worst[0])}: {_money(worst[1])}</td>" if worst else "<td>&ndash;</td>"),
    ]
    if elapsed_seconds is not None:
        rows.append(("Run time", f'<td class="num">{elapsed_seconds:.1f} s</td>'))
    body = "\n".join(f"<tr><th>{name}</th>{cell}</tr>" for name, cell in rows)
    return f'<table id="summary">\n{body}\n</table>'


def _equity_chart(summary: BacktestSummary) -> str:
    days = [day for day, _ in summary.equity_curve]
    # The curve starts from 0 before the first day (x = 0); day i is at x = i + 1.
    line = [(0.0, 0.0)] + [
        (index + 1.0, float(value)) for index, (_, value) in enumerate(summary.equity_curve)
    ]
    spans: list[tuple[float, float, str]] = []
    if summary.max_drawdown and summary.max_drawdown_trough is not None:
        peak = days.index(summary.max_drawdown_peak) + 1 if summary.max_drawdown_peak else 0
        trough = days.index(summary.max_drawdown_trough) + 1
        spans.append((peak, trough, f"max drawdown {summary.max_drawdown:,.2f}"))
    return svg_chart(
        {"net equity (INR)": line} if days else {},
        _x_labels(days, 1),
        "Equity curve: cumulative net P&L (INR)",
        chart_id="equity-curve",
        spans=spans,
    )


def _strategy_table(summary: BacktestSummary, labels: Mapping[str, str], colours: Mapping[str, str]) -> str:
    ordered = sorted(summary.pnl_by_strategy, key=lambda sid: (-summary.pnl_by_strategy[sid], labels[sid]))
    rows = "\n".join(
        f'<tr><td><span class="swatch" style="background:{colours[sid]}"></span>{_e(labels[sid])}</td>'
        f"{_pnl(summary.gross_by_strategy.get(sid))}"
        f'<td class="num">{_money(summary.charges_by_strategy.get(sid))}</td>'
        f"{_pnl(summary.pnl_by_strategy[sid])}</tr>"
        for sid in ordered
    )
    return (
        '<table id="pnl-by-strategy"><tr><th>strategy</th><th class="num">gross</th>'
        f'<th class="num">charges</th><th class="num">net</th></tr>\n{rows}\n</table>'
    )


def _worst_days_table(days: Sequence[DayOutcome], labels: Mapping[str, str]) -> str:
    head = (
        '<table id="worst-days"><tr><th>IST</th><th>strategy</th><th>run</th><th>account</th>'
        '<th class="num">leg</th><th>contract</th><th>side</th><th class="num">quantity</th>'
        '<th class="num">price</th><th class="num">charges</th></tr>'
    )
    if not days:
        return f'{head}\n<tr><td colspan="10">No day was traded.</td></tr>\n</table>'
    groups = []
    for outcome in days:
        rows = [
            f'<tbody><tr class="day"><th colspan="10">{_day(outcome.day)}: net {_money(outcome.net_pnl)} '
            f"(gross {_money(outcome.gross_pnl)}, charges {_money(outcome.charges)})</th></tr>"
        ]
        rows += [f'<tr><td colspan="10" class="note">{_e(note)}</td></tr>' for note in outcome.notes]
        for fill in sorted(outcome.fills, key=lambda f: (f.at, f.strategy_id, f.leg_no)):
            rows.append(
                f"<tr><td>{to_ist(fill.at):%H:%M}</td>"
                f"<td>{_e(labels.get(fill.strategy_id, fill.strategy_id))}</td>"
                f"<td>{_e(fill.run)}</td><td>{_e(fill.broker_account_id)}</td>"
                f'<td class="num">{fill.leg_no}</td><td>{_e(_contract(fill.instrument))}</td>'
                f'<td>{fill.side.value}</td><td class="num">{fill.quantity:,}</td>'
                f'<td class="num">{_money(fill.price)}</td><td class="num">{_money(fill.charges)}</td></tr>'
            )
        rows.append("</tbody>")
        groups.append("\n".join(rows))
    return head + "\n" + "\n".join(groups) + "\n</table>"


def render_html(result: BacktestResult) -> str:
    """The whole report page of one backtest."""
    summary = result.summary
    seen = set(summary.pnl_by_strategy) | {
        fill.strategy_id for outcome in summary.worst_days for fill in outcome.fills
    }
    names = dict(result.strategies) | {sid: sid for sid in sorted(seen - set(result.strategies))}
    labels = strategy_labels(names)
    colours = strategy_colours(list(names))
    period = f"{_day(summary.start)} to {_day(summary.end)}" if summary.start else "no trading day"

    request_rows = "\n".join(
        f"<tr><th>{_e(key)}</th><td>{_e(json.dumps(value, default=str))}</td></tr>"
        for key, value in result.request.items()
    )
    strategy_items = "".join(
        f'<li><span class="swatch" style="background:{colours[sid]}"></span>{_e(labels[sid])}</li>'
        for sid in sorted(result.strategies, key=lambda sid: labels[sid])
    )
    warning_items = "".join(f"<li>{_e(text)}</li>" for text in result.warnings)
    warning_block = (
        f'<div class="warning" role="alert"><strong>Check:</strong><ul>{warning_items}</ul></div>'
        if warning_items
        else ""
    )
    notes = [(outcome.day, note) for outcome in result.days for note in outcome.notes]
    notes_block = (
        f'<details id="notes"><summary>Notes of the days ({len(notes)})</summary><ul>'
        + "".join(f"<li>{day.isoformat()}: {_e(note)}</li>" for day, note in notes)
        + "</ul></details>"
        if notes
        else ""
    )

    daily_chart = svg_bar_chart(
        [(day.isoformat(), float(net)) for day, net in summary.daily],
        "Net P&L per day (INR)",
        chart_id="daily-pnl",
        max_labels=MAX_X_LABELS,
    )
    month_chart = svg_bar_chart(
        [(month, float(net)) for month, net in summary.pnl_by_month.items()],
        "Net P&L per month (INR)",
        chart_id="pnl-by-month-chart",
    )
    days_per_weekday = Counter(WEEKDAYS[day.weekday()] for day, _ in summary.daily)
    weekday_rows = "\n".join(
        f'<tr><td>{name}</td><td class="num">{days_per_weekday[name]}</td>{_pnl(net)}</tr>'
        for name, net in summary.pnl_by_weekday.items()
    )
    days_per_month = Counter(f"{day:%Y-%m}" for day, _ in summary.daily)
    month_rows = "\n".join(
        f'<tr><td>{_e(month)}</td><td class="num">{days_per_month[month]}</td>{_pnl(net)}</tr>'
        for month, net in summary.pnl_by_month.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backtest {period}</title>
<style>{STYLE}</style></head>
<body>
<h1>Backtest {period}</h1>
<ul class="strategies">{strategy_items}</ul>
{warning_block}
<h2>Summary</h2>
{_summary_table(summary, result.elapsed_seconds)}
<h2>Equity curve</h2>
{_equity_chart(summary)}
<h2>Net P&amp;L per day</h2>
{daily_chart}
<h2>P&amp;L by weekday</h2>
<table id="pnl-by-weekday"><tr><th>weekday</th><th class="num">days</th><th class="num">net</th></tr>
{weekday_rows}
</table>
<h2>P&amp;L by month</h2>
{month_chart}
<table id="pnl-by-month"><tr><th>month</th><th class="num">days</th><th class="num">net</th></tr>
{month_rows}
</table>
<h2>P&amp;L by strategy</h2>
{_strategy_table(summary, labels, colours)}
<h2>Worst days</h2>
{_worst_days_table(summary.worst_days, labels)}
{notes_block}
<h2>What was run</h2>
<table id="request">
{request_rows}
</table>
</body></html>
"""
