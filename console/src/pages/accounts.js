// Broker accounts: each account's state (live from broker_account messages), its login, and the
// static IP to register at the broker when the API tells it; linking a new account.

import { field, fill, h, select, table, tableRow } from '../dom.js';
import { date, label, time } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';
import { Topic } from '../live.js';

export const title = 'Broker accounts';
const BROKERS = ['ZERODHA', 'ANGEL_ONE', 'FINVASIA', 'UPSTOX', 'DHAN', 'FYERS'];

function staticIp(account) {
  const ip = account.static_ip;
  if (ip) return h('code', { testid: 'static-ip' }, ip);
  return h('span', { class: 'hint' }, account.paper ? 'Not needed (paper)' : 'None here: orders leave from the platform');
}

function loginCell(api, live, account) {
  if (account.paper) return h('span', { class: 'hint' }, 'Paper: no login');
  const status = h('span', { role: 'status', class: 'note' });
  const needsLogin = account.state === 'NEEDS_LOGIN' || account.state === 'LINKED' || account.login_needed;
  const button = h('button', { type: 'button', class: needsLogin ? 'primary' : '', testid: 'account-login' }, 'Log in');
  button.addEventListener('click', async () => {
    button.disabled = true;
    note(status, 'Logging in…');
    try {
      const step = await api.loginAccount(account.broker_account_id);
      live.accounts.set(account.broker_account_id, { ...account, ...step.account });
      if (step.login_url) {
        fill(status, h('a', { href: step.login_url, rel: 'noreferrer', testid: 'broker-login-link' }, `Continue at ${label(account.broker)} →`));
      } else {
        note(status, `${label(step.account.state)}.`, 'ok');
      }
      live.notify(Topic.ACCOUNTS);
    } catch (error) {
      note(status, error.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'actions' }, button, status);
}

function linkForm(api, reload) {
  const broker = select(BROKERS.map((b) => [b, label(b)]), 'ZERODHA');
  const inputs = {
    label: h('input', { type: 'text', maxlength: '100' }),
    client_id: h('input', { type: 'text', required: true, autocomplete: 'off' }),
    api_key: h('input', { type: 'text', autocomplete: 'off' }),
    api_secret: h('input', { type: 'password', autocomplete: 'off' }),
    totp_secret: h('input', { type: 'password', autocomplete: 'off' }),
    pin: h('input', { type: 'password', autocomplete: 'off' }),
  };
  const status = h('p', { role: 'status', class: 'note' });
  const form = h('form', { class: 'card', testid: 'link-account-form', novalidate: true },
    h('h2', {}, 'Link a broker account'),
    h('p', { class: 'hint' }, 'Your app’s credentials go to the platform’s secret store, never back to this page.'),
    h('div', { class: 'row' },
      field('Broker', broker, 'broker'),
      field('Label', inputs.label, 'label'),
      field('Client id', inputs.client_id, 'credentials.client_id'),
      field('API key', inputs.api_key, 'credentials.api_key'),
      field('API secret', inputs.api_secret, 'credentials.api_secret'),
      field('TOTP secret', inputs.totp_secret, 'credentials.totp_secret', 'Brokers that log in by TOTP'),
      field('PIN', inputs.pin, 'credentials.pin')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Link account'), status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const credentials = { client_id: inputs.client_id.value.trim(), api_key: inputs.api_key.value, api_secret: inputs.api_secret.value };
    if (inputs.totp_secret.value) credentials.totp_secret = inputs.totp_secret.value;
    if (inputs.pin.value) credentials.pin = inputs.pin.value;
    try {
      await api.linkAccount({ broker: broker.value, label: inputs.label.value.trim(), credentials });
      form.reset();
      note(status, 'Linked: log it in below.', 'ok');
      reload();
    } catch (error) {
      showErrors(form, error);
      note(status, 'Not linked.', 'error');
    }
  });
  return form;
}

export function mount(root, { api, live }) {
  const box = h('div', { testid: 'accounts' }, h('p', { class: 'loading' }, 'Loading…'));
  const render = () => {
    const accounts = [...live.accounts.values()].sort((a, b) => a.broker_account_id.localeCompare(b.broker_account_id));
    fill(box, accounts.length
      ? table(['Account', 'Broker', 'Client id', 'State', 'Session until', 'Static IP to register', ''], accounts.map((account) => tableRow([
        h('span', {}, account.label || account.broker_account_id, h('br'), h('small', {}, account.broker_account_id)),
        label(account.broker) + (account.paper ? ' (paper)' : ''),
        account.client_id || '–',
        { content: h('span', { class: `state state-${String(account.state).toLowerCase()}` }, label(account.state)), testid: 'account-state' },
        account.session_expires_at ? `${date(account.session_expires_at)} ${time(account.session_expires_at)}` : '–',
        staticIp(account),
        loginCell(api, live, account),
      ], { testid: 'account-row', 'data-account-id': account.broker_account_id })), { class: 'data' })
      : h('p', { class: 'empty' }, 'No broker accounts: link one below.'));
  };
  const reload = () => live.reload().catch((error) => fill(box, h('p', { class: 'form-error', role: 'alert' }, error.message)));
  fill(root, h('h1', {}, 'Broker accounts'), h('section', { class: 'card' }, h('h2', {}, 'My accounts'), box), linkForm(api, reload));
  const stop = live.on(Topic.ACCOUNTS, render);
  live.ensureLoaded().then(render).catch((error) => fill(box, h('p', { class: 'form-error', role: 'alert' }, error.message)));
  return stop;
}
