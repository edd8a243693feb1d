// What the console knows of the user's trading right now: positions, orders, executions, the
// kill switch, the brokers' own views and the accounts. Loaded once over REST, then kept up to
// date by the feed (each message a snapshot, upserted by its key), reloaded after a reconnect.
// Pages read it and subscribe to its changes; it outlives page changes.

import { istDate, toNumber } from './format.js';

export const Topic = Object.freeze({
  POSITIONS: 'positions',
  ORDERS: 'orders',
  EXECUTIONS: 'executions',
  KILL_SWITCH: 'kill_switch',
  BROKER_VIEW: 'broker_view',
  ACCOUNTS: 'accounts',
  RISK_EXIT: 'risk_exit',
  LOADED: 'loaded',
});

function executionKey(record) {
  return `${record.trade_date}#${record.strategy_id}#${record.action}#${record.run_name || ''}`;
}

/** An order from an execution record's outcome or from the feed's ledger entry, one shape. */
function orderFrom(entry, context = {}) {
  return {
    order_key: entry.order_key,
    strategy_id: entry.strategy_id ?? context.strategy_id,
    broker_account_id: entry.broker_account_id ?? context.broker_account_id,
    broker: entry.broker ?? context.broker,
    leg_no: entry.leg_no,
    slice_no: entry.slice_no,
    instrument: entry.instrument_key ?? entry.instrument,
    side: entry.side,
    quantity: entry.quantity,
    filled_quantity: entry.filled_quantity ?? 0,
    average_price: entry.average_price ?? null,
    status: entry.status ?? 'NOT_ATTEMPTED',
    reason: entry.reason ?? null,
    updated_at: entry.updated_at ?? context.updated_at ?? null,
  };
}

function newer(candidate, current) {
  if (!current || !current.updated_at || !candidate.updated_at) return true;
  return Date.parse(candidate.updated_at) >= Date.parse(current.updated_at);
}

export class Live {
  constructor(routes, feed, clock = null) {
    this.routes = routes;
    this.feed = feed;
    this.clock = clock;
    this.listeners = new Map();
    this.positions = new Map();
    this.orders = new Map();
    this.executions = new Map();
    this.brokerViews = new Map();
    this.accounts = new Map();
    this.killSwitch = null;
    this.unpriced = new Set();
    this.riskExits = [];
    this.loaded = null;
    this.touched = null; // keys the feed updated while a load was in flight
    this.bindFeed();
  }

  on(topic, listener) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(listener);
    return () => this.listeners.get(topic)?.delete(listener);
  }

  notify(topic) {
    for (const listener of [...(this.listeners.get(topic) || [])]) listener(this);
  }

  /** The platform's current trade date (IST). */
  tradeDate() {
    return istDate(this.now());
  }

  /** The platform's clock: where config.json said it stood, run on at its speed (the local
   * platform's replayed or accelerated sessions); else this machine's clock. */
  now() {
    if (!this.clock) return new Date();
    const elapsed = (Date.now() - this.clock.readAt) * (this.clock.speed || 1);
    return new Date(Date.parse(this.clock.now) + elapsed);
  }

  ensureLoaded() {
    if (!this.loaded) this.loaded = this.load();
    return this.loaded;
  }

  reload() {
    this.loaded = this.load();
    return this.loaded;
  }

  async load() {
    this.touched = new Set();
    const [positions, records, killSwitch, accounts] = await Promise.all([
      this.routes.positions(false),
      this.routes.executions(),
      this.routes.killSwitch(),
      this.routes.accounts(),
    ]);
    const touched = this.touched;
    this.touched = null;
    const keep = (map, key) => touched.has(key) && map.has(key);
    const positionMap = new Map([...this.positions].filter(([key]) => keep(this.positions, key)));
    for (const position of positions?.positions || []) {
      if (!positionMap.has(position.position_sk)) positionMap.set(position.position_sk, position);
    }
    this.positions = positionMap;
    for (const record of records) this.upsertExecution(record);
    for (const record of records) {
      for (const broker of record.brokers || []) {
        for (const outcome of broker.orders || []) {
          const order = orderFrom(outcome, { ...broker, strategy_id: record.strategy_id, updated_at: record.updated_at });
          if (!touched.has(order.order_key) && newer(order, this.orders.get(order.order_key))) {
            this.orders.set(order.order_key, order);
          }
        }
      }
    }
    if (!touched.has('kill_switch')) this.killSwitch = killSwitch;
    this.accounts = new Map(accounts.map((account) => [account.broker_account_id, account]));
    for (const topic of [Topic.POSITIONS, Topic.ORDERS, Topic.EXECUTIONS, Topic.KILL_SWITCH, Topic.ACCOUNTS, Topic.LOADED]) {
      this.notify(topic);
    }
  }

  touch(key) {
    if (this.touched) this.touched.add(key);
  }

  upsertExecution(record) {
    const key = executionKey(record);
    const current = this.executions.get(key);
    if (newer(record, current)) this.executions.set(key, { ...current, ...record });
  }

  bindFeed() {
    const feed = this.feed;
    feed.on('position', (position) => {
      this.touch(position.position_sk);
      this.positions.set(position.position_sk, position);
      this.notify(Topic.POSITIONS);
    });
    feed.on('marks', (marks) => {
      // Replaces the marks of every open position (a position it omits keeps its last mark).
      for (const position of marks.positions || []) {
        this.touch(position.position_sk);
        this.positions.set(position.position_sk, position);
      }
      this.unpriced = new Set(marks.unpriced || []);
      this.notify(Topic.POSITIONS);
    });
    feed.on('order', (entry) => {
      const order = orderFrom(entry);
      this.touch(order.order_key);
      if (newer(order, this.orders.get(order.order_key))) this.orders.set(order.order_key, order);
      this.notify(Topic.ORDERS);
    });
    feed.on('execution', (update) => {
      this.upsertExecution(update);
      this.notify(Topic.EXECUTIONS);
    });
    feed.on('risk_exit', (exit) => {
      this.riskExits = [exit, ...this.riskExits].slice(0, 20);
      this.notify(Topic.RISK_EXIT);
    });
    feed.on('kill_switch', (view) => {
      this.touch('kill_switch');
      const current = this.killSwitch || {};
      // scope USER: the user's own switch; GLOBAL: the platform-wide one.
      this.killSwitch = view.scope === 'USER'
        ? { ...current, switch: view }
        : { ...current, global_switch: view };
      this.notify(Topic.KILL_SWITCH);
    });
    feed.on('broker_view', (view) => {
      this.brokerViews.set(view.broker_account_id, view);
      this.notify(Topic.BROKER_VIEW);
    });
    feed.on('broker_account', (update) => {
      const current = this.accounts.get(update.broker_account_id) || {};
      this.accounts.set(update.broker_account_id, { ...current, ...update });
      this.notify(Topic.ACCOUNTS);
    });
    feed.on('resync', () => {
      this.reload().catch(() => {});
    });
  }

  /** Open positions and those closed in the latest session: what a trader looks at today. */
  currentPositions() {
    const all = [...this.positions.values()];
    const latest = all.reduce((day, p) => (p.entry_date > day ? p.entry_date : day), '');
    return all.filter((p) => p.net_quantity !== 0 || p.entry_date === latest);
  }

  /** Realised and unrealised P&L of the current positions. */
  totals() {
    let realised = 0;
    let unrealised = 0;
    for (const position of this.currentPositions()) {
      realised += toNumber(position.realised_pnl) || 0;
      if (position.net_quantity !== 0) unrealised += toNumber(position.unrealised_pnl) || 0;
    }
    return { realised, unrealised, total: realised + unrealised };
  }

  /** The trade date's executions of a strategy: {ENTRY: record, EXIT: record}. */
  executionsOf(strategyId, tradeDate = this.tradeDate()) {
    const found = {};
    for (const record of this.executions.values()) {
      if (record.strategy_id !== strategyId || record.trade_date !== tradeDate) continue;
      const current = found[record.action];
      if (!current || Date.parse(record.started_at) >= Date.parse(current.started_at)) found[record.action] = record;
    }
    return found;
  }

  /** Is the user's trading stopped (their switch or the platform-wide one)? */
  killSwitchTriggered() {
    const k = this.killSwitch;
    return k?.switch?.state === 'TRIGGERED' || k?.global_switch?.state === 'TRIGGERED';
  }
}
