// The payoff at expiry as an SVG chart: P&L (rupees) against the underlying's price at expiry,
// profit shaded above zero and loss below, the spot and the breakevens marked. Colours come from
// classes in styles.css; nothing here sets a style attribute.

import { svg } from './dom.js';
import { rupees, strike, toNumber } from './format.js';

const WIDTH = 640;
const HEIGHT = 280;
const MARGIN = { top: 16, right: 16, bottom: 36, left: 84 };
const compactRupees = new Intl.NumberFormat('en-IN', {
  style: 'currency', currency: 'INR', notation: 'compact', maximumFractionDigits: 1,
});

function ticks(low, high, count) {
  if (high === low) return [low];
  const rough = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) || rough;
  const values = [];
  for (let value = Math.ceil(low / step) * step; value <= high + step * 1e-9; value += step) values.push(value);
  return values;
}

/** The chart for a preview's payoff; `spot` the underlying now. Returns an <svg> element. */
export function payoffChart(payoff, { spot = null, title = 'Payoff at expiry' } = {}) {
  const points = (payoff?.points || [])
    .map((p) => ({ x: toNumber(p.price), y: toNumber(p.pnl) }))
    .filter((p) => p.x !== null && p.y !== null)
    .sort((a, b) => a.x - b.x);
  const chart = svg('svg', {
    class: 'payoff-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': title, testid: 'payoff-chart',
  }, svg('title', {}, title));
  if (points.length < 2) {
    chart.append(svg('text', { x: WIDTH / 2, y: HEIGHT / 2, class: 'chart-note', 'text-anchor': 'middle' }, 'No payoff to draw'));
    return chart;
  }
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const xLow = Math.min(...xs);
  const xHigh = Math.max(...xs);
  let yLow = Math.min(0, ...ys);
  let yHigh = Math.max(0, ...ys);
  if (yHigh === yLow) { yHigh += 1; yLow -= 1; }
  const pad = (yHigh - yLow) * 0.08;
  yLow -= pad;
  yHigh += pad;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x) => MARGIN.left + ((x - xLow) / (xHigh - xLow || 1)) * plotWidth;
  const sy = (y) => MARGIN.top + (1 - (y - yLow) / (yHigh - yLow)) * plotHeight;
  const fixed = (n) => n.toFixed(1);

  const grid = svg('g', { class: 'chart-grid' });
  for (const value of ticks(yLow, yHigh, 5)) {
    grid.append(
      svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: fixed(sy(value)), y2: fixed(sy(value)) }),
      svg('text', { x: MARGIN.left - 6, y: fixed(sy(value) + 4), 'text-anchor': 'end', class: 'chart-label' }, compactRupees.format(value)),
    );
  }
  for (const value of ticks(xLow, xHigh, 6)) {
    grid.append(
      svg('line', { x1: fixed(sx(value)), x2: fixed(sx(value)), y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: 'chart-vgrid' }),
      svg('text', { x: fixed(sx(value)), y: HEIGHT - MARGIN.bottom + 16, 'text-anchor': 'middle', class: 'chart-label' }, strike(value)),
    );
  }
  chart.append(grid);

  const zero = sy(0);
  const area = (clamp) => [
    `${fixed(sx(xLow))},${fixed(zero)}`,
    ...points.map((p) => `${fixed(sx(p.x))},${fixed(sy(clamp(p.y)))}`),
    `${fixed(sx(xHigh))},${fixed(zero)}`,
  ].join(' ');
  chart.append(
    svg('polygon', { class: 'payoff-profit', points: area((y) => Math.max(0, y)) }),
    svg('polygon', { class: 'payoff-loss', points: area((y) => Math.min(0, y)) }),
    svg('line', { class: 'chart-zero', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: fixed(zero), y2: fixed(zero) }),
    svg('polyline', { class: 'payoff-line', points: points.map((p) => `${fixed(sx(p.x))},${fixed(sy(p.y))}`).join(' ') }),
  );

  for (const breakeven of (payoff.breakevens || []).map(toNumber).filter((b) => b !== null && b >= xLow && b <= xHigh)) {
    chart.append(svg('circle', { class: 'payoff-breakeven', cx: fixed(sx(breakeven)), cy: fixed(zero), r: 4 },
      svg('title', {}, `Breakeven ${strike(breakeven)}`)));
  }
  const spotValue = toNumber(spot);
  if (spotValue !== null && spotValue >= xLow && spotValue <= xHigh) {
    chart.append(
      svg('line', { class: 'payoff-spot', x1: fixed(sx(spotValue)), x2: fixed(sx(spotValue)), y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom }),
      svg('text', { class: 'chart-label', x: fixed(sx(spotValue) + 4), y: MARGIN.top + 10 }, `spot ${strike(spotValue)}`),
    );
  }
  chart.append(svg('desc', {},
    `Maximum profit ${payoff.max_profit === null || payoff.max_profit === undefined ? 'unlimited' : rupees(payoff.max_profit)}, `
    + `maximum loss ${payoff.max_loss === null || payoff.max_loss === undefined ? 'unlimited' : rupees(payoff.max_loss)}`));
  return chart;
}
