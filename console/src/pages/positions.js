// Orders and positions per broker account, live from the feed's order, position and marks
// messages; where the broker's own positions differ from the platform's (broker_view), the
// broker's view is shown beside them.

import { fill, h, table, tableRow } from '../dom.js';
import { instrument, label, pnl, pnlClass, price, quantity, time } from '../format.js';
import { Topic } from '../live.js';

export const title = 'Orders & positions';

function byAccount(items) {
  const groups = new Map();
  for (const item of items) {
    if (!groups.has(item.broker_account_id)) groups.set(item.broker_account_id, []);
    groups.get(item.broker_account_id).push(item);
  }
  return groups;
}

/** The trade date an order key starts with (`2026-11-23#strategy#ENTRY#account#1`). */
function orderDay(order) {
  return /^\d{4}-\d{2}-\d{2}/.exec(order.order_key)?.[0] || '';
}

function positionsTable(positions, names, unpriced) {
  const rows = positions
    .sort((a, b) => (b.net_quantity !== 0) - (a.net_quantity !== 0) || a.strategy_id.localeCompare(b.strategy_id) || a.leg_no - b.leg_no)
    .map((p) => tableRow([
      names.get(p.strategy_id) || p.strategy_id,
      p.leg_no,
      instrument(p.instrument),
      { content: quantity(p.net_quantity), testid: 'position-net', class: p.net_quantity === 0 ? 'flat' : (p.net_quantity > 0 ? 'long' : 'short') },
      quantity(p.buy_quantity),
      quantity(p.sell_quantity),
      price(p.average_price),
      { content: unpriced.has(p.position_sk) ? 'no quote' : price(p.last_price), testid: 'position-ltp' },
      { content: p.net_quantity === 0 ? '–' : pnl(p.unrealised_pnl), class: pnlClass(p.unrealised_pnl), testid: 'position-unrealised' },
      { content: pnl(p.realised_pnl), class: pnlClass(p.realised_pnl), testid: 'position-realised' },
    ], { testid: 'position-row', 'data-position-sk': p.position_sk, 'data-net': String(p.net_quantity) }));
  return table(['Strategy', 'Leg', 'Contract', 'Net qty', 'Bought', 'Sold', 'Avg price', 'LTP', 'Unrealised', 'Realised'], rows,
    { class: 'data', testid: 'positions-table' });
}

function ordersTable(orders, names) {
  const rows = orders
    .sort((a, b) => String(b.updated_at || '').localeCompare(String(a.updated_at || '')) || a.order_key.localeCompare(b.order_key))
    .map((o) => tableRow([
      time(o.updated_at),
      names.get(o.strategy_id) || o.strategy_id || '–',
      o.leg_no,
      instrument(o.instrument),
      { content: o.side, class: `side-${String(o.side).toLowerCase()}` },
      quantity(o.quantity),
      quantity(o.filled_quantity),
      price(o.average_price),
      { content: label(o.status), class: `status-${String(o.status).toLowerCase()}`, testid: 'order-status' },
      o.reason || '',
    ], { testid: 'order-row', 'data-order-key': o.order_key }));
  return table(['Time', 'Strategy', 'Leg', 'Contract', 'Side', 'Qty', 'Filled', 'Avg price', 'Status', 'Reason'], rows,
    { class: 'data compact', testid: 'orders-table' });
}

function brokerViewBox(view) {
  if (!view || !view.differences?.length) return null;
  return h('aside', { class: 'broker-view', testid: 'broker-view' },
    h('h4', {}, `The broker’s own view differs (${view.trade_date})`),
    table(['Contract', 'At the broker', 'Platform'], view.differences.map((d) => tableRow([
      instrument(d.instrument), quantity(d.broker_quantity), quantity(d.platform_quantity),
    ], { class: 'mismatch' })), { class: 'data compact' }));
}

export function mount(root, { api, live }) {
  let names = new Map();
  const totals = h('p', { class: 'subtitle', testid: 'positions-totals' });
  const box = h('div', { testid: 'accounts-positions' }, h('p', { class: 'loading' }, 'Loading…'));
  fill(root, h('h1', {}, 'Orders & positions'), totals, box);

  function render() {
    const sum = live.totals();
    fill(totals, 'Realised ', h('span', { class: pnlClass(sum.realised), testid: 'positions-realised' }, pnl(sum.realised)),
      ' · unrealised ', h('span', { class: pnlClass(sum.unrealised), testid: 'positions-unrealised' }, pnl(sum.unrealised)));
    const positions = byAccount(live.currentPositions());
    const allOrders = [...live.orders.values()];
    const latestDay = allOrders.reduce((day, o) => (orderDay(o) > day ? orderDay(o) : day), '');
    const orders = byAccount(allOrders.filter((o) => orderDay(o) === latestDay || !orderDay(o)));
    const accountIds = new Set([...live.accounts.keys(), ...positions.keys(), ...orders.keys()]);
    const cards = [...accountIds].sort().map((accountId) => {
      const account = live.accounts.get(accountId) || { broker_account_id: accountId, broker: '' };
      const held = positions.get(accountId) || [];
      const placed = orders.get(accountId) || [];
      const view = live.brokerViews.get(accountId);
      return h('section', { class: 'card account-card', testid: 'account-positions', 'data-account-id': accountId },
        h('h2', {}, `${account.label || label(account.broker)} `, h('small', {}, accountId)),
        h('div', { class: view?.differences?.length ? 'columns' : '' },
          h('div', {},
            h('h3', {}, 'Positions'),
            held.length ? positionsTable(held, names, live.unpriced) : h('p', { class: 'empty' }, 'No positions.'),
            h('h3', {}, 'Orders'),
            placed.length ? ordersTable(placed, names) : h('p', { class: 'empty' }, 'No orders.')),
          brokerViewBox(view)));
    });
    fill(box, cards.length ? cards : h('p', { class: 'empty' }, 'No broker accounts.'));
  }

  const stops = [Topic.POSITIONS, Topic.ORDERS, Topic.BROKER_VIEW, Topic.ACCOUNTS, Topic.LOADED].map((topic) => live.on(topic, render));
  let disposed = false;
  Promise.all([api.strategies(), live.ensureLoaded()]).then(([strategies]) => {
    if (disposed) return;
    names = new Map(strategies.map((s) => [s.strategy_id, s.name]));
    render();
  }).catch((error) => {
    if (!disposed) fill(box, h('p', { class: 'form-error', role: 'alert' }, error.message));
  });
  return () => {
    disposed = true;
    stops.forEach((stop) => stop());
  };
}
