// The Settings page's signal webhooks (docs/signals.md): a form to create one for a strategy and
// an action, the URL shown once after a create or a rotation (it is stored hashed and can never
// be read again), the list with Rotate and Delete, and each webhook's recent signals with what
// they caused (POST, GET, DELETE /options/webhooks, .../rotate, .../signals).

import { field, fill, h, select, table, tableRow } from './dom.js';
import { date, label, time } from './format.js';
import { clearErrors, note, showErrors } from './forms.js';

const ACTIONS = [['ENTER', 'Enter (every leg)'], ['EXIT', 'Exit (every open position)'], ['EXIT_LEG', 'Exit one leg']];
const FORMATS = [['TRADINGVIEW', 'TradingView'], ['CHARTINK', 'Chartink']];
const MAX_LEG_NO = 6;
// Fields a model-level refusal (`details[].field` "body") may name in its words.
const BODY_FIELDS = ['leg_no', 'shared_secret', 'secret_field', 'signal_id_field', 'match'];

function when(iso) {
  return iso ? `${date(iso)} ${time(iso)}` : '–';
}

/** A refusal of the whole body that names one field (`secret_field needs a shared_secret`) goes beside it. */
function placed(error) {
  for (const detail of error.details || []) {
    if (detail.field !== 'body') continue;
    const named = BODY_FIELDS.find((name) => new RegExp(`\\b${name}\\b`).test(detail.issue));
    if (named) detail.field = named;
  }
  return error;
}

/** `action=buy, ticker=NIFTY` -> {action: 'buy', ticker: 'NIFTY'}; a pair without `=` keeps an empty value for the API to refuse. */
function parseMatch(text) {
  const match = {};
  for (const pair of text.split(',').map((each) => each.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    match[(at < 0 ? pair : pair.slice(0, at)).trim()] = at < 0 ? '' : pair.slice(at + 1).trim();
  }
  return match;
}

function urlOf(config, urlPath) {
  const base = String(config.api_base_url || location.origin).replace(/\/+$/, '');
  return `${base}${urlPath}`;
}

function statusCell(record) {
  return h('span', { class: `state state-signal-${record.status.toLowerCase()}` }, label(record.status));
}

function signalsTable(records) {
  if (!records.length) return h('p', { class: 'empty' }, 'No signal received yet.');
  return table(['Received', 'Status', 'Answer', 'Reason', 'Run', 'Fields'], records.map((record) => tableRow([
    when(record.received_at),
    { content: statusCell(record), testid: 'signal-status' },
    `${record.http_status} ${record.code}`,
    { content: record.reason || '–', testid: 'signal-reason' },
    { content: record.run_name ? h('code', {}, record.run_name) : '–', testid: 'signal-run' },
    Object.entries(record.summary || {}).map(([name, value]) => `${name}=${value}`).join(', ') || '–',
  ], { testid: 'signal-row', 'data-signal-id': record.signal_id })), { class: 'data compact' });
}

export function webhooksSection({ api, config }, { onDispose }) {
  let disposed = false;
  let strategies = [];
  onDispose(() => { disposed = true; });

  // The URL, shown once.
  const onceUrl = h('input', { type: 'text', readonly: true, class: 'url-once', testid: 'webhook-url', 'aria-label': 'The webhook’s URL' });
  const copyStatus = h('span', { role: 'status', class: 'note' });
  const onceBox = h('div', { class: 'url-box', role: 'region', 'aria-label': 'The new URL', testid: 'webhook-url-once', hidden: true },
    h('p', {}, h('strong', {}, 'Copy this URL now: it will not be shown again. '),
      'Paste it in the alert’s webhook setting; rotate the webhook to get a new one.'),
    h('div', { class: 'actions' }, onceUrl,
      h('button', { type: 'button', testid: 'copy-webhook-url', onClick: () => copy() }, 'Copy'),
      h('button', { type: 'button', class: 'link', onClick: () => { onceBox.hidden = true; onceUrl.value = ''; } }, 'Done'),
      copyStatus));

  async function copy() {
    onceUrl.select();
    try {
      await navigator.clipboard.writeText(onceUrl.value);
      note(copyStatus, 'Copied.', 'ok');
    } catch {
      note(copyStatus, 'Selected: copy it with Ctrl+C (⌘C).', 'warn');
    }
  }

  function showOnce(hook) {
    onceUrl.value = urlOf(config, hook.url_path);
    onceBox.hidden = false;
    note(copyStatus, '');
    onceUrl.focus();
    onceUrl.select();
  }

  // The create form.
  const strategy = select([], '', { testid: 'webhook-strategy', required: true });
  const action = select(ACTIONS, 'ENTER', { testid: 'webhook-action' });
  const legNo = h('input', { type: 'number', min: '1', max: String(MAX_LEG_NO), step: '1', testid: 'webhook-leg' });
  const legField = field('Leg', legNo, 'leg_no', `1-${MAX_LEG_NO}, as the strategy numbers them`);
  const format = select(FORMATS, 'TRADINGVIEW', { testid: 'webhook-format' });
  const hookLabel = h('input', { type: 'text', maxlength: '100', testid: 'webhook-label' });
  const secret = h('input', { type: 'password', autocomplete: 'new-password', testid: 'webhook-secret' });
  const secretField = h('input', { type: 'text', autocomplete: 'off', testid: 'webhook-secret-field', placeholder: 'secret' });
  const idField = h('input', { type: 'text', autocomplete: 'off', testid: 'webhook-id-field', placeholder: 'id' });
  const match = h('input', { type: 'text', autocomplete: 'off', testid: 'webhook-match', placeholder: 'action=buy' });
  const rate = h('input', { type: 'number', min: '1', max: '60', step: '1', value: '6', testid: 'webhook-rate' });
  const createStatus = h('p', { role: 'status', class: 'note', testid: 'webhook-form-status' });
  const createButton = h('button', { type: 'submit', class: 'primary', testid: 'create-webhook' }, 'Create webhook');
  const showLeg = () => { legField.hidden = action.value !== 'EXIT_LEG'; };
  action.addEventListener('change', showLeg);
  showLeg();

  const form = h('form', { testid: 'webhook-form', novalidate: true },
    h('fieldset', {},
      h('legend', {}, 'What a signal does'),
      h('div', { class: 'row' },
        field('Strategy', strategy, 'strategy_id'),
        field('Action', action, 'action'),
        legField,
        field('Sent by', format, 'format'),
        field('Label', hookLabel, 'label', 'Your name for it, e.g. the alert’s'))),
    h('fieldset', {},
      h('legend', {}, 'What the body must carry (optional)'),
      h('div', { class: 'row' },
        field('Shared secret', secret, 'shared_secret', '8-128 characters, stored hashed'),
        field('Secret field', secretField, 'secret_field', 'Default secret (Chartink: alert_name)'),
        field('Signal id field', idField, 'signal_id_field', 'Without one: the body’s hash'),
        field('Match', match, 'match', 'field=value, comma separated'),
        field('Requests a minute', rate, 'rate_limit_per_minute'))),
    h('div', { class: 'actions' }, createButton, createStatus));

  function read() {
    const body = { strategy_id: strategy.value, action: action.value, format: format.value };
    if (action.value === 'EXIT_LEG') body.leg_no = legNo.value === '' ? null : Number(legNo.value);
    const optional = { label: hookLabel.value.trim(), shared_secret: secret.value, secret_field: secretField.value.trim(), signal_id_field: idField.value.trim() };
    for (const [name, value] of Object.entries(optional)) if (value) body[name] = value;
    if (match.value.trim()) body.match = parseMatch(match.value);
    if (rate.value !== '') body.rate_limit_per_minute = Number(rate.value);
    return body;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    createButton.disabled = true;
    note(createStatus, 'Creating…');
    try {
      const hook = await api.createWebhook(read());
      showOnce(hook);
      secret.value = '';
      note(createStatus, 'Created.', 'ok');
      await reload();
    } catch (error) {
      const count = showErrors(form, placed(error));
      note(createStatus, `Not created${count ? ': see the marked fields' : ''}.`, 'error');
    } finally {
      createButton.disabled = false;
    }
  });

  // The list.
  const listBox = h('div', { testid: 'webhooks', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  const listStatus = h('p', { role: 'status', class: 'note', testid: 'webhooks-status' });

  function strategyName(id) {
    return strategies.find((each) => each.strategy_id === id)?.name || id;
  }

  function signalsPanel(hook, toggle, row) {
    const body = h('div', { testid: 'webhook-signals' }, h('p', { class: 'loading' }, 'Loading…'));
    const refresh = h('button', { type: 'button', class: 'link', testid: 'refresh-signals' }, 'Refresh');
    const panel = h('tr', { class: 'signals-row', id: `signals-${hook.webhook_id}` },
      h('td', { colspan: '7' }, h('div', { class: 'actions' }, h('strong', {}, 'Recent signals, newest first'), refresh), body));
    const load = async () => {
      try {
        const page = await api.webhookSignals(hook.webhook_id);
        if (!disposed) fill(body, signalsTable(page?.items || []));
      } catch (error) {
        fill(body, h('p', { class: 'form-error', role: 'alert' }, error.message));
      }
    };
    refresh.addEventListener('click', load);
    toggle.setAttribute('aria-controls', panel.id);
    row.after(panel);
    load();
    return panel;
  }

  function hookRow(hook) {
    const toggle = h('button', { type: 'button', 'aria-expanded': 'false', testid: 'toggle-signals' }, 'Signals');
    const rotate = h('button', { type: 'button', testid: 'rotate-webhook' }, 'Rotate URL');
    const remove = h('button', { type: 'button', class: 'danger link', testid: 'delete-webhook' }, 'Delete');
    const row = tableRow([
      h('span', {}, hook.label || strategyName(hook.strategy_id), h('br'), h('small', {}, strategyName(hook.strategy_id))),
      label(hook.action) + (hook.leg_no ? ` (leg ${hook.leg_no})` : ''),
      FORMATS.find(([value]) => value === hook.format)?.[1] || hook.format,
      hook.secret_set ? `Yes (in ${hook.secret_field || 'secret'})` : 'No',
      h('code', {}, `…${hook.token_hint}`),
      hook.rotated_at ? `Rotated ${when(hook.rotated_at)}` : `Created ${when(hook.created_at)}`,
      h('div', { class: 'actions' }, toggle, rotate, remove),
    ], { testid: 'webhook-row', 'data-webhook-id': hook.webhook_id });
    let panel = null;
    toggle.addEventListener('click', () => {
      if (panel) {
        panel.remove();
        panel = null;
        toggle.setAttribute('aria-expanded', 'false');
        return;
      }
      panel = signalsPanel(hook, toggle, row);
      toggle.setAttribute('aria-expanded', 'true');
    });
    rotate.addEventListener('click', async () => {
      if (!confirm('Give this webhook a new URL? The current one stops working at once.')) return;
      try {
        showOnce(await api.rotateWebhook(hook.webhook_id));
        note(listStatus, 'Rotated: the old URL answers 404 now.', 'ok');
        await reload();
      } catch (error) {
        note(listStatus, error.message, 'error');
      }
    });
    remove.addEventListener('click', async () => {
      if (!confirm('Delete this webhook? Its URL answers 404 from now on.')) return;
      try {
        await api.deleteWebhook(hook.webhook_id);
        note(listStatus, 'Deleted.', 'ok');
        await reload();
      } catch (error) {
        note(listStatus, error.message, 'error');
      }
    });
    return row;
  }

  async function reload() {
    const hooks = await api.webhooks();
    if (disposed) return;
    fill(listBox, hooks.length
      ? table(['Webhook', 'Action', 'Sent by', 'Secret', 'URL ends', 'URL since', ''], hooks.map(hookRow), { class: 'data' })
      : h('p', { class: 'empty' }, 'No webhooks yet.'));
  }

  async function start() {
    strategies = await api.strategies();
    if (disposed) return;
    fill(strategy, strategies.length ? null : h('option', { value: '' }, 'No strategy yet'),
      strategies.map((each) => h('option', { value: each.strategy_id }, `${each.name} (${each.underlying})`)));
    await reload();
  }
  start().catch((error) => {
    if (!disposed) fill(listBox, h('p', { class: 'form-error', role: 'alert' }, error.message));
  });

  return h('section', { class: 'card', testid: 'webhooks-section', 'aria-labelledby': 'webhooks-heading' },
    h('h2', { id: 'webhooks-heading' }, 'Signal webhooks'),
    h('p', { class: 'hint' }, 'A URL a chart alert (TradingView, Chartink) calls to enter or exit one of your strategies, through the same path as its schedule.'),
    onceBox,
    h('h3', {}, 'New webhook'),
    form,
    h('h3', {}, 'My webhooks'),
    listBox,
    listStatus);
}
