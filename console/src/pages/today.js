// Today: the portfolio's P&L live, each strategy's state (waiting, entered, exited, not entered
// and why), the next scheduled entries and exits, and the kill switch (with a confirmation).

import { debounce, fill, h, table, tableRow } from '../dom.js';
import { date, label, pnl, pnlClass, quantity, time } from '../format.js';
import { showErrors } from '../forms.js';
import { Topic } from '../live.js';
import { todaysTimes, upcoming } from '../schedule.js';

export const title = 'Today';
const PROGRESS_POLL_MS = 2000;

/** A strategy's state on the trade date: {key, text, reason}. */
export function strategyState(strategy, runs, now) {
  const { ENTRY: entry, EXIT: exit } = runs;
  if (exit) {
    if (exit.status === 'COMPLETE') return { key: 'exited', text: 'Exited', reason: exit.exit_reason ? label(exit.exit_reason) : '' };
    return { key: 'exiting', text: `Exit ${label(exit.status)}`, reason: exit.reason || '' };
  }
  if (entry) {
    if (entry.status === 'COMPLETE') return { key: 'entered', text: 'Entered', reason: '' };
    if (entry.status === 'PARTIAL') return { key: 'entered', text: 'Entered (partly)', reason: entry.reason || '' };
    return { key: 'not-entered', text: 'Not entered', reason: entry.reason || label(entry.status) };
  }
  if (strategy.status !== 'ACTIVE') return { key: 'paused', text: 'Paused', reason: '' };
  const { entry: entryAt } = todaysTimes(strategy, now);
  if (!entryAt) return { key: 'idle', text: 'No entry today', reason: '' };
  if (entryAt > now) return { key: 'waiting', text: `Waiting for ${strategy.entry.time}`, reason: '' };
  return { key: 'waiting', text: 'Entry due', reason: '' };
}

function sortByEntry(strategies) {
  return [...strategies].sort((a, b) => (a.entry?.time || '').localeCompare(b.entry?.time || '') || a.name.localeCompare(b.name));
}

function figure(name, testid) {
  const value = h('output', { class: 'figure-value', testid }, '–');
  return { value, element: h('div', { class: 'figure' }, h('p', { class: 'figure-name' }, name), value) };
}

export function mount(root, { api, live }) {
  let strategies = [];
  let basketNames = new Map();
  let pollTimer = null;
  let disposed = false;

  const total = figure('P&L today', 'pnl-total');
  const realised = figure('Realised', 'pnl-realised');
  const unrealised = figure('Unrealised', 'pnl-unrealised');
  const openCount = figure('Open positions', 'open-positions-count');
  const dayLine = h('p', { class: 'subtitle', testid: 'trade-date' });
  const strategiesBox = h('div', { testid: 'strategies-today' }, h('p', { class: 'loading' }, 'Loading…'));
  const upcomingBox = h('div', { testid: 'upcoming' });
  const riskBox = h('div', { testid: 'risk-exits' });

  const switchState = h('p', { class: 'kill-state', testid: 'kill-switch-state' }, '–');
  const switchProgress = h('p', { class: 'kill-progress', testid: 'kill-switch-progress', role: 'status' });
  const pressButton = h('button', { type: 'button', class: 'danger', testid: 'kill-switch-press' }, 'Kill switch: stop trading');
  const rearmButton = h('button', { type: 'button', testid: 'kill-switch-rearm', hidden: true }, 'Re-arm trading');
  const switchForm = h('form', { class: 'kill-form' }, switchState, switchProgress, h('div', { class: 'actions' }, pressButton, rearmButton));
  const confirmButton = h('button', { type: 'submit', value: 'confirm', class: 'danger', testid: 'kill-switch-confirm' }, 'Yes, square off everything');
  const dialog = h('dialog', { class: 'confirm', testid: 'kill-switch-dialog', 'aria-labelledby': 'kill-dialog-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'kill-dialog-title' }, 'Stop all trading?'),
      h('p', {}, 'Every open position is squared off at once and every strategy is paused. No entry is placed until you re-arm.'),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', value: 'cancel', testid: 'kill-switch-cancel' }, 'Cancel'),
        confirmButton)));

  function renderPnl() {
    const totals = live.totals();
    for (const [box, value] of [[total, totals.total], [realised, totals.realised], [unrealised, totals.unrealised]]) {
      box.value.textContent = pnl(value);
      box.value.className = `figure-value ${pnlClass(value)}`;
    }
    const open = live.currentPositions().filter((p) => p.net_quantity !== 0).length;
    openCount.value.textContent = quantity(open);
  }

  function renderSwitch() {
    const k = live.killSwitch;
    const mine = k?.switch;
    const global = k?.global_switch;
    const triggered = live.killSwitchTriggered();
    switchState.dataset.state = triggered ? 'TRIGGERED' : 'ARMED';
    if (mine?.state === 'TRIGGERED') switchState.textContent = `Stopped: kill switch pressed at ${time(mine.triggered_at)}`;
    else if (global?.state === 'TRIGGERED') switchState.textContent = `Stopped platform-wide at ${time(global.triggered_at)}`;
    else switchState.textContent = 'Trading: the kill switch is armed';
    switchState.className = `kill-state ${triggered ? 'stopped' : 'armed'}`;
    pressButton.hidden = mine?.state === 'TRIGGERED';
    rearmButton.hidden = mine?.state !== 'TRIGGERED';
    const operation = k?.operation;
    if (operation && mine?.state === 'TRIGGERED') {
      switchProgress.textContent = operation.flat
        ? `Square-off done: ${quantity(operation.orders_sent)} orders sent, everything flat.`
        : `Squaring off: ${quantity(operation.orders_sent)} orders sent, ${operation.positions_left ?? '?'} positions left…`;
    } else {
      switchProgress.textContent = '';
    }
  }

  function renderStrategies() {
    const now = live.now();
    dayLine.textContent = `Trade date ${date(now)} · platform time ${time(now)} IST`;
    if (!strategies.length) {
      fill(strategiesBox, h('p', { class: 'empty' }, 'No strategies yet: create one under ', h('a', { href: '#/baskets' }, 'Baskets'), '.'));
    } else {
      const rows = strategies.map((strategy) => {
        const runs = live.executionsOf(strategy.strategy_id);
        const state = strategyState(strategy, runs, now);
        return tableRow([
          strategy.name,
          basketNames.get(strategy.basket_id) || '–',
          strategy.underlying,
          strategy.entry?.time || '–',
          strategy.exit?.time || '–',
          { content: h('span', { class: `state state-${state.key}` }, state.text), testid: 'strategy-state' },
          { content: state.reason, testid: 'strategy-reason' },
        ], { 'data-strategy-id': strategy.strategy_id, 'data-state': state.key, testid: 'strategy-row' });
      });
      fill(strategiesBox, table(['Strategy', 'Basket', 'Index', 'Entry', 'Exit', 'State', 'Reason'], rows, { class: 'data' }));
    }
    const entered = new Set(strategies
      .filter((s) => { const runs = live.executionsOf(s.strategy_id); return runs.ENTRY && !runs.EXIT && runs.ENTRY.status !== 'NOT_ENTERED'; })
      .map((s) => s.strategy_id));
    const events = upcoming(strategies, now, entered);
    fill(upcomingBox, events.length
      ? h('ol', { class: 'upcoming' }, events.map((event) => h('li', {},
        h('span', { class: `action action-${event.action.toLowerCase()}` }, event.action === 'ENTRY' ? 'Entry' : 'Exit'),
        ' ', event.strategy.name, ' · ',
        event.at ? `${date(event.at)} ${time(event.at).slice(0, 5)} IST` : event.note)))
      : h('p', { class: 'empty' }, 'Nothing scheduled.'));
  }

  function renderRisk() {
    fill(riskBox, live.riskExits.length
      ? h('ul', {}, live.riskExits.map((exit) => h('li', {}, `${time(exit.started_at)} ${label(exit.exit_reason)}: `,
        strategies.find((s) => s.strategy_id === exit.strategy_id)?.name || exit.strategy_id)))
      : null);
  }

  async function refreshSwitch() {
    try {
      live.killSwitch = await api.killSwitch();
      live.notify(Topic.KILL_SWITCH);
    } catch {
      // shown on the next successful call
    }
  }

  function pollProgress() {
    clearTimeout(pollTimer);
    const operation = live.killSwitch?.operation;
    if (disposed || !operation || operation.flat || live.killSwitch?.switch?.state !== 'TRIGGERED') return;
    pollTimer = setTimeout(async () => {
      await refreshSwitch();
      pollProgress();
    }, PROGRESS_POLL_MS);
  }

  pressButton.addEventListener('click', () => dialog.showModal());
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'confirm') return;
    pressButton.disabled = true;
    try {
      const report = await api.pressKillSwitch();
      live.killSwitch = { ...(live.killSwitch || {}), switch: report.switch, operation: report.operation };
      if (report.global_switch) live.killSwitch.global_switch = report.global_switch;
      live.notify(Topic.KILL_SWITCH);
      pollProgress();
    } catch (error) {
      showErrors(switchForm, error);
    } finally {
      pressButton.disabled = false;
    }
  });
  rearmButton.addEventListener('click', async () => {
    rearmButton.disabled = true;
    try {
      await api.rearmKillSwitch();
      await refreshSwitch();
    } catch (error) {
      showErrors(switchForm, error);
    } finally {
      rearmButton.disabled = false;
    }
  });

  fill(root,
    h('h1', {}, 'Today'),
    dayLine,
    h('section', { class: 'figures', 'aria-label': 'P&L' }, total.element, realised.element, unrealised.element, openCount.element),
    h('div', { class: 'columns' },
      h('section', { class: 'card' }, h('h2', {}, 'Strategies today'), strategiesBox),
      h('section', { class: 'card side' },
        h('h2', {}, 'Kill switch'), switchForm, dialog,
        h('h2', {}, 'Next entries and exits'), upcomingBox,
        h('h2', {}, 'Risk exits'), riskBox)));

  const stops = [
    live.on(Topic.POSITIONS, renderPnl),
    live.on(Topic.LOADED, () => { renderPnl(); renderStrategies(); renderSwitch(); }),
    live.on(Topic.EXECUTIONS, renderStrategies),
    live.on(Topic.KILL_SWITCH, () => { renderSwitch(); pollProgress(); refreshStrategies(); }),
    live.on(Topic.RISK_EXIT, renderRisk),
  ];
  const clockTimer = setInterval(renderStrategies, 15000);

  // The kill switch pauses every strategy: their schedules are read again when it changes.
  const refreshStrategies = debounce(() => {
    api.strategies().then((list) => {
      if (disposed) return;
      strategies = sortByEntry(list);
      renderStrategies();
    }).catch(() => {});
  }, 500);

  Promise.all([api.strategies(), api.baskets(), live.ensureLoaded()])
    .then(([strategyList, basketList]) => {
      if (disposed) return;
      strategies = sortByEntry(strategyList);
      basketNames = new Map(basketList.map((b) => [b.basket_id, b.name]));
      renderPnl();
      renderSwitch();
      renderStrategies();
      renderRisk();
      pollProgress();
    })
    .catch((error) => {
      if (!disposed) fill(strategiesBox, h('p', { class: 'form-error', role: 'alert' }, error.message));
    });

  return () => {
    disposed = true;
    clearTimeout(pollTimer);
    clearInterval(clockTimer);
    refreshStrategies.cancel();
    stops.forEach((stop) => stop());
    if (dialog.open) dialog.close();
  };
}
