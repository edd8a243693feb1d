// #/risk: the user's own portfolio rules (an MTM stop-loss, target and trailing stop across all of
// the day's strategies of every basket), saved with their version, and today's portfolio scopes
// (the user's and each basket's) that reached a trailing peak or exited
// (GET and PUT /options/risk-settings, docs/portfolio-exits.md).

import { debounce, fill, h } from '../dom.js';
import { date, time } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';
import { Topic } from '../live.js';
import { dayText, riskRulesFieldset } from '../risk-rules.js';

export const title = 'Risk';
// Peaks move with the minute's marks, which send no message: the day is read again this often.
const REFRESH_MS = 60_000;

function scopeName(state, basketNames) {
  if (!state.basket_id) return 'All strategies';
  return `Basket ${basketNames.get(state.basket_id) || state.basket_id}`;
}

export function mount(root, { api, live }) {
  let version = null;
  let disposed = false;
  let basketNames = new Map();

  const rules = riskRulesFieldset(null, {
    legend: 'Portfolio rules (₹, all my strategies)',
    hint: 'Across all of the day’s strategies of every basket: when one is hit, every strategy goes flat and enters no more that day. A basket’s own rules are set with the basket.',
    testid: 'user-risk',
  });
  const saveButton = h('button', { type: 'submit', class: 'primary', testid: 'save-risk', disabled: true }, 'Save rules');
  const status = h('p', { role: 'status', class: 'note', testid: 'risk-status' });
  const savedLine = h('p', { class: 'hint', testid: 'risk-saved' });
  const form = h('form', { class: 'card', testid: 'risk-form', novalidate: true },
    h('h2', {}, 'My portfolio rules'),
    rules.element,
    savedLine,
    h('div', { class: 'actions' }, saveButton, status));
  const todayHeading = h('h2', {}, 'Today');
  const todayBox = h('div', { testid: 'risk-today', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));

  function showSettings(settings) {
    version = settings.version;
    rules.show(settings.risk);
    savedLine.textContent = settings.updated_at
      ? `Last saved ${date(settings.updated_at)} at ${time(settings.updated_at)} IST.`
      : 'No rules saved yet.';
    saveButton.disabled = false;
  }

  function showToday(view) {
    todayHeading.textContent = `Today (${date(`${view.trade_date}T12:00:00+05:30`)})`;
    const lines = (view.today || []).filter((state) => state.peak != null || state.exit)
      .map((state) => h('li', { testid: 'risk-today-line', 'data-scope': state.basket_id || 'user' },
        h('strong', {}, `${scopeName(state, basketNames)}:`), ` ${dayText(state)}`));
    fill(todayBox, lines.length
      ? h('ul', { class: 'risk-today' }, lines)
      : h('p', { class: 'empty' }, 'No portfolio peak or exit today.'));
  }

  /** Reads the rules and the day; `withRules` false keeps what is being typed in the form. */
  async function load(withRules) {
    const [view, baskets] = await Promise.all([api.riskSettings(), api.baskets()]);
    if (disposed) return null;
    basketNames = new Map(baskets.map((basket) => [basket.basket_id, basket.name]));
    if (withRules) showSettings(view);
    showToday(view);
    return view;
  }

  const refresh = debounce(() => { load(false).catch(() => {}); }, 500);

  form.addEventListener('input', () => note(status, 'Unsaved changes.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    saveButton.disabled = true;
    note(status, 'Saving…');
    try {
      showSettings(await api.updateRiskSettings({ version, risk: rules.read() }));
      note(status, 'Saved.', 'ok');
    } catch (error) {
      if (error.status === 409) {
        await load(true).catch(() => {});
        note(status, 'Changed elsewhere meanwhile: the stored rules are shown again; make your change once more.', 'error');
        return;
      }
      const placed = showErrors(form, error);
      note(status, `Not saved${placed ? ': see the marked fields' : ''}.`, 'error');
    } finally {
      saveButton.disabled = version === null;
    }
  });

  fill(root,
    h('h1', {}, 'Risk'),
    h('p', { class: 'subtitle' }, 'Portfolio exits: limits on the day’s MTM of all your strategies together.'),
    h('div', { class: 'columns' }, form, h('section', { class: 'card' }, todayHeading, todayBox)));

  load(true).catch((error) => {
    if (disposed) return;
    fill(todayBox, h('p', { class: 'form-error', role: 'alert' }, error.message));
    note(status, 'The rules could not be read.', 'error');
  });
  const stopExits = live.on(Topic.RISK_EXIT, refresh);
  const timer = setInterval(refresh, REFRESH_MS);
  return () => {
    disposed = true;
    refresh.cancel();
    stopExits();
    clearInterval(timer);
  };
}
